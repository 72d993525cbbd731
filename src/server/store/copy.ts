/**
 * Copies a whole database from one engine to the other (`sentinel migrate`): every table both
 * engines share, row for row, with ids kept (outbox rows point at events, digest members at
 * their digest), JSON kept byte for byte, into an empty target in one transaction, then
 * verifies the counts. Not copied (NOT_COPIED): what only one engine has (nonces, which expire
 * within minutes; rate limits; the leader's lease), what lasts minutes on both (the DNS oracle's
 * sightings) and what the target makes itself (schema version).
 *
 * Rows travel in one shape: integers as numbers, booleans as 0/1, JSON as its text.
 */
import type { Database } from "bun:sqlite";
import { SQL } from "bun";
import { migratePostgres } from "./postgres/migrate.ts";
import { migrate, openDatabase } from "./sqlite/index.ts";

/** Parents before children (client_state → clients, sessions → users). */
export const COPIED_TABLES = [
  "clients",
  "client_state",
  "api_tokens",
  "users",
  "sessions",
  "events",
  "outbox",
  "audit_log",
  "client_history",
  "server_downtime",
  "channel_lanes",
  "notify_channels",
  "client_days",
  "fleet_days",
  "badge_tokens",
  "report_runs",
  "meta",
] as const;
export type CopiedTable = (typeof COPIED_TABLES)[number];

/** The tables of either engine that are not copied, and why. */
export const NOT_COPIED: Readonly<Record<string, string>> = {
  nonce_log: "SQLite's replay memory; used nonces expire within minutes",
  nonces: "PostgreSQL's used nonces; they expire within minutes",
  rate_limits: "token buckets refill within seconds",
  leader_lease: "the replicas elect a leader again",
  schema_version: "the target's own migrations write it",
  dns_oracle_sightings: "a sighting waits minutes at most for the report that takes it",
};

/** Each table's primary key, to read it in pages (the small tables without one: at once). */
const PRIMARY_KEY: Record<CopiedTable, readonly string[] | null> = {
  clients: ["id"],
  client_state: ["client_id"],
  api_tokens: ["id"],
  users: ["id"],
  sessions: ["id_hash"],
  events: ["id"],
  outbox: ["id"],
  audit_log: ["id"],
  client_history: ["id"],
  server_downtime: null,
  channel_lanes: null,
  notify_channels: ["id"],
  client_days: ["client_id", "day"],
  fleet_days: ["day"],
  badge_tokens: ["id"],
  report_runs: ["schedule", "period_end"],
  meta: ["key"],
};

/** Tables whose `id` the target must continue after (PostgreSQL identities; SQLite follows by itself). */
const IDENTITY_TABLES: readonly CopiedTable[] = ["events", "outbox", "audit_log", "client_history"];

/** Meta rows that say nothing about the data (readiness probes write them). */
const SCRATCH_META = ["ready_probe"];

const BATCH_ROWS = 1_000;

export type Location = { engine: "sqlite"; path: string } | { engine: "postgres"; url: string };

type Cell = string | number | null;
type Row = Record<string, Cell>;

export class CopyRefused extends Error {
  readonly exitCode = 1;
}

interface Source {
  columns(table: CopiedTable): Promise<string[]>;
  count(table: CopiedTable): Promise<number>;
  rows(table: CopiedTable, columns: string[]): AsyncIterable<Row[]>;
  close(): Promise<void>;
}

interface Writer {
  insert(table: CopiedTable, columns: string[], rows: Row[]): Promise<void>;
  /** rows in the table as the transaction sees them */
  count(table: CopiedTable): Promise<number>;
}

