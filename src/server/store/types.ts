/**
 * The store's narrow interface. Everything outside src/server/store talks to this, never to
 * bun:sqlite, so a PostgreSQL implementation can follow. JSON columns travel as parsed values.
 */

export type ApiRole = "admin" | "viewer";

/** The exit a client was last judged to use (IPv4 first), or, before geo, the address it reported. */
export interface ExitSummary {
  ip: string;
  country: string | null;
  asn: number | null;
  org: string | null;
}

/**
 * What a list of many clients needs (sort, filter, count, search), read from columns only,
 * without parsing any client's state: the dashboard loads full records just for the rows it shows.
 */
export interface ClientSummary {
  id: string;
  name: string;
  status: string;
  liveness: string;
  lastReportAt: number | null;
  exit: ExitSummary | null;
}

/**
 * How a client came to be: `clients add` (or the dashboard, or an import), so it signs its
 * reports; or a keepalive on the legacy endpoint (--legacy-api-key), whose shared key may only
 * touch the clients it created itself.
 */
export type ClientOrigin = "enrolled" | "legacy";

/** A client as stored: its summary plus secrets, settings, the judged state and deadlines. */
export interface ClientRecord extends ClientSummary {
  createdAt: number;
  origin: ClientOrigin;
  secretEnc: string;
  prevSecretEnc: string | null;
  prevSecretUntil: number | null;
  policy: Record<string, unknown>;
  /** the judged state as of the last change (its liveness fields may be older than the columns) */
  state: unknown | null;
  /** the last report that changed something */
  lastReport: unknown | null;
  lastSourceIp: string | null;
  /** the client's observed_at of its latest report */
  lastObservedAt: number | null;
  lateAt: number | null;
  offlineAt: number | null;
  nextCheckAt: number | null;
}

export interface NewClient {
  id: string;
  name: string;
  createdAt: number;
  secretEnc: string;
  /** default "enrolled" */
  origin?: ClientOrigin;
}

/** A state change not caused by a report (sweeper, server start, settings). */
export interface StateChange {
  state: unknown;
  status: string;
  liveness: string;
  lateAt: number | null;
  offlineAt: number | null;
  nextCheckAt: number | null;
}

/** An unchanged report: only the liveness columns move. */
export interface Heartbeat {
  lastSourceIp: string | null;
  lastReportAt: number;
  lastObservedAt: number;
  lateAt: number | null;
  offlineAt: number | null;
  nextCheckAt: number | null;
}

/** What one accepted report changes: written in one transaction with its events. */
export interface ClientUpdate {
  state: unknown;
  lastReport: unknown;
  exit: ExitSummary | null;
  lastSourceIp: string | null;
  lastReportAt: number;
  lastObservedAt: number;
  status: string;
  liveness: string;
  lateAt: number | null;
  offlineAt: number | null;
  nextCheckAt: number | null;
}

export interface EventRecord {
  id: number;
  clientId: string | null;
  kind: string;
  from: string | null;
  to: string | null;
  evidence: Record<string, unknown>;
  at: number;
  suppressed: boolean;
}

export type NewEvent = Omit<EventRecord, "id">;

export interface EventQuery {
  clientId?: string;
  kinds?: string[];
  since?: number;
  /** return events with id < before (cursor pagination, newest first) */
  before?: number;
  limit: number;
}

