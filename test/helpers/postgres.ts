/**
 * A fresh PostgreSQL database per test, when SENTINEL_TEST_POSTGRES names a server
 * (`postgres://user:pass@host:port/db`, a role allowed to CREATE DATABASE; .ci/postgres.sh
 * start prints one). Each call creates `t_<random>` and its `drop()` removes it, closing any
 * connection still open to it.
 *
 * New databases are copies of a template that is migrated once per schema (its name carries
 * a hash of the migrations): a copy costs about half of creating and migrating each time.
 */
import { existsSync, readdirSync } from "node:fs";
import { SQL } from "bun";
import { openPostgresStore, type PostgresStoreOptions } from "../../src/server/store/postgres/index.ts";
import { migratePostgres } from "../../src/server/store/postgres/migrate.ts";
import { PG_MIGRATIONS } from "../../src/server/store/postgres/migrations.ts";
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

const TEMPLATE = `sentinel_pg_template_${Bun.hash.wyhash(JSON.stringify(PG_MIGRATIONS)).toString(36)}`;
const TEMPLATE_LOCK_KEY = 0x5e47_7e57n;
let template: Promise<void> | null = null;

/** Creates and migrates the template once (other test processes wait on the lock, then find it). */
async function ensureTemplate(server: SQL): Promise<void> {
  template ??= (async () => {
    const conn = await server.reserve();
    try {
      await conn`SELECT pg_advisory_lock(${TEMPLATE_LOCK_KEY})`;
      const [exists] = await conn`SELECT 1 FROM pg_database WHERE datname = ${TEMPLATE}`;
      if (!exists) {
        await conn.unsafe(`CREATE DATABASE ${TEMPLATE}`);
        const db = new SQL(databaseUrl(TEMPLATE), { max: 1 });
        try {
          await migratePostgres(db);
        } finally {
          await db.close();
        }
      }
      await conn`SELECT pg_advisory_unlock(${TEMPLATE_LOCK_KEY})`;
    } finally {
      await conn.close();
    }
  })();
  return template;
}

/** An empty database (`migrated`: already at the current schema, as a store would leave it). */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const server = new SQL(requireServer(), { max: 1 });
  const name = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
  try {
    if (options.migrated === false) await server.unsafe(`CREATE DATABASE ${name}`);
    else {
      await ensureTemplate(server);
      await server.unsafe(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE} STRATEGY FILE_COPY`);
    }
  } finally {
    await server.close();
  }
  const url = databaseUrl(name);
  const admin = new SQL(url, { max: 2 });
  const db: TestDatabase = {
    url,
    name,
    admin,
    async drop() {
      live.delete(db);
      await admin.close();
      const s = new SQL(requireServer(), { max: 1 });
      try {
        await s.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await s.close();
      }
    },
  };
  live.add(db);
  return db;
}

/** Databases created and not dropped yet. */
const live = new Set<TestDatabase>();

/** Drops every test database still there (test/helpers/preload.ts runs it after all tests). */
export async function dropAllTestDatabases(): Promise<void> {
  byDataDir.clear();
  await Promise.all([...live].map((db) => db.drop().catch(() => {})));
}

/** The database of each data dir a test used (dropped after all tests). */
const byDataDir = new Map<string, TestDatabase>();

/**
 * Under SENTINEL_TEST_POSTGRES, the database that stands for a test's data dir: the same for
 * the test server, the stores a test opens on that dir and the CLI run with that --data-dir.
 * Undefined without SENTINEL_TEST_POSTGRES (SQLite in the data dir).
 */
export async function testDatabaseFor(dataDir: string): Promise<string | undefined> {
  if (!TEST_POSTGRES) return undefined;
  let db = byDataDir.get(dataDir);
  if (!db) {
    db = await createTestDatabase();
    byDataDir.set(dataDir, db);
  }
  return db.url;
}

/** A PostgreSQL store on a fresh database; closing it drops the database. */
export async function openTestPostgresStore(
  options: PostgresStoreOptions = {},
): Promise<Store & { database: TestDatabase }> {
  const database = await createTestDatabase();
  const store = await openPostgresStore(database.url, { poolSize: 2, ...options });
  const close = store.close.bind(store);
  return Object.assign(store, {
    database,
    async close() {
      await close();
      await database.drop();
    },
  });
}

/** A PostgreSQL cluster of the test's own (.ci/postgres.sh), for tests that restart or stop it. */
export interface OwnCluster {
  /** the server URL (database "postgres") */
  url: string;
  /** an immediate restart, as after a crash */
  restart(): Promise<void>;
  /** an outage: immediate stop, until up() */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

const SCRIPT = `${import.meta.dir}/../../.ci/postgres.sh`;

/** True where .ci/postgres.sh can run: root, with PostgreSQL's server binaries installed. */
export const CAN_RUN_CLUSTER =
  process.getuid?.() === 0 &&
  (() => {
    try {
      return readdirSync("/usr/lib/postgresql").some((v) =>
        existsSync(`/usr/lib/postgresql/${v}/bin/initdb`),
      );
    } catch {
      return false;
    }
  })();

async function script(...args: string[]): Promise<string> {
  const p = Bun.spawn(["bash", SCRIPT, ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  if (code !== 0) throw new Error(`.ci/postgres.sh ${args[0]} failed (${code}): ${err}`);
  return out.trim();
}

export async function startOwnCluster(): Promise<OwnCluster> {
  const dir = `/tmp/sentinel-pg-test-${process.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const url = await script("start", dir);
  return {
    url,
    restart: async () => void (await script("restart", dir)),
    down: async () => void (await script("down", dir)),
    up: async () => void (await script("up", dir)),
    stop: async () => void (await script("stop", dir)),
  };
}
