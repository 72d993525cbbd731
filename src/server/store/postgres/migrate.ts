/** Brings a PostgreSQL database to PG_SCHEMA_VERSION; refuses one that is newer. */
import type { SQL } from "bun";
import { PG_MIGRATIONS, PG_SCHEMA_VERSION } from "./migrations.ts";

/** Serializes replicas that start at the same time: one migrates, the others then find it done. */
const MIGRATION_LOCK_KEY = 0x5e47_0001n;

export class SchemaTooNew extends Error {}

/** The version recorded in the database, or 0 for an empty one. */
export async function schemaVersion(db: SQL): Promise<number> {
  const [t] = await db`SELECT to_regclass('schema_version') IS NOT NULL AS present`;
  if (!t?.present) return 0;
  const [r] = await db`SELECT version FROM schema_version`;
  return r ? Number(r.version) : 0;
}

export async function migratePostgres(db: SQL): Promise<number> {
  await db.begin(async (tx) => {
    await tx`SET LOCAL statement_timeout = 0`;
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
    await tx`CREATE TABLE IF NOT EXISTS schema_version (
      id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
      version integer NOT NULL
    )`;
    const current = await schemaVersion(tx);
    if (current > PG_SCHEMA_VERSION)
      throw new SchemaTooNew(
        `the database schema (v${current}) is newer than this sentinel (v${PG_SCHEMA_VERSION}); upgrade sentinel`,
      );
    if (current === PG_SCHEMA_VERSION) return;
    for (let v = current; v < PG_SCHEMA_VERSION; v++) {
      const migration = PG_MIGRATIONS[v];
      if (migration) await tx.unsafe(migration);
    }
    await tx`INSERT INTO schema_version (id, version) VALUES (1, ${PG_SCHEMA_VERSION})
      ON CONFLICT (id) DO UPDATE SET version = excluded.version`;
  });
  return PG_SCHEMA_VERSION;
}
