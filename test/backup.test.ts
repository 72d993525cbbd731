/** sentinel backup / restore with the real CLI: online and consistent, and restore refuses a running server. */
import { afterAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { LOCK_FILE } from "../src/server/data-lock.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { inspectBackup, openStore } from "../src/server/store/index.ts";
import { sentinel } from "./helpers/cli.ts";
import { TEST_POSTGRES } from "./helpers/postgres.ts";
import { sampleReport, signedPost } from "./helpers/report.ts";
import { startTestServer, tempDir } from "./helpers/server.ts";

const dir = tempDir();
const elsewhere = tempDir();
afterAll(() => {
  dir.remove();
  elsewhere.remove();
});

// SQLite only: on PostgreSQL backups are pg_dump's (test/postgres-server.test.ts checks the refusal)
const sqliteOnly = test.skipIf(TEST_POSTGRES !== null);

sqliteOnly(
  "a backup taken while reports are written is consistent, and restores into a working server",
  async () => {
    const store = await openStore({ dataDir: dir.path });
    const cred = await enrollClient(store, loadKeyring(dir.path), "pi", "http://x", Date.now());
    await store.close();
    const server = await startTestServer({ dataDir: dir.path });
    expect(existsSync(join(dir.path, LOCK_FILE))).toBe(true);

    let accepted = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        const ip = `198.51.100.${(accepted % 200) + 1}`;
        const r = sampleReport({
          ipv4: { ip, consistent: true, answers: [{ provider: "http://e", ip, latency_ms: 1, error: null }] },
        });
        const res = await fetch(signedPost(server.url, cred, JSON.stringify(r)));
        expect(res.status).toBe(202);
        accepted++;
      }
    })();
    await Bun.sleep(150);
    const file = join(elsewhere.path, "snap.db");
    const b = await sentinel(["backup", file, "--data-dir", dir.path]);
    await Bun.sleep(100);
    writing = false;
    await writer;
    expect(b.code, b.stderr).toBe(0);
    expect(accepted).toBeGreaterThan(5);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(elsewhere.path)).toEqual(["snap.db"]); // no partial file left, no -wal beside it
    expect(inspectBackup(file)).toMatchObject({ clients: 1 });
    // a backup never overwrites
    expect((await sentinel(["backup", file, "--data-dir", dir.path])).code).toBe(2);

    // restore refuses while the server holds the data dir
    const refused = await sentinel(["restore", file, "--data-dir", dir.path]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("refusing to restore");
    expect(refused.stderr).toContain(`pid ${process.pid}`);
    await server.stop();
    expect(existsSync(join(dir.path, LOCK_FILE))).toBe(false);

    // the snapshot is a moment inside the write storm: fewer history rows than the live database, none torn
    const live = await openStore({ dataDir: dir.path });
    const liveEvents = await live.events.count();
    await live.close();
    const restored = await sentinel(["restore", file, "--data-dir", dir.path]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toContain("Restored 1 client(s)");
    expect(readdirSync(dir.path).some((f) => f.startsWith("sentinel.db.before-restore-"))).toBe(true);
    const back = await openStore({ dataDir: dir.path });
    expect(await back.events.count()).toBeLessThanOrEqual(liveEvents);
    const c = await back.clients.get(cred.id);
    await back.close();
    expect(c?.lastReportAt).toBeNumber();

    // and the restored data dir serves the same client with the same secret
    const again = await startTestServer({ dataDir: dir.path });
    expect((await fetch(signedPost(again.url, cred, JSON.stringify(sampleReport())))).status).toBe(202);
    await again.stop();
  },
);

sqliteOnly("restore checks the file first and says which server key the secrets need", async () => {
  const junk = join(elsewhere.path, "junk.db");
  await Bun.write(junk, "not a database at all, just text that is long enough to not be empty".repeat(100));
  const bad = await sentinel(["restore", junk, "--data-dir", dir.path]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain("not a database");

  // a backup of this data dir restored into a data dir with another server key
  const fresh = tempDir();
  const file = join(elsewhere.path, "for-other.db");
  expect((await sentinel(["backup", file, "--data-dir", dir.path])).code).toBe(0);
  loadKeyring(fresh.path); // creates a different server.key
  const r = await sentinel(["restore", file, "--data-dir", fresh.path]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(`sealed with server key ${loadKeyring(dir.path).currentId}`);
  copyFileSync(join(dir.path, "server.key"), join(fresh.path, "server.key.previous"));
  const ok = await sentinel(["restore", file, "--data-dir", fresh.path]);
  expect(ok.stdout).not.toContain("Warning");
  fresh.remove();
});
