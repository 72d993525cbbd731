/**
 * The store port: every repository interface and row type, in one place. Everything outside
 * src/server/store talks to this (through store/index.ts), never to an engine. Two engines
 * implement it: sqlite/ (bun:sqlite, embedded, the default) and postgres/ (Bun's SQL client,
 * for several server replicas on one database).
 *
 * Every method is async. Writes that belong together run in `store.transaction(async (tx) => …)`
 * and use `tx`'s repositories (never the store's) until it resolves: the SQLite engine has one
 * connection, so the store's own repositories wait for the transaction to end, and using them
 * inside it is refused with an error instead of a deadlock. JSON columns travel as parsed values.
 */
import type { OracleSighting, ReportV1 } from "../../protocol/report.ts";
import type { ClientSettings } from "../monitor/settings.ts";
import type { ClientState } from "../monitor/types.ts";

export type ApiRole = "admin" | "viewer";

// ---------------------------------------------------------------------------------------------
// clients

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
  /** when the overall status last changed ("red for 14 min"); null until first judged */
  statusSince: number | null;
  /** why the status is what it is, as cause codes ("bypass:leak", "offline"; monitor/causes.ts) */
  causes: string[];
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
  settings: ClientSettings;
  /** the judged state as of the last change (its liveness fields may be older than the columns) */
  state: ClientState | null;
  /** the last report that changed something */
  lastReport: ReportV1 | null;
  lastSourceIp: string | null;
  /** the client's observed_at of its latest report */
  lastObservedAt: number | null;
  lateAt: number | null;
  offlineAt: number | null;
  nextCheckAt: number | null;
  /**
   * Bumped by every write of the judged state (applyReport, casState), not by heartbeats: a
   * replica that remembers how it judged revision N knows nobody judged this client since.
   */
  revision: number;
}

/** A client's columns: the record without its judged state and last report (the large parts). */
export type ClientColumns = Omit<ClientRecord, "state" | "lastReport">;

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
  state: ClientState | null;
  status: string;
  liveness: string;
  lateAt: number | null;
  offlineAt: number | null;
  nextCheckAt: number | null;
  /** cause codes of the status (see ClientSummary.causes) */
  causes: string[];
  /** when the change happened: becomes statusSince when the status changes */
  at: number;
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
  state: ClientState;
  lastReport: ReportV1;
  exit: ExitSummary | null;
  lastSourceIp: string | null;
  lastReportAt: number;
  lastObservedAt: number;
  status: string;
  liveness: string;
  lateAt: number | null;
  offlineAt: number | null;
  nextCheckAt: number | null;
  /** cause codes of the status (absent: none); lastReportAt becomes statusSince when the status changes */
  causes?: string[];
}

export interface ClientRepository {
  create(c: NewClient): Promise<void>;
  get(id: string): Promise<ClientRecord | null>;
  /**
   * The client, locked against other writers until the transaction ends (PostgreSQL: SELECT …
   * FOR UPDATE; SQLite's one writer needs no lock). Use inside a transaction only.
   */
  getForUpdate(id: string): Promise<ClientRecord | null>;
  /**
   * The client's columns, locked like getForUpdate, without its state and last report: the
   * report path takes the state from its cache when `revision` says it is current, and reads
   * it only when it is not (PostgreSQL: one narrow row instead of two JSON documents).
   */
  lockColumns(id: string): Promise<ClientColumns | null>;
  getByName(name: string): Promise<ClientRecord | null>;
  list(): Promise<ClientRecord[]>;
  /** The clients whose overall status is `status` (indexed), in no particular order. */
  withStatus(status: string): Promise<ClientRecord[]>;
  /** Up to `limit` clients ordered by name (case-insensitive), after the one named `after`. */
  page(after: string | null, limit: number): Promise<ClientRecord[]>;
  /** Every client, light (see ClientSummary), ordered by name. */
  summaries(): Promise<ClientSummary[]>;
  /** The clients with these ids that exist, in no particular order. */
  getMany(ids: readonly string[]): Promise<ClientRecord[]>;
  /** How many clients have each overall status (one indexed count, no rows read). */
  countByStatus(): Promise<Record<string, number>>;
  /** The ids of the clients whose settings say paused, or muted at `now` (a list filter). */
  withFlag(flag: "paused" | "muted", now: number): Promise<string[]>;
  remove(id: string): Promise<boolean>;
  updateSettings(id: string, settings: ClientSettings): Promise<void>;
  /** Installs a new secret; the previous one stays valid until `prevUntil` (ms). */
  rotateSecret(id: string, secretEnc: string, prevUntil: number): Promise<void>;
  /** Replaces every client's encrypted secret (server key rotation). */
  reencryptSecrets(reencrypt: (enc: string) => string): Promise<number>;
  applyReport(id: string, u: ClientUpdate): Promise<void>;
  heartbeat(id: string, h: Heartbeat): Promise<void>;
  /** Clients the sweeper must look at: next_check_at at or before `now`. */
  dueForSweep(now: number, limit: number): Promise<ClientRecord[]>;
  /**
   * Compare-and-set state change: succeeds only if the client still has the liveness and last
   * report time the caller read, so two sweepers (or a sweeper racing a report) never both flip.
   */
  casState(
    id: string,
    expect: { liveness: string; lastReportAt: number | null },
    next: StateChange,
  ): Promise<boolean>;
}

