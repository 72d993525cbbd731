/**
 * The PostgreSQL engine of the store port, through Bun's built-in SQL client: a connection
 * pool for the repositories and transactions (`sql.begin`, savepoints for nested ones), a
 * LISTEN connection for the change feed, and one more connection that holds the leader lock.
 * Bun's SQL types never leave this folder.
 */
import { SQL, type TransactionSQL } from "bun";
import type {
  ApiTokenRepository,
  AuthRepository,
  BadgeRepository,
  ChannelRepository,
  ClientRepository,
  EventRepository,
  HistoryRepository,
  MetaRepository,
  NonceRepository,
  OracleRepository,
  OutboxRepository,
  PostgresCapabilities,
  RateLimitRepository,
  Readiness,
  ReportRunRepository,
  Repositories,
  RollupRepository,
  StatsRepository,
  Store,
  Transaction,
} from "../types.ts";
import { AfterCommit } from "./after-commit.ts";
import { pgAuth } from "./auth.ts";
import { pgBadges, pgReportRuns } from "./badges.ts";
import { type ChangeFeedLog, PgChangeFeed } from "./change-feed.ts";
import { pgChannels } from "./channels.ts";
import { pgClients } from "./clients.ts";
import { type GroupCommitOptions, PgGroupCommit } from "./group-commit.ts";
import { defaultReplicaId, PgLeadership } from "./leadership.ts";
import { migratePostgres, schemaVersion } from "./migrate.ts";
import { PG_SCHEMA_VERSION } from "./migrations.ts";
import { pgOracle } from "./oracle.ts";
import { pgOutbox } from "./outbox.ts";
import { pgEvents, pgHistory, pgMeta, pgNonces, pgRateLimits, pgStats, pgTokens } from "./repositories.ts";
import { pgRollups } from "./rollups.ts";

export { PG_SCHEMA_VERSION } from "./migrations.ts";

export interface PostgresStoreOptions {
  /** connections in the pool (LISTEN, the leader lock and two for rate limits come on top) */
  poolSize?: number;
  /** a statement running longer than this is cancelled (ms; 0 = no limit) */
  statementTimeoutMs?: number;
  /** how long to wait for a new connection (s) */
  connectTimeoutS?: number;
  /** this replica's name in the lease row, pg_stat_activity and change-feed messages */
  replicaId?: string;
  /** leader-lock timing (tests shorten it) */
  leadership?: { retryMs?: number; heartbeatMs?: number; heartbeatTimeoutMs?: number; leaseTtlMs?: number };
  log?: ChangeFeedLog & { info(message: string, fields?: Record<string, unknown>): void };
}

const MAX_BATCH = 256;

export const POSTGRES_DEFAULTS = { poolSize: 10, statementTimeoutMs: 5_000, connectTimeoutS: 5 } as const;

/**
 * A connection that stops answering is noticed by the server within ~10 s (keepalive after
 * 4 s idle, then 3 probes 2 s apart): the leader lock of a replica whose machine vanished is
 * freed in time for a follower to lead within 15 s.
 */
const KEEPALIVES = { tcp_keepalives_idle: 4, tcp_keepalives_interval: 2, tcp_keepalives_count: 3 };

/** What every transaction and the store itself offer; repositories are built on first use. */
class PgRepositories implements Repositories {
  #clients?: ClientRepository;
  #nonces?: NonceRepository;
  #limits?: RateLimitRepository;
  #events?: EventRepository;
  #tokens?: ApiTokenRepository;
  #meta?: MetaRepository;
  #history?: HistoryRepository;
  #auth?: AuthRepository;
  #outbox?: OutboxRepository;
  #channels?: ChannelRepository;
  #stats?: StatsRepository;
  #oracle?: OracleRepository;
  #rollups?: RollupRepository;
  #badges?: BadgeRepository;
  #reportRuns?: ReportRunRepository;

  constructor(
    protected readonly db: SQL,
    private readonly limitsCleanup: { at: number },
    /** where rate limits go (the store's: a connection that does not wait for the WAL flush) */
    private readonly limitsDb: SQL = db,
  ) {}

  get clients() {
    this.#clients ??= pgClients(this.db);
    return this.#clients;
  }
  get nonces() {
    this.#nonces ??= pgNonces(this.db);
    return this.#nonces;
  }
  get limits() {
    this.#limits ??= pgRateLimits(this.limitsDb, this.limitsCleanup);
    return this.#limits;
  }
  get events() {
    this.#events ??= pgEvents(this.db);
    return this.#events;
  }
  get tokens() {
    this.#tokens ??= pgTokens(this.db);
    return this.#tokens;
  }
  get meta() {
    this.#meta ??= pgMeta(this.db);
    return this.#meta;
  }
  get history() {
    this.#history ??= pgHistory(this.db);
    return this.#history;
  }
  get auth() {
    this.#auth ??= pgAuth(this.db);
    return this.#auth;
  }
  get outbox() {
    this.#outbox ??= pgOutbox(this.db);
    return this.#outbox;
  }
  get channels() {
    this.#channels ??= pgChannels(this.db);
    return this.#channels;
  }
  get stats() {
    this.#stats ??= pgStats(this.db);
    return this.#stats;
  }
  get oracle() {
    this.#oracle ??= pgOracle(this.db);
    return this.#oracle;
  }
  get rollups() {
    this.#rollups ??= pgRollups(this.db);
    return this.#rollups;
  }
  get badges() {
    this.#badges ??= pgBadges(this.db);
    return this.#badges;
  }
  get reportRuns() {
    this.#reportRuns ??= pgReportRuns(this.db);
    return this.#reportRuns;
  }
}

