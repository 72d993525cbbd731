/**
 * Both engines end at the same logical schema: the same version number, tables, columns,
 * nullability, a type class per column, unique keys and named indexes. Tables that exist on
 * one engine only are listed here with the reason.
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { COPIED_TABLES, NOT_COPIED } from "../src/server/store/copy.ts";
import { PG_MIGRATIONS, PG_SCHEMA_VERSION } from "../src/server/store/postgres/migrations.ts";
import { MIGRATIONS, migrate } from "../src/server/store/sqlite/index.ts";
import { createTestDatabase, TEST_POSTGRES } from "./helpers/postgres.ts";

/** Tables one engine has and the other does not need. */
const SQLITE_ONLY = new Set([
  "nonce_log", // SQLite keeps nonces in memory and logs hashes per commit; PostgreSQL shares them in `nonces`
]);
const POSTGRES_ONLY = new Set([
  "nonces", // replicas must refuse each other's nonces
  "rate_limits", // replicas share one rate per client (SQLite: memory)
  "leader_lease", // who leads (SQLite: the one process)
  "schema_version", // SQLite: PRAGMA user_version
]);

type TypeClass = "integer" | "real" | "text" | "json" | "blob";

interface LogicalSchema {
  /** table -> column -> "class nullability" */
  tables: Record<string, Record<string, string>>;
  /** "table(column)" of every single-column unique key (primary keys included) */
  unique: string[];
  /** indexes created by name (not those behind a constraint) */
  indexes: string[];
}

function sqliteClass(declared: string, column: string): TypeClass {
  const t = declared.toUpperCase();
  if (t.includes("INT")) return "integer";
  if (t === "REAL") return "real";
  if (t === "BLOB") return "blob";
  // SQLite keeps JSON as TEXT; the engines agree on it by name
  return column.endsWith("_json") ? "json" : "text";
}

function pgClass(dataType: string): TypeClass {
  if (["bigint", "integer", "smallint", "boolean"].includes(dataType)) return "integer"; // SQLite's booleans are 0/1
  if (["double precision", "real", "numeric"].includes(dataType)) return "real";
  if (dataType === "json" || dataType === "jsonb") return "json";
  if (dataType === "bytea") return "blob";
  return "text";
}

function sqliteSchema(): LogicalSchema {
  const db = new Database(":memory:");
  migrate(db);
  const tables: LogicalSchema["tables"] = {};
  const unique: string[] = [];
  const names = db
    .query<{ name: string }, []>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .all()
    .map((r) => r.name)
    .filter((n) => !SQLITE_ONLY.has(n));
  for (const table of names) {
    const columns = db
      .query<{ name: string; type: string; notnull: number; pk: number }, []>(`PRAGMA table_info(${table})`)
      .all();
    tables[table] = Object.fromEntries(
      columns.map((c) => [
        c.name,
        `${sqliteClass(c.type, c.name)} ${c.notnull || c.pk ? "not null" : "null"}`,
      ]),
    );
    const pk = columns.filter((c) => c.pk > 0);
    if (pk.length === 1) unique.push(`${table}(${pk[0]?.name})`);
    for (const idx of db
      .query<{ name: string; unique: number; origin: string }, []>(`PRAGMA index_list(${table})`)
      .all()) {
      if (!idx.unique || idx.origin === "pk") continue;
      const cols = db.query<{ name: string }, []>(`PRAGMA index_info(${idx.name})`).all();
      if (cols.length === 1) unique.push(`${table}(${cols[0]?.name})`);
    }
  }
  const indexes = db
    .query<{ name: string; tbl_name: string }, []>(
      "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
    )
    .all()
    .filter((r) => !SQLITE_ONLY.has(r.tbl_name))
    .map((r) => r.name);
  db.close();
  return { tables: sortKeys(tables), unique: unique.sort(), indexes: indexes.sort() };
}

async function postgresSchema(): Promise<LogicalSchema> {
  const database = await createTestDatabase();
  try {
    const db = database.admin;
    const tables: LogicalSchema["tables"] = {};
    const columns =
      await db`SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
      WHERE table_schema = 'public'`;
    for (const c of columns) {
      if (POSTGRES_ONLY.has(c.table_name)) continue;
      tables[c.table_name] ??= {};
      (tables[c.table_name] as Record<string, string>)[c.column_name] =
        `${pgClass(c.data_type)} ${c.is_nullable === "YES" ? "null" : "not null"}`;
    }
    const idx = await db`SELECT c.relname AS index, t.relname AS table, i.indisunique AS unique,
        i.indisprimary AS primary, i.indnkeyatts AS keys, pg_get_indexdef(i.indexrelid) AS def,
        EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) AS constraint
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = 'public'`;
    const unique: string[] = [];
    const indexes: string[] = [];
    for (const i of idx) {
      if (POSTGRES_ONLY.has(i.table)) continue;
      if (i.unique && i.keys === 1) {
        // a plain column, or lower(column) for names unique without regard to case
        const column = /\((?:lower\()?(\w+)/.exec(String(i.def).slice(String(i.def).indexOf(" USING ")))?.[1];
        unique.push(`${i.table}(${column})`);
      }
      // names that are NOCASE columns on SQLite are unique indexes on lower(name) here
      if (!i.constraint && !String(i.index).endsWith("_nocase")) indexes.push(i.index);
    }
    return { tables: sortKeys(tables), unique: unique.sort(), indexes: indexes.sort() };
  } finally {
    await database.drop();
  }
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

test("both engines number their migrations alike", () => {
  expect(PG_MIGRATIONS.length).toBe(MIGRATIONS.length);
  expect(PG_SCHEMA_VERSION).toBe(MIGRATIONS.length);
  // PostgreSQL's list: empty up to its first version, then one entry per version
  const first = PG_MIGRATIONS.findIndex((m) => m !== null);
  expect(PG_MIGRATIONS.slice(first).every((m) => typeof m === "string" && m.trim().length > 0)).toBe(true);
});

test("sentinel migrate copies every table, or says why not (a new migration's table is not forgotten)", () => {
  const copied = new Set<string>(COPIED_TABLES);
  const tables = [...Object.keys(sqliteSchema().tables), ...SQLITE_ONLY, ...POSTGRES_ONLY];
  expect(tables.filter((t) => !copied.has(t) && !(t in NOT_COPIED))).toEqual([]);
  expect(Object.keys(NOT_COPIED).filter((t) => copied.has(t))).toEqual([]);
});

describe.skipIf(!TEST_POSTGRES)("SQLite and PostgreSQL end at the same logical schema", () => {
  test("tables, columns, types, nullability, unique keys and named indexes", async () => {
    const sqlite = sqliteSchema();
    const postgres = await postgresSchema();
    expect(Object.keys(postgres.tables)).toEqual(Object.keys(sqlite.tables));
    for (const table of Object.keys(sqlite.tables))
      expect({ table, ...postgres.tables[table] }).toEqual({
        table,
        ...sqlite.tables[table],
      });
    expect(postgres.unique).toEqual(sqlite.unique);
    expect(postgres.indexes).toEqual(sqlite.indexes);
  }, 30_000);
});