// ---------------------------------------------------------------------------------------------
// nonces and rate limits (the report path's memory, shared by replicas on PostgreSQL)

/**
 * Nonces a client has used, for as long as their timestamps could pass the freshness check.
 * A use belongs to the transaction it is made in: rolled back with it, so a report that was
 * not stored never burns its nonce.
 */
export interface NonceRepository {
  /** Records the nonce; false when it was used before (a replay). */
  use(clientId: string, nonce: string, expiresAt: number, now: number): Promise<boolean>;
  /** Forgets nonces that expired before `now`. */
  prune(now: number): Promise<number>;
}

/** Token buckets per (bucket, key): in memory for one process, in the database for replicas. */
export interface RateLimitRepository {
  /**
   * Takes one token from `key`'s bucket in `bucket` (e.g. "report" + client id). Returns 0 when
   * allowed, else the seconds until a token is available.
   */
  take(bucket: string, key: string, ratePerS: number, burst: number, now: number): Promise<number>;
}

// ---------------------------------------------------------------------------------------------
// the DNS oracle's sightings (src/server/dns/): who asked for which name

/**
 * The DNS listener writes a sighting before it answers, and the report that carries the name
 * takes it, on whichever replica each runs: a table, not process memory.
 */
export interface OracleRepository {
  /** Records who asked for a name; kept until `expiresAt` unless a report takes it first. */
  record(sighting: OracleSighting, expiresAt: number): Promise<void>;
  /** The sightings of these names (lower case), oldest first, removed: each attaches to one report. */
  take(names: readonly string[]): Promise<OracleSighting[]>;
  /** Forgets sightings that expired before `now`. */
  prune(now: number): Promise<number>;
}

// ---------------------------------------------------------------------------------------------
// events and history

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
  /**
   * text search: events whose reason contains `text` (case-insensitive), or whose client or
   * kind is one of those the caller found by name or title
   */
  search?: { text: string; clientIds: readonly string[]; kinds: readonly string[] };
  limit: number;
}

export interface EventRepository {
  append(e: NewEvent): Promise<number>;
  query(q: EventQuery): Promise<EventRecord[]>;
  count(): Promise<number>;
}

/** What the IP database said about an address when a history row was written. */
export interface AddressInfo {
  ip: string;
  country: string | null;
  asn: number | null;
  org: string | null;
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
  /**
   * cause codes of the status, comma-separated, sorted ("bypass:leak,offline"); null on rows
   * written before causes were kept (their causes are unknown)
   */
  causes?: string | null;
  /** country and AS of the exits and resolvers as known then; not compared by record() */
  detail?: { exits: AddressInfo[]; resolvers: AddressInfo[] } | null;
}

export interface ClientHistoryRow extends HistoryRow {
  clientId: string;
}

/** How long one address was a client's exit within a window (see HistoryRepository.exitTimes). */
export interface ExitTime {
  ip: string;
  ms: number;
}