export class PgTransaction extends PgRepositories implements Transaction {
  constructor(
    protected override readonly db: TransactionSQL,
    private readonly cleanup: { at: number },
    private readonly after: AfterCommit,
  ) {
    super(db, cleanup);
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    const mark = this.after.callbacks.length;
    try {
      return (await this.db.savepoint((sp) => fn(new PgTransaction(sp, this.cleanup, this.after)))) as T;
    } catch (e) {
      this.after.callbacks.length = mark; // what the savepoint registered was rolled back with it
      throw e;
    }
  }

  afterCommit(fn: () => void): void {
    if (this.after.ended) throw new Error("afterCommit() after its transaction ended");
    this.after.callbacks.push(fn);
  }
}

/**
 * Report batches: one per connection of all but two of the pool's (the sweeper, the dashboard
 * and the API keep theirs), up to 256 reports each, and as many waiting as fill one more batch
 * per connection. A batch that waits for a connection grows, and one big batch costs the
 * database less than several small ones; several at once keep changed reports (each a few
 * statements of its own, in turn inside its batch) from waiting behind one another. Beyond the
 * waiting ones the database cannot keep up: a report is refused at once (503 + Retry-After: the
 * client keeps it) instead of queueing without end.
 */
export function reportBatching(poolSize: number): GroupCommitOptions {
  const slots = Math.max(1, poolSize - 2);
  return { concurrent: slots, maxBatch: MAX_BATCH, maxWaiting: slots * MAX_BATCH };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

class PostgresStore extends PgRepositories implements Store {
  readonly engine = "postgres" as const;
  readonly changes: PgChangeFeed;
  readonly leadership: PgLeadership;
  readonly postgres: PostgresCapabilities;

  constructor(
    private readonly pool: SQL,
    private readonly lockClient: SQL,
    private readonly limitsPool: SQL,
    leadership: PgLeadership,
    feed: PgChangeFeed,
    private readonly cleanup: { at: number },
    private readonly readinessTimeoutMs: number,
    poolSize: number,
  ) {
    super(pool, cleanup, limitsPool);
    this.leadership = leadership;
    this.changes = feed;
    const group = new PgGroupCommit(
      (fn) => this.pool.begin(fn) as Promise<never>,
      (sql, after) => new PgTransaction(sql, cleanup, after),
      reportBatching(poolSize),
    );
    this.postgres = { reportTransaction: (fn) => group.run(fn) };
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    const after = new AfterCommit();
    try {
      const result = (await this.pool.begin((tx) => fn(new PgTransaction(tx, this.cleanup, after)))) as T;
      after.run();
      return result;
    } finally {
      after.ended = true;
    }
  }

  /** A round trip that reads the schema version: connectivity and the version in one. */
  async readiness(): Promise<Readiness> {
    const expected = PG_SCHEMA_VERSION;
    try {
      const v = await withTimeout(schemaVersion(this.pool), this.readinessTimeoutMs);
      if (v !== expected)
        return {
          ok: false,
          schemaVersion: v,
          expectedSchemaVersion: expected,
          reason: v > expected ? "the database schema is newer than this sentinel" : "migrations pending",
        };
      return { ok: true, schemaVersion: v, expectedSchemaVersion: expected };
    } catch (e) {
      return {
        ok: false,
        schemaVersion: -1,
        expectedSchemaVersion: expected,
        reason: `database unreachable: ${(e as Error).message}`,
      };
    }
  }

  async close(): Promise<void> {
    await this.changes.close();
    await this.leadership.stop();
    await this.pool.close({ timeout: 5 });
    await this.limitsPool.close({ timeout: 1 });
    await this.lockClient.close({ timeout: 1 });
  }
}

/** Opens (and migrates) a PostgreSQL store. */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const replicaId = options.replicaId ?? defaultReplicaId();
  const statementTimeoutMs = options.statementTimeoutMs ?? POSTGRES_DEFAULTS.statementTimeoutMs;
  const connectionTimeout = options.connectTimeoutS ?? POSTGRES_DEFAULTS.connectTimeoutS;
  const connection = {
    application_name: `sentinel ${replicaId}`.slice(0, 63),
    statement_timeout: statementTimeoutMs,
    ...KEEPALIVES,
  };
  const poolSize = options.poolSize ?? POSTGRES_DEFAULTS.poolSize;
  const pool = new SQL(url, { max: poolSize, connectionTimeout, connection });
  // Rate-limit buckets are no acknowledged data: a crash of PostgreSQL may forget their last
  // changes, so their statements need not wait for the WAL flush (half the flushes of a report).
  const limitsPool = new SQL(url, {
    max: 2,
    connectionTimeout,
    connection: { ...connection, synchronous_commit: "off" },
  });
  let leadership: PgLeadership | undefined;
  const lockClient = new SQL(url, {
    max: 1,
    connectionTimeout,
    connection,
    // the lock's connection closed: the leader must find out now, not at its next heartbeat
    onclose: () => leadership?.check(),
  });
  try {
    await migratePostgres(pool);
  } catch (e) {
    await pool.close();
    await limitsPool.close();
    await lockClient.close();
    throw e;
  }
  leadership = new PgLeadership(lockClient, pool, { ...options.leadership, replicaId, log: options.log });
  const feed = new PgChangeFeed(pool, replicaId, options.log);
  return new PostgresStore(
    pool,
    lockClient,
    limitsPool,
    leadership,
    feed,
    { at: 0 },
    Math.max(2_000, statementTimeoutMs),
    poolSize,
  );
}
