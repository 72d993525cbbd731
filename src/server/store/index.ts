/**
 * The store: the port (types.ts) and how to open it. Everything outside src/server/store
 * imports from here, never from an engine's folder.
 */
import { join } from "node:path";
import type { PostgresStoreOptions } from "./postgres/index.ts";
import { openSqliteStore } from "./sqlite/index.ts";
import type { Store, Transaction } from "./types.ts";

export { isCorruption, storageFailure } from "./errors.ts";
export { type BackupInfo, DatabaseDamagedError, inspectBackup } from "./sqlite/index.ts";
export type * from "./types.ts";

export const DATABASE_FILE = "sentinel.db";

/**
 * How the report paths commit: both engines batch the reports of one event-loop turn into one
 * transaction (one fsync; sqlite/group-commit.ts, postgres/group-commit.ts, where the reports'
 * common statements are made once for the batch); PostgreSQL bounds the reports waiting (an
 * overloaded database sheds reports with 503 instead of starving the sweeper).
 */
export function reportCommit(store: Store): <T>(work: (tx: Transaction) => Promise<T>) => Promise<T> {
  const group = store.sqlite?.groupCommit;
  if (group) return (work) => group.run(work);
  const postgres = store.postgres;
  if (postgres) return (work) => postgres.reportTransaction(work);
  return (work) => store.transaction(work);
}

export interface StoreLocation {
  /** the data directory (SQLite keeps sentinel.db there), or ":memory:" */
  dataDir: string;
  /** SQLite: read the whole database file for damage first (the server at start) */
  quickCheck?: boolean;
  /** a postgres:// URL: the database lives there instead (several replicas may share it) */
  database?: string | undefined;
  /** PostgreSQL only: pool size, statement timeout, this replica's name, a logger */
  postgres?: PostgresStoreOptions;
}

export const isPostgresUrl = (s: string | undefined): s is string => !!s && /^postgres(ql)?:\/\//i.test(s);

/** Opens (and migrates) the store. */
export async function openStore(where: StoreLocation): Promise<Store> {
  if (where.database !== undefined) {
    if (!isPostgresUrl(where.database))
      throw new Error(
        "the database must be a postgres:// URL (without one, SQLite in the data directory is used)",
      );
    // imported on demand: SQLite-only installs never load the PostgreSQL engine
    const { openPostgresStore } = await import("./postgres/index.ts");
    return openPostgresStore(where.database, where.postgres);
  }
  return openSqliteStore(where.dataDir === ":memory:" ? ":memory:" : join(where.dataDir, DATABASE_FILE), {
    quickCheck: where.quickCheck ?? false,
  });
}
