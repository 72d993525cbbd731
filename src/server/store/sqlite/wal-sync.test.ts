import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { storageFailure } from "../errors.ts";
import { openStore } from "../index.ts";
import { SqliteEngine, type TransactionHooks } from "./engine.ts";
import { openDatabase } from "./index.ts";
import { WalSync } from "./wal-sync.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDb = () => {
  const dir = mkdtempSync(join(tmpdir(), "sentinel-wal-sync-"));
  dirs.push(dir);
  return join(dir, "sentinel.db");
};

const noHooks: TransactionHooks = { beforeCommit() {}, committed() {}, mark: () => 0, rollbackTo() {} };
const synchronous = (db: ReturnType<typeof openDatabase>) =>
  (db.query("PRAGMA synchronous").get() as { synchronous: number }).synchronous;
const FULL = 2;

test("a deferred-sync commit frees the connection before its fsync and resolves only after it", async () => {
  const db = openDatabase(tempDb());
  db.exec("CREATE TABLE t (v INTEGER)");
  const pending: (() => void)[] = [];
  const controlledSync = {
    usable: true,
    sync: () => new Promise<void>((resolve) => pending.push(resolve)),
    settled: () => Promise.resolve(),
  };
  const engine = new SqliteEngine(db, noHooks, () => {}, controlledSync);
  let announced = false;
  let resolved = false;
  const first = engine
    .transaction(
      {},
      async () => {
        db.run("INSERT INTO t VALUES (1)");
        engine.afterCommit(() => (announced = true));
      },
      true,
    )
    .then(() => (resolved = true));
  while (pending.length === 0) await Bun.sleep(1);
  // committed (with synchronous=NORMAL), FULL again for everyone else, the connection free
  expect(synchronous(db)).toBe(FULL);
  await engine.transaction({}, async () => void db.run("INSERT INTO t VALUES (2)"));
  expect(db.query("SELECT count(*) AS n FROM t").get()).toEqual({ n: 2 });
  // ... but the first caller is not answered, nor its change announced, before its fsync
  await Bun.sleep(5);
  expect([resolved, announced]).toEqual([false, false]);
  pending[0]?.();
  await first;
  expect([resolved, announced]).toEqual([true, true]);
  db.close();
});

test("without deferSync, or once the WAL sync failed, commits are FULL and fsync inside COMMIT", async () => {
  const db = openDatabase(tempDb());
  db.exec("CREATE TABLE t (v INTEGER)");
  let calls = 0;
  const walSync = { usable: true, sync: async () => void calls++, settled: async () => {} };
  const engine = new SqliteEngine(db, noHooks, () => {}, walSync);
  await engine.transaction({}, async () => void db.run("INSERT INTO t VALUES (1)"));
  expect(calls).toBe(0);
  walSync.usable = false;
  await engine.transaction({}, async () => void db.run("INSERT INTO t VALUES (2)"), true);
  expect(calls).toBe(0);
  db.close();
});

test("a transaction that wrote nothing starts no fsync, but waits for the one under way", async () => {
  const db = openDatabase(tempDb());
  db.exec("CREATE TABLE t (v INTEGER)");
  let syncs = 0;
  let release = () => {};
  const underWay = new Promise<void>((resolve) => (release = resolve));
  const walSync = {
    usable: true,
    sync: () => {
      syncs++;
      return underWay;
    },
    settled: () => underWay,
  };
  const engine = new SqliteEngine(db, noHooks, () => {}, walSync);
  const writer = engine.transaction({}, async () => void db.run("INSERT INTO t VALUES (1)"), true);
  let readerDone = false;
  const reader = engine
    .transaction({}, async () => db.query("SELECT count(*) AS n FROM t").get(), true)
    .then((row) => {
      readerDone = true;
      return row;
    });
  await Bun.sleep(5);
  expect([syncs, readerDone]).toEqual([1, false]); // it read a commit whose fsync is not done
  release();
  expect(await reader).toEqual({ n: 1 });
  await writer;
  expect(syncs).toBe(1);
  db.close();
});

test("a failed fsync fails the commit's callers with a storage error (503), and every later commit is FULL", async () => {
  const path = tempDb();
  const db = openDatabase(path);
  db.exec("CREATE TABLE t (v INTEGER)");
  const walSync = new WalSync(`${path}-wal`);
  const engine = new SqliteEngine(db, noHooks, () => {}, walSync);
  await engine.transaction({}, async () => void db.run("INSERT INTO t VALUES (1)"), true);
  expect(walSync.usable).toBe(true);
  // the descriptor cannot be (re)opened: what a vanished or unreadable WAL looks like here
  await walSync.close();
  unlinkSync(`${path}-wal`);
  const failed = engine.transaction({}, async () => void db.run("INSERT INTO t VALUES (2)"), true);
  const error = await failed.then(
    () => null,
    (e: unknown) => e,
  );
  expect((error as { code?: string }).code).toBe("SQLITE_IOERR_FSYNC");
  expect(storageFailure(error)).toBe("the disk failed (SQLITE_IOERR_FSYNC)");
  expect(walSync.usable).toBe(false);
  db.close();
});

test("reports committed by the group commit of a file database are there after a reopen", async () => {
  const path = tempDb();
  const dataDir = join(path, "..");
  const store = await openStore({ dataDir });
  const group = store.sqlite?.groupCommit;
  if (!group) throw new Error("SQLite only");
  const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
  await Promise.all(keys.map((k) => group.run((tx) => tx.meta.set(k, "1"))));
  await store.close();
  const reopened = await openStore({ dataDir });
  for (const k of keys) expect(await reopened.meta.get(k)).toBe("1");
  await reopened.close();
});

test("syncs asked for while one runs share the next one; a failure reaches every waiter", async () => {
  const path = tempDb();
  const db = openDatabase(path);
  db.exec("CREATE TABLE t (v INTEGER)");
  const walSync = new WalSync(`${path}-wal`);
  await Promise.all(Array.from({ length: 20 }, () => walSync.sync()));
  const first = walSync.sync();
  unlinkSync(`${path}-wal`); // the next fsync looks for the file again and finds none
  const waiters = Array.from({ length: 5 }, () => walSync.sync());
  await first; // it had its descriptor already
  for (const w of waiters) await expect(w).rejects.toThrow("fdatasync of the database's WAL failed");
  db.close();
});
