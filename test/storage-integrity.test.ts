/**
 * A damaged database is caught: real SQLite files with pages overwritten, at start (the real
 * `sentinel server` refuses with one line naming the file and the recovery) and under a
 * running server (reports get 503 with Retry-After, /readyz turns red, the log says it once a
 * minute). Also an emptied database beside its key, and a data dir on a read-only mount.
 */
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, openSync, truncateSync, writeSync } from "node:fs";
import { join } from "node:path";
import { createConsola } from "consola";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { type Enrollment, enrollClient } from "../src/server/enrollment.ts";
import { StorageHealth } from "../src/server/storage-health.ts";
import { DATABASE_FILE, openStore } from "../src/server/store/index.ts";
import { run, sentinel } from "./helpers/cli.ts";
import { TEST_POSTGRES } from "./helpers/postgres.ts";
import { sampleReport, signedPost } from "./helpers/report.ts";
import { startTestServer, tempDir } from "./helpers/server.ts";

const dirs: { remove(): void }[] = [];
afterAll(() => {
  for (const d of dirs) d.remove();
});

/** A data dir with `n` enrolled clients (the clients table spans several pages). */
async function dataDirWithClients(n = 150): Promise<{ path: string; creds: Enrollment[] }> {
  const dir = tempDir();
  dirs.push(dir);
  const store = await openStore({ dataDir: dir.path });
  const keyring = loadKeyring(dir.path);
  const creds = await store.transaction(async (tx) => {
    const out: Enrollment[] = [];
    for (let i = 0; i < n; i++)
      out.push(await enrollClient(tx, keyring, `client-${i}`, "http://x", Date.now()));
    return out;
  });
  await store.close();
  return { path: dir.path, creds };
}

/**
 * Overwrites every page of `table` with garbage in the main database file, as a failing disk
 * would. A connection of the test's own moves the WAL into the file first and writes once
 * afterwards, so a server that has the file open reads the damaged pages from disk.
 */
function damagePages(dataDir: string, table: string): number[] {
  const file = join(dataDir, DATABASE_FILE);
  const db = new Database(file);
  db.exec("PRAGMA busy_timeout = 5000");
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  const pageSize = (db.query("PRAGMA page_size").get() as { page_size: number }).page_size;
  const pages = db
    .query<{ pageno: number }, [string]>("SELECT pageno FROM dbstat WHERE name = ? ORDER BY pageno")
    .all(table)
    .map((r) => r.pageno);
  const fd = openSync(file, "r+");
  for (const p of pages) writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, (p - 1) * pageSize);
  closeSync(fd);
  // a change in the WAL makes other connections drop the pages they had cached
  db.exec("CREATE TABLE IF NOT EXISTS test_touch (x)");
  db.close();
  return pages;
}