export interface ApiTokenRecord {
  id: string;
  name: string;
  role: ApiRole;
  tokenHash: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface ClientRepository {
  create(c: NewClient): void;
  get(id: string): ClientRecord | null;
  /** Changes committed by other processes (the CLI) since this connection last looked. */
  externalChangeCounter(): number;
  getByName(name: string): ClientRecord | null;
  list(): ClientRecord[];
  /** The clients whose overall status is `status` (indexed), in no particular order. */
  withStatus(status: string): ClientRecord[];
  /** Up to `limit` clients ordered by name (case-insensitive), after the one named `after`. */
  page(after: string | null, limit: number): ClientRecord[];
  /** Every client, light (see ClientSummary), ordered by name. */
  summaries(): ClientSummary[];
  /** The clients with these ids that exist, in no particular order. */
  getMany(ids: readonly string[]): ClientRecord[];
  /** How many clients have each overall status (one indexed count, no rows read). */
  countByStatus(): Record<string, number>;
  remove(id: string): boolean;
  updatePolicy(id: string, policy: Record<string, unknown>): void;
  /** Installs a new secret; the previous one stays valid until `prevUntil` (ms). */
  rotateSecret(id: string, secretEnc: string, prevUntil: number): void;
  /** Replaces every client's encrypted secret (server key rotation). */
  reencryptSecrets(reencrypt: (enc: string) => string): number;
  applyReport(id: string, u: ClientUpdate): void;
  heartbeat(id: string, h: Heartbeat): void;
  /** Clients the sweeper must look at: next_check_at at or before `now`. */
  dueForSweep(now: number, limit: number): ClientRecord[];
  /**
   * Compare-and-set state change: succeeds only if the client still has the liveness and last
   * report time the caller read, so two sweepers (or a sweeper racing a report) never both flip.
   */
  casState(id: string, expect: { liveness: string; lastReportAt: number | null }, next: StateChange): boolean;
}

/**
 * The log of accepted nonces (see ReplayGuard, which answers "seen before?"): one row per
 * commit, holding its nonces' hashes and the latest of their expiry times.
 */
export interface NonceRepository {
  append(hashes: readonly number[], expiresAt: number): void;
  /** every row not yet expired at `now` */
  live(now: number): { hashes: number[]; expiresAt: number }[];
  prune(now: number): number;
}

export interface EventRepository {
  append(e: NewEvent): number;
  query(q: EventQuery): EventRecord[];
  count(): number;
}

export interface ApiTokenRepository {
  create(t: ApiTokenRecord): void;
  list(): ApiTokenRecord[];
  findActiveByHash(hash: string): ApiTokenRecord | null;
  touch(id: string, at: number): void;
  revoke(nameOrId: string, at: number): boolean;
}

/** One stretch of a client's history: from `at` until the next row, it looked like this. */
export interface HistoryRow {
  at: number;
  status: string;
  liveness: string;
  exitIpv4: string | null;
  exitIpv6: string | null;
  /** resolver egress addresses, comma-separated, sorted */
  resolvers: string | null;
}

export interface HistoryRepository {
  /** Appends a row only when it differs from the client's latest one; true when it did. */
  record(clientId: string, row: HistoryRow): boolean;
  /** Rows in [from, to], plus the last row before `from` (what was true when the window opened). */
  range(clientId: string, from: number, to: number): HistoryRow[];
  recordServerDowntime(from: number, to: number): void;
  serverDowntimes(from: number, to: number): { from: number; to: number }[];
  /** Deletes history and events older than `before`; returns rows removed. */
  prune(before: number): number;
}

export interface MetaRepository {
  get(key: string): string | null;
  set(key: string, value: string): void;
}

export interface Readiness {
  ok: boolean;
  schemaVersion: number;
  expectedSchemaVersion: number;
  reason?: string;
}

export interface Store {
  readonly clients: ClientRepository;
  readonly nonces: NonceRepository;
  readonly events: EventRepository;
  readonly tokens: ApiTokenRepository;
  readonly meta: MetaRepository;
  readonly history: HistoryRepository;
  readonly auth: import("./auth.ts").AuthRepository;
  readonly outbox: import("./outbox.ts").OutboxRepository;
  readonly stats: import("./stats.ts").StatsRepository;
  /** Writes a consistent copy of the database to `file` (which must not exist) while the server runs. */
  backupTo(file: string): void;
  /** Runs fn in one write transaction (BEGIN IMMEDIATE). */
  transaction<T>(fn: () => T): T;
  readiness(): Readiness;
  /** Bytes used by the database files (for measurements). */
  sizeBytes(): number;
  close(): void;
}
