/**
 * The store: the port (types.ts) and how to open it. Everything outside src/server/store
 * imports from here, never from an engine's folder.
 */
import { join } from "node:path";
import type { PostgresStoreOptions } from "./postgres/index.ts";
import { openSqliteStore } from "./sqlite/index.ts";
import type { Store } from "./types.ts";

export { storageFailure } from "./errors.ts";
export { type BackupInfo, inspectBackup } from "./sqlite/index.ts";
export type * from "./types.ts";

export const DATABASE_FILE = "sentinel.db";

export interface StoreLocation {
  /** the data directory (SQLite keeps sentinel.db there), or ":memory:" */
  dataDir: string;
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
  return openSqliteStore(where.dataDir === ":memory:" ? ":memory:" : join(where.dataDir, DATABASE_FILE));
}
