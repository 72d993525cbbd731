import { join } from "node:path";
import { openSqliteStore } from "./sqlite.ts";
import type { Store } from "./types.ts";

export type * from "./types.ts";

export const DATABASE_FILE = "sentinel.db";

/** Opens (and migrates) the store in a data directory, or in memory for ":memory:". */
export function openStore(dataDir: string, opts: { quickCheck?: boolean } = {}): Store {
  return openSqliteStore(dataDir === ":memory:" ? ":memory:" : join(dataDir, DATABASE_FILE), opts);
}
export { type BackupInfo, inspectBackup } from "./backup.ts";
export { isCorruption, storageFailure } from "./errors.ts";
