/**
 * A disk that stops taking writes, for real (as root): reports get 503 + Retry-After, /readyz
 * says why, and every report acknowledged before is still there afterwards.
 *
 * Read-only: chmod does not stop root, and `mount -o remount,ro` refuses while SQLite holds
 * files open for writing. What does happen on a Pi is the kernel forcing the filesystem
 * read-only after an I/O error (ext4 errors=remount-ro); ext4's trigger_fs_error makes exactly
 * that happen on a loop device. Disk full: a size-limited tmpfs filled up.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { openStore } from "../src/server/store/index.ts";
import { TEST_POSTGRES } from "./helpers/postgres.ts";
import { type Credentials, sampleReport, signedPost } from "./helpers/report.ts";
import { startTestServer, tempDir } from "./helpers/server.ts";

const sh = (...cmd: string[]) => {
  const r = Bun.spawnSync(cmd, { stderr: "pipe", stdout: "pipe" });
  return { ok: r.exitCode === 0, out: `${r.stdout}${r.stderr}` };
};

/** Why these tests cannot run here, or null. */
function unsupported(): string | null {
  if (TEST_POSTGRES)
    return "SQLite only: on PostgreSQL the data dir's disk holds no database (test/postgres-engine.test.ts covers an outage)";
  if (process.getuid?.() !== 0) return "needs root (mount, losetup)";
  for (const tool of ["mount", "umount", "mkfs.ext4", "losetup"])
    if (!Bun.which(tool)) return `needs ${tool}`;
  const probe = tempDir("sentinel-mount-probe-");
  const r = sh("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe.path);
  if (r.ok) sh("umount", probe.path);
  probe.remove();
  return r.ok ? null : `cannot mount here (${r.out.trim()})`;
}
const why = unsupported();
if (why) console.warn(`SKIP backup-storage.test.ts: ${why}`);

const reportFrom = (n: number) => {
  const ip = `198.51.100.${n}`;
  return JSON.stringify(
    sampleReport({
      ipv4: { ip, consistent: true, answers: [{ provider: "http://e", ip, latency_ms: 1, error: null }] },
    }),
  );
};

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

async function enroll(dataDir: string): Promise<Credentials> {
  const store = await openStore({ dataDir: dataDir });
  const e = await enrollClient(store, loadKeyring(dataDir), "pi", "http://x", Date.now());
  await store.close();
  return { id: e.id, secret: e.secret };
}

/** Exit addresses the history holds for the client: one row per accepted change. */
async function storedExits(dataDir: string, clientId: string): Promise<string[]> {
  const store = await openStore({ dataDir: dataDir });
  const rows = await store.history.range(clientId, 0, Date.now() + 1000);
  await store.close();
  return rows.map((r) => r.exitIpv4).filter((x): x is string => x !== null);
}

async function expectUnavailable(url: string, cred: Credentials, n: number) {
  const res = await fetch(signedPost(url, cred, reportFrom(n)));
  expect(res.status).toBe(503);
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe("storage_unavailable");
  const ready = await fetch(`${url}/readyz`);
  expect(ready.status).toBe(503);
  expect(((await ready.json()) as { reason: string }).reason).toContain("not writable");
}

describe.skipIf(why !== null)("storage failures", () => {
  test("the kernel remounts the data dir read-only: 503 + Retry-After, /readyz says why, nothing acknowledged is lost", async () => {
    const work = tempDir("sentinel-ro-");
    cleanups.push(() => work.remove());
    const image = join(work.path, "disk.img");
    const mnt = join(work.path, "mnt");
    mkdirSync(mnt);
    expect(sh("truncate", "-s", "32M", image).ok).toBe(true);
    expect(sh("mkfs.ext4", "-q", image).ok).toBe(true);
    const mounted = sh("mount", "-o", "loop,errors=remount-ro", image, mnt);
    expect(mounted.ok, mounted.out).toBe(true);
    cleanups.push(() => {
      sh("umount", mnt);
    });
    const dev = sh("findmnt", "-no", "SOURCE", mnt).out.trim().split("/").pop() as string;

    const dataDir = join(mnt, "data");
    const cred = await enroll(dataDir);
    const server = await startTestServer({ dataDir });
    const acknowledged: string[] = [];
    for (let n = 1; n <= 20; n++) {
      expect((await fetch(signedPost(server.url, cred, reportFrom(n)))).status).toBe(202);
      acknowledged.push(`198.51.100.${n}`);
    }

    writeFileSync(`/sys/fs/ext4/${dev}/trigger_fs_error`, "sentinel test\n");
    expect(sh("findmnt", "-no", "OPTIONS", mnt).out).toMatch(/(^|,)ro(,|$)|emergency_ro/);
    await expectUnavailable(server.url, cred, 99);
    await server.stop().catch(() => {});

    expect(sh("umount", mnt).ok).toBe(true);
    sh("e2fsck", "-fy", image);
    expect(sh("mount", "-o", "loop", image, mnt).ok).toBe(true);
    expect(await storedExits(dataDir, cred.id)).toEqual(acknowledged);
  });

  test("the disk is full: 503 + Retry-After until space is freed, then reports are accepted again", async () => {
    const mnt = tempDir("sentinel-full-");
    cleanups.push(() => mnt.remove());
    const m = sh("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt.path);
    expect(m.ok, m.out).toBe(true);
    cleanups.push(() => {
      sh("umount", mnt.path);
    });
    const dataDir = join(mnt.path, "data");
    const cred = await enroll(dataDir);
    const server = await startTestServer({ dataDir });
    cleanups.push(() => void server.stop().catch(() => {}));
    const acknowledged: string[] = [];
    const filler = join(mnt.path, "filler");
    expect((await fetch(signedPost(server.url, cred, reportFrom(1)))).status).toBe(202);
    acknowledged.push("198.51.100.1");
    // fill every byte that is left
    try {
      writeFileSync(filler, Buffer.alloc(8 << 20));
    } catch (e) {
      expect((e as { code?: string }).code).toBe("ENOSPC");
    }
    // a WAL with room left may still take a few reports; they are stored, so they count
    let n = 2;
    for (; n < 200; n++) {
      const res = await fetch(signedPost(server.url, cred, reportFrom(n)));
      if (res.status !== 202) break;
      acknowledged.push(`198.51.100.${n}`);
    }
    expect(n).toBeLessThan(200);
    await expectUnavailable(server.url, cred, n);

    rmSync(filler);
    expect((await fetch(signedPost(server.url, cred, reportFrom(201)))).status).toBe(202);
    acknowledged.push("198.51.100.201");
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    await server.stop();
    expect(await storedExits(dataDir, cred.id)).toEqual(acknowledged);
  });
});
