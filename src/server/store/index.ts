/**
 * The store: the port (types.ts) and how to open it. Everything outside src/server/store
 * imports from here, never from an engine's folder.
 */
import { join } from "node:path";
import { openSqliteStore } from "./sqlite/index.ts";
import type { Store } from "./types.ts";

export { isCorruption, storageFailure } from "./errors.ts";
export { type BackupInfo, DatabaseDamagedError, inspectBackup } from "./sqlite/index.ts";
export type * from "./types.ts";

export const DATABASE_FILE = "sentinel.db";

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