export interface HistoryRepository {
  /** Appends a row only when it differs from the client's latest one; true when it did. */
  record(clientId: string, row: HistoryRow): Promise<boolean>;
  /** Rows in [from, to], plus the last row before `from` (what was true when the window opened). */
  range(clientId: string, from: number, to: number): Promise<HistoryRow[]>;
  /**
   * range() for many clients at once (`clientIds` null: every client that exists), ordered by
   * client, then time: one indexed look-up per client for the row in force, then the rows.
   * `inForce: false` leaves out the rows in force (the caller knows them: a rollup's carry);
   * `statusOnly` reads time, status, liveness and causes only (exits and detail come back null):
   * what summaries fold, at a fraction of the cost for 10,000 clients.
   */
  rangeMany(
    clientIds: readonly string[] | null,
    from: number,
    to: number,
    opts?: { inForce?: boolean; statusOnly?: boolean },
  ): Promise<ClientHistoryRow[]>;
  /** The time of the oldest history row, or null when there is none. */
  firstAt(): Promise<number | null>;
  /**
   * How long each address was the client's exit within [from, to], from the history rows: each
   * row's stretch (until the next row, or `to`) counts for its IPv4 exit, else its IPv6 one,
   * while the client was reporting (online or late; offline stretches say nothing about the
   * exit). Longest first. Summed by the database, so a long history is never loaded.
   */
  exitTimes(clientId: string, from: number, to: number): Promise<ExitTime[]>;
  recordServerDowntime(from: number, to: number): Promise<void>;
  serverDowntimes(from: number, to: number): Promise<{ from: number; to: number }[]>;
  /** Deletes history and events older than `before`; returns rows removed. */
  prune(before: number): Promise<number>;
}

// ---------------------------------------------------------------------------------------------
// daily rollups: what summaries and reports need, kept beyond --retention of raw history

/** The incident kinds counted in summaries: the five ways a VPN stops protecting. */
export type IncidentKind = "bypass" | "dns" | "ipv6" | "exit" | "offline";

/**
 * Sums over a stretch of time (a day, or a client's running total since its first day). Time is
 * counted only while known: not before the client was first seen, not while the server was down.
 */
export interface Totals {
  knownMs: number;
  /** online or late */
  upMs: number;
  greenMs: number;
  yellowMs: number;
  redMs: number;
  greyMs: number;
  /** status changes */
  changes: number;
  /** per incident kind: how many began, and the known time spent in it */
  bypassN: number;
  bypassMs: number;
  dnsN: number;
  dnsMs: number;
  ipv6N: number;
  ipv6Ms: number;
  exitN: number;
  exitMs: number;
  offlineN: number;
  offlineMs: number;
  /** red stretches that ended, and their whole length (wall clock, from turning red) */
  recoveredN: number;
  recoveredMs: number;
}

/** What is still going on at the end of a rolled-up day, so the next day counts it right. */
export interface RollupCarry {
  /** since when the client has been red, if it is */
  redSince: number | null;
  /** incidents under way, with their start */
  open: Partial<Record<IncidentKind, number>>;
  /** the status at the end of the day, so a change right at midnight is counted */
  status?: string | null;
  /**
   * the history row in force at the end of the day (what the next day starts with), so the
   * next day is folded from its own rows without looking up each client's older row
   */
  last?: Pick<HistoryRow, "at" | "status" | "liveness" | "causes"> | null;
}

/** One client's row for one UTC day: running totals since its first rolled-up day. */
export interface ClientDay {
  clientId: string;
  /** UTC day number: floor(ms / 86,400,000) */
  day: number;
  running: Totals;
  carry: RollupCarry;
}

/** The whole fleet's sums for one UTC day (the analytics page's bars). */
export interface FleetDay {
  day: number;
  /** clients with known time that day */
  clients: number;
  totals: Totals;
}

export interface RollupRepository {
  /** Writes one day: every client's running totals and the fleet's sums (replacing that day). */
  writeDay(day: number, clients: readonly ClientDay[], fleet: FleetDay): Promise<void>;
  /**
   * Each client's latest row at or before `day` (clientIds null: every client that exists);
   * the difference of two such rows is what happened between them.
   */
  latest(day: number, clientIds?: readonly string[] | null): Promise<ClientDay[]>;
  /** One client's rows in [fromDay, toDay], oldest first. */
  clientDays(clientId: string, fromDay: number, toDay: number): Promise<ClientDay[]>;
  /** The fleet's days in [fromDay, toDay], oldest first. */
  fleetDays(fromDay: number, toDay: number): Promise<FleetDay[]>;
  /** Deletes client and fleet rows of days before `beforeDay`; returns rows removed. */
  prune(beforeDay: number): Promise<number>;
}

// ---------------------------------------------------------------------------------------------
// badges and scheduled reports

export type BadgeKind = "status" | "uptime";

