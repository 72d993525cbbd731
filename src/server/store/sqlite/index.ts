/** The bun:sqlite engine of the store port. bun:sqlite types never leave this folder. */
import { Database } from "bun:sqlite";
import { statSync } from "node:fs";
import { dirname } from "node:path";
import { ensurePrivateDir, makePrivate } from "../../private-files.ts";
import type { Leadership, Readiness, Repositories, Store, Transaction } from "../types.ts";
import { sqliteAuth } from "./auth.ts";
import { sqliteBadges, sqliteReportRuns } from "./badges.ts";
import { SqliteChangeFeed } from "./change-feed.ts";
import { sqliteChannels } from "./channels.ts";
import { sqliteClients } from "./clients.ts";
import { SqliteEngine } from "./engine.ts";
import { sqliteEvents, sqliteHistory, sqliteMeta, sqliteTokens } from "./events.ts";
import { SqliteGroupCommit } from "./group-commit.ts";
import { openIntactDatabase } from "./integrity.ts";
import { MIGRATIONS, type Migration } from "./migrations.ts";
import { SqliteNonces } from "./nonces.ts";
import { sqliteOracle } from "./oracle.ts";
import { sqliteOutbox } from "./outbox.ts";
import { memoryRateLimits } from "./rate-limits.ts";
import { sqliteRollups } from "./rollups.ts";
import { sqliteStats } from "./stats.ts";
import { type Runner, settle, wrap } from "./sync.ts";
import { WalSync } from "./wal-sync.ts";

export { type BackupInfo, inspectBackup } from "./backup.ts";
export { DatabaseDamagedError } from "./integrity.ts";
export { MIGRATIONS } from "./migrations.ts";

export function openDatabase(path: string): Database {
  if (path !== ":memory:") ensurePrivateDir(dirname(path));
  const db = new Database(path, { create: true, strict: true });
  // first: another process may hold the file (the CLI enrolling, the server committing)
  db.exec("PRAGMA busy_timeout = 5000");
  db.exec("PRAGMA journal_mode = WAL");
  // new -wal/-shm files take the database's mode, so once it is 0600 they are too
  if (path !== ":memory:") makePrivate(path, `${path}-wal`, `${path}-shm`);
  // FULL, not NORMAL: a 202 promises the report is stored. With NORMAL a WAL commit is not
  // fsynced, and a kernel that remounts the disk read-only after an I/O error (ext4
  // errors=remount-ro, common on SD cards) loses acknowledged commits; test/backup-storage.test.ts
  // proves the difference. Reports share commits (group-commit.ts), so one fsync covers every
  // report that arrived in the same event-loop turn, and that fsync runs in the thread pool
  // (wal-sync.ts): the report path's commits alone are NORMAL, each followed by its own fsync.
  db.exec("PRAGMA synchronous = FULL");
  // 4 MiB of page cache instead of 2: a report that changes a client reads its row while the
  // same transaction writes others' (a group commit of 512 first reports dirties ~2.5 MB), and
  // with the default cache that read once cost 2-3x more. 8 MiB measured no faster and is
  // resident memory the server keeps (~4 MiB more at 10,000 clients).
  db.exec("PRAGMA cache_size = -4096");
  db.exec("PRAGMA foreign_keys = ON");
  return db;
}

export function migrate(db: Database): number {
  const current = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (current > MIGRATIONS.length)
    throw new Error(
      `the database schema (v${current}) is newer than this sentinel (v${MIGRATIONS.length}); upgrade sentinel`,
    );
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      const migration = MIGRATIONS[v] as Migration;
      if (typeof migration === "string") db.exec(migration);
      else migration(db);
      db.exec(`PRAGMA user_version = ${v + 1}`);
    }).immediate();
  }
  return MIGRATIONS.length;
}

/** The one server process on a SQLite file always leads (the data-dir lock keeps others out). */
const soleLeader = (startedAt: number): Leadership => ({
  async start(onChange) {
    onChange(true);
  },
  isLeader: () => true,
  current: async () => ({ replica: "local", since: startedAt }),
  async stop() {},
});