interface Target {
  columns(table: CopiedTable): Promise<string[]>;
  /** the first copied table that has rows, or null */
  firstNonEmpty(): Promise<CopiedTable | null>;
  /** Runs `fn` in one transaction: everything lands, or nothing. */
  transaction(fn: (writer: Writer) => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

const isJson = (column: string) => column.endsWith("_json");
/** The rows that count: all, except scratch meta. */
const copiedRows = (table: CopiedTable) =>
  table === "meta" ? `key NOT IN (${SCRATCH_META.map((k) => `'${k}'`).join(", ")})` : "TRUE";
const countSql = (table: CopiedTable) => `SELECT count(*) AS n FROM ${table} WHERE ${copiedRows(table)}`;

// ---------------------------------------------------------------------------------------------
// SQLite

function sqliteSource(path: string): Source {
  const db = openDatabase(path);
  migrate(db);
  db.exec("BEGIN"); // one snapshot for every table
  return {
    columns: async (table) =>
      db
        .query<{ name: string }, []>(`PRAGMA table_info(${table})`)
        .all()
        .map((c) => c.name),
    count: async (table) => (db.query<{ n: number }, []>(countSql(table)).get() as { n: number }).n,
    async *rows(table, columns) {
      let batch: Row[] = [];
      const select = `SELECT ${columns.join(", ")} FROM ${table} WHERE ${copiedRows(table)}`;
      for (const r of db.query<Row, []>(select).iterate()) {
        batch.push(r);
        if (batch.length === BATCH_ROWS) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length) yield batch;
    },
    async close() {
      db.exec("COMMIT");
      db.close();
    },
  };
}

function sqliteTarget(path: string): Target {
  const db: Database = openDatabase(path);
  migrate(db);
  const count = async (table: CopiedTable) =>
    (db.query<{ n: number }, []>(countSql(table)).get() as { n: number }).n;
  return {
    columns: async (table) =>
      db
        .query<{ name: string }, []>(`PRAGMA table_info(${table})`)
        .all()
        .map((c) => c.name),
    async firstNonEmpty() {
      for (const t of COPIED_TABLES) if ((await count(t)) > 0) return t;
      return null;
    },
    async transaction(fn) {
      db.exec("BEGIN IMMEDIATE");
      try {
        await fn({
          async insert(table, columns, rows) {
            const insert = db.query(
              `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
            );
            for (const r of rows) insert.run(...columns.map((c) => r[c] ?? null));
          },
          count,
        });
        db.exec("COMMIT");
      } catch (e) {
        if (db.inTransaction) db.exec("ROLLBACK");
        throw e;
      }
    },
    async close() {
      db.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

async function pgColumns(db: SQL, table: CopiedTable): Promise<{ name: string; type: string }[]> {
  const rows = await db`SELECT column_name, data_type FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = ${table} ORDER BY ordinal_position`;
  return rows.map((r: { column_name: string; data_type: string }) => ({
    name: r.column_name,
    type: r.data_type,
  }));
}

/** What each column becomes in the travelling shape. */
function pgSelectList(columns: { name: string; type: string }[]): string {
  return columns
    .map(({ name, type }) =>
      type === "json" || type === "jsonb"
        ? `${name}::text AS ${name}`
        : type === "boolean"
          ? `${name}::int AS ${name}`
          : name,
    )
    .join(", ");
}

const pgCell = (v: unknown): Cell =>
  typeof v === "string" || typeof v === "number" || v === null ? v : String(v);

async function postgresSource(url: string): Promise<Source> {
  const pool = new SQL(url, { max: 1 });
  await migratePostgres(pool);
  const conn = await pool.reserve();
  // one snapshot for every table, and no time limit on reading a big one
  await conn`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`;
  await conn`SET LOCAL statement_timeout = 0`;
  const types = new Map<CopiedTable, { name: string; type: string }[]>();
  const typed = async (table: CopiedTable) => {
    if (!types.has(table)) types.set(table, await pgColumns(conn, table));
    return types.get(table) as { name: string; type: string }[];
  };
  return {
    columns: async (table) => (await typed(table)).map((c) => c.name),
    async count(table) {
      const [r] = await conn.unsafe(countSql(table));
      return Number(r.n);
    },
    async *rows(table, columns) {
      const all = await typed(table);
      const bigints = new Set(all.filter((c) => c.type === "bigint").map((c) => c.name));
      const select = `SELECT ${pgSelectList(all.filter((c) => columns.includes(c.name)))} FROM ${table}
        WHERE ${copiedRows(table)}`;
      const key = PRIMARY_KEY[table];
      const keyList = key?.join(", ");
      const keyParams = key?.map((_, i) => `$${i + 1}`).join(", ");
      let after: Cell[] | null = null;
      for (;;) {
        // keyset pages by the primary key; a table without one is read at once
        const page: Row[] =
          key === null
            ? await conn.unsafe(select)
            : after === null
              ? await conn.unsafe(`${select} ORDER BY ${keyList} LIMIT ${BATCH_ROWS}`)
              : await conn.unsafe(
                  `${select} AND (${keyList}) > (${keyParams}) ORDER BY ${keyList} LIMIT ${BATCH_ROWS}`,
                  after,
                );
        const rows = page.map((r) => {
          const out: Row = {};
          for (const c of columns) out[c] = bigints.has(c) && r[c] !== null ? Number(r[c]) : pgCell(r[c]);
          return out;
        });
        if (rows.length) yield rows;
        if (key === null || page.length < BATCH_ROWS) return;
        const last = page.at(-1) as Row;
        after = key.map((k) => last[k] ?? null);
      }
    },
    async close() {
      await conn`COMMIT`.catch(() => {});
      await conn.close();
      await pool.close();
    },
  };
}

/** A JSON array of row objects, with JSON columns embedded as the text they are (not re-encoded). */
function rowsAsJson(columns: string[], rows: Row[]): string {
  const parts = rows.map(
    (r) =>
      `{${columns
        .map((c) => {
          const v = r[c] ?? null;
          return `${JSON.stringify(c)}:${isJson(c) && v !== null ? String(v) : JSON.stringify(v)}`;
        })
        .join(",")}}`,
  );
  return `[${parts.join(",")}]`;
}

async function postgresTarget(url: string): Promise<Target> {
  const pool = new SQL(url, { max: 1 });
  await migratePostgres(pool);
  const count = async (db: SQL, table: CopiedTable) => Number((await db.unsafe(countSql(table)))[0].n);
  return {
    columns: async (table) => (await pgColumns(pool, table)).map((c) => c.name),
    async firstNonEmpty() {
      for (const t of COPIED_TABLES) if ((await count(pool, t)) > 0) return t;
      return null;
    },
    async transaction(fn) {
      await pool.begin(async (tx) => {
        await tx`SET LOCAL statement_timeout = 0`;
        await fn({
          async insert(table, columns, rows) {
            // json_populate_recordset types each field by the table's column (0/1 to boolean too)
            const list = columns.join(", ");
            await tx.unsafe(
              `INSERT INTO ${table} (${list}) SELECT ${list} FROM json_populate_recordset(NULL::${table}, $1::text::json)`,
              [rowsAsJson(columns, rows)],
            );
          },
          count: (table) => count(tx, table),
        });
        for (const table of IDENTITY_TABLES)
          await tx.unsafe(
            `SELECT setval(pg_get_serial_sequence('${table}', 'id'), max(id)) FROM ${table} HAVING max(id) IS NOT NULL`,
          );
      });
    },
    async close() {
      await pool.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------

export interface CopiedCount {
  table: CopiedTable;
  rows: number;
}

/** A fresh lease says a replica is running: its writes after our snapshot would be lost. */
export async function runningReplica(url: string, withinMs = 15_000): Promise<string | null> {
  const db = new SQL(url, { max: 1 });
  try {
    const [present] = await db`SELECT to_regclass('leader_lease') IS NOT NULL AS yes`;
    if (!present?.yes) return null;
    const [r] = await db`SELECT replica FROM leader_lease
      WHERE heartbeat_at > (extract(epoch from clock_timestamp()) * 1000)::bigint - ${withinMs}`;
    return r ? String(r.replica) : null;
  } finally {
    await db.close();
  }
}

/**
 * Copies every shared table from `from` into the empty `to`, in one transaction, and checks
 * that each table has as many rows as the source had. Returns the counts.
 */
export async function copyDatabase(
  from: Location,
  to: Location,
  progress: (table: CopiedTable, rows: number) => void = () => {},
): Promise<CopiedCount[]> {
  const target = to.engine === "sqlite" ? sqliteTarget(to.path) : await postgresTarget(to.url);
  let source: Source | null = null;
  try {
    const occupied = await target.firstNonEmpty();
    if (occupied)
      throw new CopyRefused(
        `the target is not empty (table ${occupied} has rows); migrate only into a new database`,
      );
    source = from.engine === "sqlite" ? sqliteSource(from.path) : await postgresSource(from.url);
    const src = source;
    // the columns both sides have (the schema test keeps them equal), read before the
    // target's transaction holds its connection
    const columns = new Map<CopiedTable, string[]>();
    for (const table of COPIED_TABLES) {
      const theirs = await target.columns(table);
      const ours = await src.columns(table);
      const missing = theirs.filter((c) => !ours.includes(c));
      if (missing.length)
        throw new Error(
          `${table}: the source has no column ${missing.join(", ")} (schemas differ; upgrade sentinel)`,
        );
      columns.set(
        table,
        ours.filter((c) => theirs.includes(c)),
      );
    }
    const counts: CopiedCount[] = [];
    await target.transaction(async (writer) => {
      for (const table of COPIED_TABLES) {
        const list = columns.get(table) as string[];
        let rows = 0;
        for await (const batch of src.rows(table, list)) {
          await writer.insert(table, list, batch);
          rows += batch.length;
          progress(table, rows);
        }
        // checked before the commit: a copy that does not add up leaves the target empty
        const expected = await src.count(table);
        const landed = await writer.count(table);
        if (rows !== expected || landed !== expected)
          throw new Error(
            `${table}: the source has ${expected} rows, ${rows} were read and ${landed} are in the target`,
          );
        counts.push({ table, rows });
      }
    });
    return counts;
  } finally {
    await source?.close();
    await target.close();
  }
}