/** A badge link: readable with its own token, for one client and one badge, until revoked. */
export interface BadgeRecord {
  id: string;
  clientId: string;
  kind: BadgeKind;
  /** SHA-256 of the token (the token itself is shown once) */
  tokenHash: string;
  label: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface BadgeRepository {
  create(b: BadgeRecord): Promise<void>;
  /** A client's badges, revoked ones too, newest first. */
  list(clientId: string): Promise<BadgeRecord[]>;
  findActiveByHash(hash: string): Promise<BadgeRecord | null>;
  touch(id: string, at: number): Promise<void>;
  revoke(id: string, at: number): Promise<boolean>;
}

/** One period of one report schedule: sent (its messages queued) or skipped, exactly once. */
export interface ReportRun {
  /** the schedule as configured, e.g. "mon 08:00 Europe/Berlin" */
  schedule: string;
  periodStart: number;
  /** the scheduled time the period ends at */
  periodEnd: number;
  status: "sent" | "skipped";
  /** messages queued (one per channel target) */
  queued: number;
  createdAt: number;
  note: string | null;
}

export interface ReportRunRepository {
  /** Records the run; false when this schedule's period was run before (by anyone). */
  claim(run: ReportRun): Promise<boolean>;
  /** The schedule's latest run, or null. */
  last(schedule: string): Promise<ReportRun | null>;
  /** Newest first. */
  list(limit: number): Promise<ReportRun[]>;
}

// ---------------------------------------------------------------------------------------------
// API tokens, users, sessions, audit

export interface ApiTokenRecord {
  id: string;
  name: string;
  role: ApiRole;
  tokenHash: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface ApiTokenRepository {
  create(t: ApiTokenRecord): Promise<void>;
  list(): Promise<ApiTokenRecord[]>;
  findActiveByHash(hash: string): Promise<ApiTokenRecord | null>;
  touch(id: string, at: number): Promise<void>;
  revoke(nameOrId: string, at: number): Promise<boolean>;
}

export interface UserRecord {
  id: string;
  name: string;
  role: ApiRole;
  passwordHash: string;
  createdAt: number;
  passwordChangedAt: number;
  lastLoginAt: number | null;
  /** consecutive failed logins since the last success */
  failedLogins: number;
  lockedUntil: number | null;
}

export type NewUser = Pick<UserRecord, "id" | "name" | "role" | "passwordHash" | "createdAt">;

export interface SessionRecord {
  /** SHA-256 of the cookie value: a leaked database cannot be replayed as a cookie */
  idHash: string;
  userId: string;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
  lastSeenAt: number;
  sourceIp: string | null;
}

export interface AuditEntry {
  id: number;
  at: number;
  /** user name, "cli" or "setup" */
  actor: string;
  action: string;
  target: string | null;
  detail: Record<string, unknown>;
  sourceIp: string | null;
}

export type NewAuditEntry = Omit<AuditEntry, "id">;

export interface AuthRepository {
  countUsers(): Promise<number>;
  createUser(u: NewUser): Promise<void>;
  getUser(id: string): Promise<UserRecord | null>;
  getUserByName(name: string): Promise<UserRecord | null>;
  listUsers(): Promise<UserRecord[]>;
  removeUser(id: string): Promise<boolean>;
  setPassword(id: string, passwordHash: string, at: number): Promise<void>;
  setRole(id: string, role: ApiRole): Promise<void>;
  /** Counts a failed login; sets locked_until when the count reaches `lockAfter`. Returns the new count. */
  recordFailedLogin(id: string, lockAfter: number, lockUntil: number): Promise<number>;
  recordLogin(id: string, at: number): Promise<void>;

  createSession(s: SessionRecord): Promise<void>;
  getSession(idHash: string): Promise<SessionRecord | null>;
  touchSession(idHash: string, at: number, expiresAt: number): Promise<void>;
  deleteSession(idHash: string): Promise<void>;
  /** Ends every session of a user except `keepIdHash` (after a password change). */
  deleteUserSessions(userId: string, keepIdHash?: string): Promise<number>;
  pruneSessions(now: number): Promise<number>;