/** `sentinel server` to the end: code, and its stderr as lines. */
async function serverRun(dataDir: string) {
  const r = await sentinel(["server", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--no-home-learn"]);
  return { code: r.code, lines: r.stderr.split("\n").filter((l) => l.trim() !== "") };
}

// a damaged SQLite file; PostgreSQL guards its own pages
describe.skipIf(TEST_POSTGRES !== null)("at start", () => {
  test("a damaged page: the server refuses with one line naming the file and the recovery", async () => {
    const { path } = await dataDirWithClients();
    const backups = tempDir();
    dirs.push(backups);
    const backup = join(backups.path, "sentinel-backup.db");
    expect((await sentinel(["backup", backup, "--data-dir", path])).code).toBe(0);
    expect(damagePages(path, "clients").length).toBeGreaterThan(1);

    const r = await serverRun(path);
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toContain(`the database ${join(path, DATABASE_FILE)} is damaged`);
    expect(r.lines[0]).toContain(`sentinel restore BACKUP_FILE --data-dir ${path}`);
    expect(r.lines[0]).not.toMatch(/\n|\s+at /);

    // the recovery the line names works
    const restored = await sentinel(["restore", backup, "--data-dir", path]);
    expect(restored.code, restored.stderr).toBe(0);
    const store = await openStore({ dataDir: path });
    expect(await store.clients.list()).toHaveLength(150);
    await store.close();
  });

  test("a file that is not a database (damaged header): the same one line", async () => {
    const { path } = await dataDirWithClients(5);
    const fd = openSync(join(path, DATABASE_FILE), "r+");
    writeSync(fd, Buffer.alloc(100, 0x5a), 0, 100, 0);
    closeSync(fd);
    const r = await serverRun(path);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([expect.stringContaining(`${join(path, DATABASE_FILE)} is damaged`)]);
  });

  test("a zero-length database beside server.key is refused, not silently made anew", async () => {
    const { path } = await dataDirWithClients(5);
    for (const side of ["", "-wal", "-shm"])
      if (existsSync(join(path, DATABASE_FILE + side))) truncateSync(join(path, DATABASE_FILE + side), 0);
    const r = await serverRun(path);
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toContain(`the database ${join(path, DATABASE_FILE)} is empty (0 bytes)`);
    expect(r.lines[0]).toContain("sentinel restore");
    // nothing was written over it
    expect(Bun.file(join(path, DATABASE_FILE)).size).toBe(0);
  });

  test("a sound database passes the check", async () => {
    const { path } = await dataDirWithClients(5);
    const store = await openStore({ dataDir: path, quickCheck: true });
    expect(await store.clients.list()).toHaveLength(5);
    await store.close();
  });

  const root = process.getuid?.() === 0 && Bun.which("unshare") !== null;
  test.skipIf(!root)("a data dir on a read-only mount: one clear line, no EROFS trace", async () => {
    const { path } = await dataDirWithClients(5);
    // a private mount namespace: the read-only bind mount exists only for this one process
    const script = `mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && exec bun "$2" server --listen 127.0.0.1:0 --data-dir "$1" --no-home-learn`;
    const r = await run([
      "unshare",
      "-m",
      "sh",
      "-c",
      script,
      "sh",
      path,
      join(import.meta.dir, "../src/main.ts"),
    ]);
    const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
    expect(r.code).toBe(1);
    expect(lines).toEqual([expect.stringContaining(`the data directory ${path} is read-only`)]);
    expect(lines[0]).toContain("--data-dir");
  });
});

describe.skipIf(TEST_POSTGRES !== null)("at run time", () => {
  test("damage under a running server: reports get 503 + Retry-After, /readyz is red, the log says it once a minute", async () => {
    const { path, creds } = await dataDirWithClients();
    const lines: string[] = [];
    const logger = createConsola({
      level: 3,
      reporters: [{ log: (o) => void lines.push(`${o.type} ${o.args.join(" ")}`) }],
    });
    const server = await startTestServer({ dataDir: path, logger, sweepIntervalMs: 50 });
    try {
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      // one client due for the sweeper in 1.5 s (late after 1.5 intervals)
      const due = creds.at(-1) as Enrollment;
      expect(
        (await fetch(signedPost(server.url, due, JSON.stringify(sampleReport({ interval_s: 1 }))))).status,
      ).toBe(202);
      damagePages(path, "clients");

      const answers = await Promise.all(
        creds.slice(0, 30).map((c) => fetch(signedPost(server.url, c, JSON.stringify(sampleReport())))),
      );
      for (const a of answers) {
        expect(a.status).toBe(503);
        expect(a.headers.get("retry-after")).toBe("30");
        expect(((await a.json()) as { error: { code: string } }).error.code).toBe("storage_unavailable");
      }
      await Bun.sleep(2_000); // the sweeper meets the damage too, every 50 ms

      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { reason: string }).reason).toContain("the database file is damaged");

      const errors = lines.filter((l) => l.startsWith("error"));
      expect(errors.filter((l) => l.includes("/readyz is red until"))).toHaveLength(1);
      expect(errors.filter((l) => l.includes("report not stored (503)"))).toHaveLength(1);
      expect(errors.filter((l) => l.includes("sweeper pass failed"))).toHaveLength(1);
      expect(errors.filter((l) => / 500 |unhandled/.test(l))).toEqual([]);
      expect(errors.length).toBeLessThanOrEqual(4);
    } finally {
      await server.stop();
    }
  });

  test("StorageHealth logs one line per place a minute, counting the ones held back", async () => {
    const lines: string[] = [];
    const clock = { t: 0 };
    const health = new StorageHealth({
      logger: createConsola({ level: 3, reporters: [{ log: (o) => void lines.push(o.args.join(" ")) }] }),
      now: () => clock.t,
      database: "/data/sentinel.db",
    });
    const full = Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });
    for (let i = 0; i < 100; i++) {
      expect(health.failed("report not stored (503)", full)).toBe("the disk is full");
      clock.t += 1_000;
    }
    expect(health.failed("x", new Error("a bug"))).toBeNull();
    expect(health.damage()).toBeNull(); // a full disk is no damage
    expect(lines).toEqual([
      "report not stored (503): the disk is full: database or disk is full",
      "report not stored (503): the disk is full: database or disk is full (59 more like it since the last line)",
    ]);
  });
});