/** `quickCheck`: read the whole file for damage first (the server at start; see integrity.ts). */
export function openSqliteStore(path: string, opts: { quickCheck?: boolean } = {}): Store {
  const db = openIntactDatabase(path, openDatabase, opts);
  migrate(db);
  const nonces = new SqliteNonces(db);
  const feed = new SqliteChangeFeed(db, () => !engine.busy);
  const { journal_mode } = db.query("PRAGMA journal_mode").get() as { journal_mode: string };
  const walSync = journal_mode === "wal" ? new WalSync(`${path}-wal`) : null;
  const engine = new SqliteEngine(db, nonces, () => feed.external(), walSync);

  const sync = {
    clients: sqliteClients(db),
    limits: memoryRateLimits(),
    events: sqliteEvents(db),
    tokens: sqliteTokens(db),
    meta: sqliteMeta(db),
    history: sqliteHistory(db),
    auth: sqliteAuth(db),
    outbox: sqliteOutbox(db),
    channels: sqliteChannels(db),
    stats: sqliteStats(db),
    rollups: sqliteRollups(db),
    badges: sqliteBadges(db),
    reportRuns: sqliteReportRuns(db),
    oracle: sqliteOracle(db),
  };
  const repositories = (run: Runner, nonceRepo: SqliteNonces["autocommit"]): Repositories => ({
    clients: wrap(sync.clients, run),
    nonces: wrap(nonceRepo, run),
    // memory only: no need to wait for the connection
    limits: wrap(sync.limits, settle),
    events: wrap(sync.events, run),
    tokens: wrap(sync.tokens, run),
    meta: wrap(sync.meta, run),
    history: wrap(sync.history, run),
    auth: wrap(sync.auth, run),
    outbox: wrap(sync.outbox, run),
    channels: wrap(sync.channels, run),
    stats: wrap(sync.stats, run),
    rollups: wrap(sync.rollups, run),
    badges: wrap(sync.badges, run),
    reportRuns: wrap(sync.reportRuns, run),
    oracle: wrap(sync.oracle, run),
  });
  // one Transaction object serves every transaction: the mutex lets only one be open at a time
  const tx: Transaction = {
    ...repositories(engine.inTransaction, nonces.inTransaction),
    transaction: (fn) => engine.nested(tx, fn),
    afterCommit: (fn) => engine.afterCommit(fn),
  };
  const transaction = <T>(fn: (tx: Transaction) => Promise<T>) => engine.transaction(tx, fn);
  // the report path's commits: fsync in the thread pool, the next group committed meanwhile
  const groupCommit = new SqliteGroupCommit((fn) => engine.transaction(tx, fn, true), engine);
  const startedAt = Date.now();

  return {
    engine: "sqlite",
    ...repositories(engine.root, nonces.autocommit),
    transaction,
    changes: feed,
    leadership: soleLeader(startedAt),
    sqlite: {
      path,
      groupCommit,
      // VACUUM INTO reads one consistent snapshot while writers go on (WAL), and writes a
      // compact, self-contained file (no -wal beside it).
      backupTo: (file) => engine.root(() => void db.query("VACUUM INTO ?").run(file)),
      sizeBytes() {
        if (path === ":memory:") return 0;
        db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
        let total = 0;
        for (const f of [path, `${path}-wal`]) {
          try {
            total += statSync(f).size;
          } catch {
            // a missing WAL file is fine
          }
        }
        return total;
      },
    },
    readiness: () => engine.root(() => readiness(db)),
    close: async () => {
      feed.close();
      await groupCommit.flush(); // queued reports commit, and their fsyncs end, before the close
      await walSync?.close();
      await engine.root(() => db.close());
    },
  };
}

function readiness(db: Database): Readiness {
  const expected = MIGRATIONS.length;
  try {
    const v = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
    // A real write proves the file, the WAL and the disk accept data.
    db.query(
      "INSERT INTO meta (key, value) VALUES ('ready_probe', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    ).run(String(Date.now()));
    if (v !== expected)
      return { ok: false, schemaVersion: v, expectedSchemaVersion: expected, reason: "migrations pending" };
    return { ok: true, schemaVersion: v, expectedSchemaVersion: expected };
  } catch (e) {
    return {
      ok: false,
      schemaVersion: -1,
      expectedSchemaVersion: expected,
      reason: `database not writable: ${(e as Error).message}`,
    };
  }
}
