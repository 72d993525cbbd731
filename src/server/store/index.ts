/**
 * The store: the port (types.ts) and how to open it. Everything outside src/server/store
 * imports from here, never from an engine's folder.
 */
import { join } from "node:path";
import { openSqliteStore } from "./sqlite/index.ts";
import type { Store, Transaction } from "./types.ts";

export { isCorruption, storageFailure } from "./errors.ts";
export { type BackupInfo, DatabaseDamagedError, inspectBackup } from "./sqlite/index.ts";
export type * from "./types.ts";

export const DATABASE_FILE = "sentinel.db";

/**
 * How the report paths commit: SQLite batches the writes of one event-loop turn into one
 * transaction (one fsync, see sqlite/group-commit.ts); other engines give each its own.
 */
export function reportCommit(store: Store): <T>(work: (tx: Transaction) => Promise<T>) => Promise<T> {
  const group = store.sqlite?.groupCommit;
  return group ? (work) => group.run(work) : (work) => store.transaction(work);
}

export interface StoreLocation {
  /** the data directory (SQLite keeps sentinel.db there), or ":memory:" */
  dataDir: string;
  /** read the whole database file for damage first (the server at start) */
  quickCheck?: boolean;
}

/** Opens (and migrates) the store. */
export async function openStore(where: StoreLocation): Promise<Store> {
  return openSqliteStore(where.dataDir === ":memory:" ? ":memory:" : join(where.dataDir, DATABASE_FILE), {
    quickCheck: where.quickCheck ?? false,
  });
}
