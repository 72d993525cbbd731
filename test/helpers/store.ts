/**
 * The store for a test: SQLite in memory, or a fresh PostgreSQL database when
 * SENTINEL_TEST_POSTGRES is set (CI runs the suite once for each engine).
 */
import { openStore, type Store } from "../../src/server/store/index.ts";
import { openTestPostgresStore, TEST_POSTGRES } from "./postgres.ts";

export async function openTestStore(): Promise<Store> {
  if (TEST_POSTGRES) return openTestPostgresStore();
  return openStore({ dataDir: ":memory:" });
}
