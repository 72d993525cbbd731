/**
 * A fresh PostgreSQL database per test, when SENTINEL_TEST_POSTGRES names a server
 * (`postgres://user:pass@host:port/db`, a role allowed to CREATE DATABASE; .ci/postgres.sh
 * start prints one). Each call creates `t_<random>` and its `drop()` removes it, closing any
 * connection still open to it.
 */
import { SQL } from "bun";
import { openPostgresStore, type PostgresStoreOptions } from "../../src/server/store/postgres/index.ts";
import type { Store } from "../../src/server/store/types.ts";

export const TEST_POSTGRES: string | null = Bun.env.SENTINEL_TEST_POSTGRES || null;

export interface TestDatabase {
  /** the URL of the new database */
  url: string;
  name: string;
  /** a client for the test's own checks (closed by drop) */
  admin: SQL;
  drop(): Promise<void>;
}

function requireServer(): string {
  if (!TEST_POSTGRES) throw new Error("SENTINEL_TEST_POSTGRES is not set");
  return TEST_POSTGRES;
}

/** The URL of database `name` on the test server. */
export function databaseUrl(name: string): string {
  const url = new URL(requireServer());
  url.pathname = `/${name}`;
  return url.toString();
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const server = new SQL(requireServer(), { max: 1 });
  const name = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
  try {
    await server.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await server.close();
  }
  const url = databaseUrl(name);
  const admin = new SQL(url, { max: 2 });
  return {
    url,
    name,
    admin,
    async drop() {
      await admin.close();
      const s = new SQL(requireServer(), { max: 1 });
      try {
        await s.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await s.close();
      }
    },
  };
}

/** A PostgreSQL store on a fresh database; closing it drops the database. */
export async function openTestPostgresStore(
  options: PostgresStoreOptions = {},
): Promise<Store & { database: TestDatabase }> {
  const database = await createTestDatabase();
  const store = await openPostgresStore(database.url, { poolSize: 4, ...options });
  const close = store.close.bind(store);
  return Object.assign(store, {
    database,
    async close() {
      await close();
      await database.drop();
    },
  });
}