  audit(e: NewAuditEntry): Promise<number>;
  /** Newest first; `before` is an id cursor. */
  listAudit(q: { limit: number; before?: number; actor?: string }): Promise<AuditEntry[]>;
}

// ---------------------------------------------------------------------------------------------
// the notification outbox

/**
 * A lane is one channel target (e.g. telegram + "-1001234:7"). Rows of a lane are delivered
 * strictly in id order: only the oldest open row of a lane (its head) can be claimed, so a
 * retry or a 429 holds back that lane and nothing else.
 */
export type OutboxStatus = "pending" | "sending" | "delivered" | "failed" | "suppressed";

export interface OutboxRow {
  id: number;
  eventId: number | null;
  clientId: string | null;
  /** the notification kind: an event kind, "reminder" or "digest" */
  kind: string;
  channel: string;
  target: string;
  idempotencyKey: string;
  payload: unknown;
  status: OutboxStatus;
  /** set on rows folded into a digest row: they are delivered (or fail) with it */
  digestId: number | null;
  /** failed delivery attempts so far */
  attempts: number;
  /** parts of a split message the channel already accepted */
  partsSent: number;
  nextAttemptAt: number;
  claimedBy: string | null;
  claimedUntil: number | null;
  /** why the last attempt failed, or why the row was suppressed */
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
}

export interface NewOutboxRow {
  eventId: number | null;
  clientId: string | null;
  kind: string;
  channel: string;
  target: string;
  idempotencyKey: string;
  payload: unknown;
  status: "pending" | "suppressed";
  digestId?: number | null;
  nextAttemptAt: number;
  createdAt: number;
  lastError?: string | null;
}

/** How one lane (channel + target) last fared: deliveries and test messages. */
export interface LaneRecord {
  channel: string;
  target: string;
  /** the last message the channel accepted */
  lastOkAt: number | null;
  /** the first failure after the last success; null while the lane works */
  failingSince: number | null;
  /** the last failure, kept after the lane works again */
  lastError: string | null;
  lastErrorAt: number | null;
}

/** A channel's queue: messages waiting to go out (pending or in flight), and the ones given up on. */
export interface ChannelQueue {
  waiting: number;
  oldestWaitingAt: number | null;
  failed: number;
}

export interface OutboxQuery {
  status?: OutboxStatus;
  clientId?: string;
  /** rows with id < before (newest first) */
  before?: number;
  limit: number;
}

export interface OutboxRepository {
  /** Inserts a row; returns its id, or null when the idempotency key already exists. */
  insert(row: NewOutboxRow): Promise<number | null>;
  get(id: number): Promise<OutboxRow | null>;
  /** Newest first. */
  list(q: OutboxQuery): Promise<OutboxRow[]>;
  /** Lane heads that can be claimed now: pending and due, or sending with an expired lease. */
  dueHeads(now: number, limit: number): Promise<OutboxRow[]>;
  /** The earliest time after `now`'s heads any lane head becomes claimable, or null when every lane is empty. */
  nextDueAt(now: number): Promise<number | null>;
  /** Compare-and-set claim: true only for the one caller that moved the row to sending. */
  claim(id: number, owner: string, now: number, leaseUntil: number): Promise<boolean>;
  /** Records accepted parts and extends the lease; false when the caller no longer owns the row. */
  progress(id: number, owner: string, partsSent: number, leaseUntil: number): Promise<boolean>;
  /** Marks the row (and its digest members) delivered; false when the caller no longer owns it. */
  complete(id: number, owner: string, now: number): Promise<boolean>;
  /** Gives the row back for a later attempt. */
  release(
    id: number,
    owner: string,
    next: { at: number; countAttempt: boolean; error: string | null },
  ): Promise<boolean>;
  /** Marks the row (and its digest members) failed for good, keeping the error. */
  fail(id: number, owner: string, error: string): Promise<boolean>;
  /**
   * Gives back every row `owner` still holds, due at `at`, without counting an attempt (a
   * dispatcher that stops); returns how many.
   */
  releaseClaims(owner: string, at: number): Promise<number>;
  /**
   * Open digest of a lane that still collects (not yet due), if any: the lane's burst digest
   * (clientId null) or one client's digest of alerts beyond the per-client limit.
   */
  openDigest(
    channel: string,
    target: string,
    now: number,
    clientId?: string | null,
  ): Promise<OutboxRow | null>;
  digestMembers(digestId: number): Promise<OutboxRow[]>;
  /**
   * A client's messages of its own on a lane since `since` (not suppressed, not folded into a
   * digest, not digests), and when the oldest of them was created: the per-client limit's window.
   */
  clientWindow(
    channel: string,
    target: string,
    clientId: string,
    since: number,
  ): Promise<{ count: number; oldestAt: number | null }>;
  /** Notifications of a lane created at or after `since`, excluding suppressed rows and the given kinds. */
  countRecent(
    channel: string,
    target: string,
    since: number,
    excludeKinds: readonly string[],
  ): Promise<number>;
  /** The newest row of a lane for a client (null: server-wide rows) whose kind is one of `kinds`. */
  lastForClient(
    clientId: string | null,
    kinds: readonly string[],
    channel: string,
    target: string,
  ): Promise<OutboxRow | null>;
  /** Every row of a lane that announces (or reminds of) one event. */
  forEvent(eventId: number, channel: string, target: string): Promise<OutboxRow[]>;
  countByStatus(): Promise<Record<OutboxStatus, number>>;
  /** Per channel name. */
  queues(): Promise<Map<string, ChannelQueue>>;
  /** A delivery or test message to a lane got through (`error` null) or failed. */
  recordAttempt(channel: string, target: string, at: number, error: string | null): Promise<void>;
  lanes(): Promise<LaneRecord[]>;
  /** Rows of a lane waiting out a retry delay become due at `at` (the lane works again); returns how many. */
  retryNow(channel: string, target: string, at: number): Promise<number>;
  /** Deletes finished rows (delivered, failed, suppressed) created before `before`. */
  prune(before: number): Promise<number>;
}

// ---------------------------------------------------------------------------------------------
// alert channels added in the dashboard (those of the options live in the configuration)

/** An alert channel added in the dashboard: its URL, secrets and all, sealed with the server key. */
export interface StoredChannel {
  id: string;
  /** "v1:<server key id>:<AES-GCM sealed channel URL>", like client secrets */
  urlSealed: string;
  /** the URL with every secret masked (filters kept): lists and the audit log need no key */
  display: string;
  createdAt: number;
  updatedAt: number;
}

export interface ChannelRepository {
  /** Oldest first. */
  list(): Promise<StoredChannel[]>;
  get(id: string): Promise<StoredChannel | null>;
  create(c: StoredChannel): Promise<void>;
  /** Replaces the URL; false when there is no such channel. */
  update(id: string, change: Pick<StoredChannel, "urlSealed" | "display" | "updatedAt">): Promise<boolean>;
  remove(id: string): Promise<boolean>;
  /** Replaces every sealed URL (server key rotation); returns how many. */
  reencrypt(reencrypt: (sealed: string) => string): Promise<number>;
}

// ---------------------------------------------------------------------------------------------
// server meta and aggregate counts

export interface MetaRepository {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
}

/**
 * Aggregate counts for /metrics: read-only, grouped in SQL so a scrape costs one indexed
 * query per family instead of loading every row.
 */
export interface StatsRepository {
  /** clients per (status, liveness) */
  clientsByStatus(): Promise<{ status: string; liveness: string; count: number }[]>;
  /** outbox rows per (channel, status); finished rows are pruned after a while, so these go down too */
  outboxByChannel(): Promise<{ channel: string; status: string; count: number }[]>;
  /** the earliest next_check_at at or before `now`: how far behind the sweeper is; null when nothing is due */
  oldestDueCheck(now: number): Promise<number | null>;
}

// ---------------------------------------------------------------------------------------------
// the store

/** Everything a transaction can read and write. */
export interface Repositories {
  readonly clients: ClientRepository;
  readonly nonces: NonceRepository;
  readonly limits: RateLimitRepository;
  readonly events: EventRepository;
  readonly tokens: ApiTokenRepository;
  readonly meta: MetaRepository;
  readonly history: HistoryRepository;
  readonly auth: AuthRepository;
  readonly outbox: OutboxRepository;
  readonly channels: ChannelRepository;
  readonly stats: StatsRepository;
  readonly rollups: RollupRepository;
  readonly badges: BadgeRepository;
  readonly reportRuns: ReportRunRepository;
  readonly oracle: OracleRepository;
}

/** The repositories of one open transaction. */
export interface Transaction extends Repositories {
  /** A nested unit: rolled back alone when `fn` throws (a savepoint), committed with the outer one. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` once the outermost transaction has committed (never if what registered it rolled
   * back): announcements that others act on by reading the database (dashboards, the dispatcher,
   * other replicas) must not come before the data.
   */
  afterCommit(fn: () => void): void;
}

/**
 * What just changed, after its transaction committed: the dashboard pushes fragments, caches
 * forget entries, the dispatcher wakes. Best effort; the database stays the truth.
 */
export interface ChangeMessages {
  /** a report was accepted (state may or may not have changed) */
  "client.updated": { clientId: string; changed: boolean };
  /** a client was added, removed or its settings or secret changed */
  "client.changed": { clientId: string };
  /** one transaction's events: their ids and, in the same order, their kinds */
  "events.created": { eventIds: number[]; kinds: string[] };
  /** notification rows were queued */
  "outbox.enqueued": { count: number };
  /** an alert channel was added, edited or deleted in the dashboard (every replica reloads them) */
  "channels.changed": { id: string };
  /** another process changed the database in ways not announced here (SQLite: the CLI): drop every cache */
  "store.external": Record<string, never>;
}

export type ChangeTopic = keyof ChangeMessages;

/**
 * The change feed: carries ChangeMessages between processes that share the database. SQLite
 * has one server process, so it only notices other writers (the CLI) and says "store.external";
 * PostgreSQL sends every message to every replica with LISTEN/NOTIFY.
 */
export interface ChangeFeed {
  /** Sends a message to the other processes (this one delivers locally itself). */
  publish<K extends ChangeTopic>(topic: K, message: ChangeMessages[K]): void;
  /** Messages from other processes. Returns an unsubscribe function. */
  subscribe(handler: <K extends ChangeTopic>(topic: K, message: ChangeMessages[K]) => void): () => void;
}

/**
 * Who runs the time-driven work (sweeper, home identity, reminders, dispatch). SQLite: the one
 * server process always leads (the data-dir lock keeps others out). PostgreSQL: the replica
 * holding a session advisory lock.
 */
export interface Leadership {
  /** Starts competing; `onChange(true)` when this process becomes leader, `(false)` when it stops being one. */
  start(onChange: (leading: boolean) => void): Promise<void>;
  isLeader(): boolean;
  /** The current leader as the database records it. */
  current(): Promise<{ replica: string; since: number } | null>;
  /** Gives leadership up (at shutdown), so another replica takes over at once. */
  stop(): Promise<void>;
}

export interface Readiness {
  ok: boolean;
  schemaVersion: number;
  expectedSchemaVersion: number;
  reason?: string;
}

/** Group commit (SQLite): writes of one event-loop turn share a transaction and one fsync. */
export interface GroupCommit {
  /** Runs `work` in the current batch's transaction; resolves after the commit. `work` must be atomic by itself. */
  run<T>(work: (tx: Transaction) => Promise<T>): Promise<T>;
  /** Commits what is queued now; resolves once every group committed so far is on disk. */
  flush(): Promise<void>;
}

/** Mechanisms only the embedded engine has. */
export interface SqliteCapabilities {
  /** the database file, or ":memory:" */
  readonly path: string;
  /** Writes a consistent copy of the database to `file` (which must not exist) while the server runs. */
  backupTo(file: string): Promise<void>;
  readonly groupCommit: GroupCommit;
  /** Bytes used by the database files (for measurements). */
  sizeBytes(): number;
}

/** Mechanisms only the PostgreSQL engine has. */
export interface PostgresCapabilities {
  /**
   * Runs one report's unit of work in the transaction of its batch (group commit, see
   * postgres/group-commit.ts): the reports of one event-loop turn share one transaction, and
   * their nonces, row locks and heartbeats are one statement each; resolves after the commit.
   * `fn` must be atomic by itself (its writes in one tx.transaction). Batches use at most all but
   * two of the pool's connections (the sweeper, the dashboard and the API keep theirs); when
   * more reports wait than the database serves in a moment, the call fails at once with a
   * storage failure (the report gets 503 + Retry-After) instead of queueing without end.
   */
  reportTransaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
}

export interface Store extends Repositories {
  readonly engine: "sqlite" | "postgres";
  /** Runs `fn` in one write transaction and commits when it resolves (rolls back when it throws). */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  readonly changes: ChangeFeed;
  readonly leadership: Leadership;
  /** Present on the SQLite engine only. */
  readonly sqlite?: SqliteCapabilities;
  /** Present on the PostgreSQL engine only. */
  readonly postgres?: PostgresCapabilities;
  readiness(): Promise<Readiness>;
  close(): Promise<void>;
}
