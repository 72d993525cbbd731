/**
 * ClientMonitor: the I/O shell around the pure evaluator and liveness rules. Each accepted
 * report is judged and persisted with its flips (and their notifications) in one transaction;
 * a sweeper acts on deadlines stored in the database, with compare-and-set, so restarts and
 * concurrent sweepers never invent or double an alert.
 */
import type { Logger } from "../../cli/common.ts";
import type { ReportV1 } from "../../protocol/report.ts";
import type { AcceptedReport, AcceptResult } from "../api/reports/service.ts";
import type { Broker } from "../broker.ts";
import type { ClientCache } from "../client-cache.ts";
import type { GeoLookup } from "../geo/types.ts";
import type {
  ClientRecord,
  EventRecord,
  ExitSummary,
  Heartbeat,
  HistoryRow,
  NewEvent,
  Store,
} from "../store/index.ts";
import {
  applyPolicy,
  DEFAULT_CLIENT_POLICY,
  evaluateReport,
  initialClientState,
  judgedAgainst,
  rejudgeState,
} from "./evaluate.ts";
import {
  afterServerStart,
  DEFAULT_GRACE_S,
  nextDeadline,
  pendingDeadlines,
  serverDowntime,
  sweepClient,
} from "./liveness.ts";
import { statusReasons } from "./status.ts";
import type { ClientPolicy, ClientState, Flip, HomeIdentity } from "./types.ts";

export interface MonitorDeps {
  store: Store;
  now: () => number;
  logger: Logger;
  geo: GeoLookup;
  broker: Broker;
  /** the home identity to judge against, always the current one */
  home: () => HomeIdentity;
  /** server-wide defaults for every client's policy */
  defaults?: { dnsAllowAsns?: number[]; graceS?: number };
  /**
   * Called inside the transaction that stores events, so notifications are queued atomically
   * with the flips that cause them (the outbox).
   */
  onEvents?: (events: EventRecord[], client: ClientRecord | null) => number;
  /** history and events older than this are deleted (hourly); 0 or absent keeps everything */
  retentionMs?: number;
  /** the report path's client cache; absent = read the store every time */
  cache?: ClientCache;
  /** skip re-judging a report that says exactly what the last one said (default on) */
  fastPath?: boolean;
  /** how often the sweeper looks for due deadlines */
  sweepIntervalMs?: number;
  /** where storage errors of a sweeper pass go (logged once a minute, not every pass) */
  storage?: { failed(where: string, e: unknown): string | null };
}

/** The policy fields a user can set per client (PATCH /api/v1/clients/:id), stored as JSON. */
export interface ClientSettings {
  interval_s?: number | null;
  grace_s?: number | null;
  expected_country?: string | null;
  expected_asn?: number | null;
  paused?: boolean;
  /** ms since the epoch; alerts are held until then */
  muted_until?: number | null;
  dns_allow_asns?: number[];
}

const ALIVE_KEY = "server.alive_at";
/** Clients read and re-judged per step after a home change, between two turns of the event loop. */
const REJUDGE_PAGE = 100;
const ALIVE_EVERY_MS = 5_000;
/** How often heartbeats held in memory are written (and announced to dashboards). */
const HEARTBEATS_EVERY_MS = 2_000;

export class ClientMonitor {
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastAliveWrite = 0;
  private lastBeatsWrite = 0;
  private lastPrune = 0;
  /** notification rows queued by the transaction that just committed */
  private queuedSinceCommit = 0;
  /** what each client's last judged report said (see materialKey); memory only, so a restart re-judges once */
  private readonly materialKeys = new Map<string, bigint>();
  /**
   * Heartbeats not yet in the database. Unchanged reports only move liveness columns, so the
   * sweeper writes them together every HEARTBEATS_EVERY_MS instead of one row per report (a
   * client reporting every second is one write per 2 s); the report cache holds them meanwhile.
   * A client whose stored deadline is due but has a heartbeat here is not silent: the sweeper
   * writes the heartbeats before it judges anyone.
   */
  private readonly unwrittenBeats = new Map<string, Heartbeat>();
  /** the re-judging pass under way (see rejudgeStale), and whether another must follow it */
  private rejudging: Promise<number> | undefined;
  private rejudgeAgain = false;
  private stopped = false;

  constructor(private readonly deps: MonitorDeps) {}

  policyOf(client: ClientRecord): ClientPolicy {
    const s = client.policy as ClientSettings;
    return {
      ...DEFAULT_CLIENT_POLICY,
      dns_allow_asns: s.dns_allow_asns ??
        this.deps.defaults?.dnsAllowAsns ?? [...DEFAULT_CLIENT_POLICY.dns_allow_asns],
      paused: s.paused ?? false,
      interval_s: s.interval_s ?? null,
      grace_s: s.grace_s ?? this.deps.defaults?.graceS ?? DEFAULT_GRACE_S,
      expected_country: s.expected_country ?? null,
      expected_asn: s.expected_asn ?? null,
    };
  }

  /**
   * The client's state. A heartbeat only moves the liveness columns (see acceptReport), so
   * those are laid over the stored JSON, which is as of the last change.
   */
  stateOf(client: ClientRecord): ClientState | null {
    const s = client.state as ClientState | null;
    if (s?.version !== 1) return null;
    return {
      ...s,
      last_report_at: client.lastReportAt ?? s.last_report_at,
      observed_at: client.lastObservedAt ?? s.observed_at,
      late_at: client.lateAt,
      offline_at: client.offlineAt,
    };
  }

  acceptReport(r: AcceptedReport): AcceptResult {
    const { store } = this.deps;
    // Read again inside the write: with group commit, r.client was read before earlier
    // reports of the same batch were applied.
    const stored = (this.deps.cache ?? store.clients).get(r.client.id) ?? r.client;
    const beat = this.unwrittenBeats.get(stored.id);
    const client = beat ? { ...stored, ...beat } : stored;
    const previous = this.stateOf(client);
    const home = this.deps.home();
    const key = materialKey(r.report, r.sourceIp, home, client.policy);
    if (previous && this.isUnchanged(client, previous, key, r.report))
      return this.heartbeat(client, previous, r);

    const judged = evaluateReport({
      report: r.report,
      sourceIp: r.sourceIp,
      policy: this.policyOf(client),
      home,
      previous,
      geo: this.deps.geo,
      now: r.receivedAt,
      replayed: r.report.replayed === true,
    });
    const state = judged.state;
    const update = {
      state,
      lastReport: r.report,
      exit: exitSummary(state, r.report),
      lastSourceIp: r.sourceIp,
      lastReportAt: state.last_report_at ?? r.receivedAt,
      lastObservedAt: state.observed_at ?? Date.parse(r.report.observed_at),
      ...columnsOf(state),
    };
    const updated = { ...client, ...update };
    const events = store.transaction(() => {
      store.clients.applyReport(client.id, update);
      this.unwrittenBeats.delete(client.id); // the update carries the liveness columns too
      if (previous === null || historyDiffers(previous, state))
        store.history.record(client.id, historyRowOf(state, update.lastReportAt));
      return this.storeFlips(updated, judged.flips);
    });
    this.deps.cache?.set(updated);
    if (r.report.replayed) this.materialKeys.delete(client.id);
    else this.materialKeys.set(client.id, key);
    this.published(client.id, events, true);
    return { nextReportInS: state.interval_s, status: state.status, reasons: statusReasons(state) };
  }

  /**
   * True when re-judging would change nothing: a live (not replayed) report saying exactly what
   * the previous one said, with home and settings unchanged, from a client that is online and
   * not flapping. test/fast-path.test.ts checks the shortcut agrees with full evaluation.
   */
  private isUnchanged(client: ClientRecord, previous: ClientState, key: bigint, report: ReportV1): boolean {
    return (
      this.deps.fastPath !== false &&
      !report.replayed &&
      this.materialKeys.get(client.id) === key &&
      previous.liveness === "online" &&
      !previous.paused &&
      previous.flap.flapping_since === null
    );
  }

  /** An unchanged report: move the deadlines (written and announced by a later sweep), store no event. */
  private heartbeat(client: ClientRecord, previous: ClientState, r: AcceptedReport): AcceptResult {
    const observedAt = Date.parse(r.report.observed_at);
    const deadlines = pendingDeadlines({ ...previous, from: r.receivedAt });
    const next = { ...previous, last_report_at: r.receivedAt, observed_at: observedAt, ...deadlines };
    const beat: Heartbeat = {
      lastSourceIp: r.sourceIp,
      lastReportAt: r.receivedAt,
      lastObservedAt: observedAt,
      lateAt: deadlines.late_at,
      offlineAt: deadlines.offline_at,
      nextCheckAt: nextDeadline(next),
    };
    this.unwrittenBeats.set(client.id, beat);
    this.deps.cache?.set({ ...client, ...beat });
    return { nextReportInS: previous.interval_s, status: previous.status, reasons: statusReasons(previous) };
  }

  /** A report built by the server itself (legacy keepalive) goes through the same path. */
  acceptServerBuiltReport(client: ClientRecord, report: ReportV1, sourceIp: string | null): AcceptResult {
    return this.acceptReport({ client, report, sourceIp, receivedAt: this.deps.now() });
  }

  /** After a failed commit: re-judge every client's next report in full. */
  forgetJudgements(): void {
    this.materialKeys.clear();
  }

  /** Applies changed settings (interval, grace, pause, expectations) to the stored state. */
  settingsChanged(clientId: string): void {
    const { store, now } = this.deps;
    this.writeHeartbeats();
    const client = store.clients.get(clientId);
    if (!client) return;
    const policy = this.policyOf(client);
    const state = applyPolicy(this.stateOf(client) ?? initialClientState(policy), policy, now());
    store.clients.casState(
      client.id,
      { liveness: client.liveness, lastReportAt: client.lastReportAt },
      { state, ...columnsOf(state) },
    );
    this.materialKeys.delete(clientId);
    this.deps.broker.publish("client.changed", { clientId });
  }

  /**
   * Judges every client's last report again whose verdicts rest on another home identity than
   * the current one: when home is first learned (or configured, found at start) or changes, a
   * client exposed by it turns red now, not at its next report. Works through the clients a page
   * at a time, yielding between pages, so reports keep flowing; a second call while one runs
   * makes it go over the clients once more. Resolves to the number of clients re-judged.
   */
  async rejudgeStale(): Promise<number> {
    if (this.rejudging) {
      this.rejudgeAgain = true;
      return this.rejudging;
    }
    const run = async () => {
      let total = 0;
      do {
        this.rejudgeAgain = false;
        let after: string | null = null;
        for (;;) {
          if (this.stopped) return total;
          // the compare-and-set in rejudgePage expects the liveness columns as stored
          this.writeHeartbeats();
          const page = this.deps.store.clients.page(after, REJUDGE_PAGE);
          total += this.rejudgePage(page);
          if (page.length < REJUDGE_PAGE) break;
          after = (page.at(-1) as ClientRecord).name;
          await new Promise((resolve) => setImmediate(resolve));
        }
      } while (this.rejudgeAgain);
      return total;
    };
    this.rejudging = run()
      .then((total) => {
        if (total)
          this.deps.logger.info(`home identity changed: judged the last report of ${total} client(s) again`);
        return total;
      })
      .catch((e) => {
        this.deps.logger.error(`re-judging clients after a home change failed: ${(e as Error).message}`);
        return 0;
      })
      .finally(() => {
        this.rejudging = undefined;
      });
    return this.rejudging;
  }

  /** One page of clients: those judged against another home are judged again, in one transaction. */
  private rejudgePage(clients: ClientRecord[]): number {
    const { store, now, broker } = this.deps;
    const home = this.deps.home();
    const t = now();
    const judged = clients.flatMap((client) => {
      const state = this.stateOf(client);
      if (state === null || state.verdicts === null || client.lastReport === null) return [];
      if (judgedAgainst(state, home)) return [];
      const { state: next, flips } = rejudgeState({
        state,
        report: client.lastReport as ReportV1,
        sourceIp: client.lastSourceIp,
        policy: this.policyOf(client),
        home,
        geo: this.deps.geo,
        now: t,
      });
      return [{ client, state, next, flips }];
    });
    if (judged.length === 0) return 0;
    const stored = store.transaction(() =>
      judged.flatMap(({ client, state, next, flips }) => {
        const won = store.clients.casState(
          client.id,
          { liveness: client.liveness, lastReportAt: client.lastReportAt },
          { state: next, ...columnsOf(next) },
        );
        if (!won) return []; // a report got there first, and was judged against this home
        if (historyDiffers(state, next)) store.history.record(client.id, historyRowOf(next, t));
        const events = this.storeFlips({ ...client, state: next, ...columnsOf(next) }, flips);
        return [{ id: client.id, statusChanged: next.status !== state.status, events }];
      }),
    );
    for (const { id, statusChanged } of stored) {
      this.materialKeys.delete(id);
      this.deps.cache?.forget(id);
      // a changed status can move the row (worst first) or out of a filter: the list refetches
      broker.publish("client.updated", { clientId: id, changed: statusChanged });
    }
    this.published(
      null,
      stored.flatMap((s) => s.events),
      false,
    );
    return stored.length;
  }

  /** Stores a server-wide event (home changed, uplink down/up, server started). */
  recordServerEvent(flip: Flip): void {
    const events = this.deps.store.transaction(() => this.storeFlips(null, [flip]));
    this.published(null, events, false);
  }

  /**
   * At start: give every client a full interval + grace counted from now (no false offline
   * after a restart) and record our own downtime as unknown, not as client downtime.
   */
  start(startedAt: number): void {
    const { store, logger } = this.deps;
    const lastAlive = Number(store.meta.get(ALIVE_KEY) ?? Number.NaN);
    const downtime = serverDowntime(Number.isNaN(lastAlive) ? null : lastAlive, startedAt);
    const home = this.deps.home();
    let adjusted = 0;
    let judgedAgainstOtherHome = false;
    store.transaction(() => {
      for (const client of store.clients.list()) {
        const state = this.stateOf(client);
        if (!state) continue;
        if (state.verdicts !== null && !judgedAgainst(state, home)) judgedAgainstOtherHome = true;
        const next = afterServerStart(state, startedAt);
        if (next.late_at === state.late_at && next.offline_at === state.offline_at) continue;
        store.clients.casState(
          client.id,
          { liveness: client.liveness, lastReportAt: client.lastReportAt },
          { state: next, ...columnsOf(next) },
        );
        adjusted++;
      }
      store.meta.set(ALIVE_KEY, String(startedAt));
      if (downtime) store.history.recordServerDowntime(downtime.from, downtime.to);
    });
    if (downtime)
      logger.info(
        `server was down for ${Math.round(downtime.duration_ms / 1000)} s; recorded as unknown, not as client downtime`,
      );
    if (adjusted) logger.debug(`extended the deadlines of ${adjusted} client(s) after start`);
    this.timer = setInterval(() => this.sweep(), this.deps.sweepIntervalMs ?? 500);
    // a new --home-ip (or a home learned since) makes stored verdicts rest on an old home
    if (judgedAgainstOtherHome) void this.rejudgeStale();
  }

  /** Stops the sweeper and writes the heartbeats it has not written yet (if the disk lets it). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    try {
      this.writeHeartbeats();
    } catch (e) {
      this.deps.logger.warn(`heartbeats not written at stop: ${(e as Error).message}`);
    }
  }

  /** Writes the heartbeats held in memory, in one transaction. */
  writeHeartbeats(): void {
    this.lastBeatsWrite = this.deps.now();
    if (this.unwrittenBeats.size === 0) return;
    const { store, broker } = this.deps;
    store.transaction(() => {
      for (const [id, beat] of this.unwrittenBeats) store.clients.heartbeat(id, beat);
    });
    // dashboards re-read these rows now that the database has them
    for (const clientId of this.unwrittenBeats.keys())
      broker.publish("client.updated", { clientId, changed: false });
    this.unwrittenBeats.clear();
  }

  /** One sweeper pass: every client whose next check is due. Returns the number of flips. */
  sweep(): number {
    const { store, now, logger } = this.deps;
    const t = now();
    let flipped = 0;
    try {
      if (t - this.lastBeatsWrite >= HEARTBEATS_EVERY_MS) this.writeHeartbeats();
      if (t - this.lastAliveWrite >= ALIVE_EVERY_MS) {
        store.meta.set(ALIVE_KEY, String(t));
        store.nonces.prune(t);
        this.lastAliveWrite = t;
      }
      if (this.deps.retentionMs && t - this.lastPrune >= 3_600_000) {
        const removed = store.history.prune(t - this.deps.retentionMs);
        if (removed) logger.info(`retention: removed ${removed} history row(s) and event(s)`);
        this.lastPrune = t;
      }
      let due = store.clients.dueForSweep(t, 1000);
      if (due.some((c) => this.unwrittenBeats.has(c.id))) {
        this.writeHeartbeats(); // their deadlines moved: read them again
        due = store.clients.dueForSweep(t, 1000);
      }
      for (const client of due) {
        const state = this.stateOf(client);
        const swept = state ? sweepClient(state, t) : null;
        const next = swept?.state ?? state;
        if (!next) {
          // nothing to judge (never reported): stop looking at it until something changes
          store.clients.casState(
            client.id,
            { liveness: client.liveness, lastReportAt: client.lastReportAt },
            {
              state: client.state,
              status: client.status,
              liveness: client.liveness,
              lateAt: null,
              offlineAt: null,
              nextCheckAt: null,
            },
          );
          continue;
        }
        const events = store.transaction(() => {
          const won = store.clients.casState(
            client.id,
            { liveness: client.liveness, lastReportAt: client.lastReportAt },
            { state: next, ...columnsOf(next) },
          );
          // Losing the compare-and-set means a report or another sweeper got there first.
          if (!won || !swept) return [];
          store.history.record(client.id, historyRowOf(next, t));
          return this.storeFlips({ ...client, state: next, ...columnsOf(next) }, swept.flips);
        });
        flipped += events.length;
        this.deps.cache?.forget(client.id);
        if (events.length) this.published(client.id, events, true);
      }
    } catch (e) {
      if (!this.deps.storage?.failed("sweeper pass failed (no late or offline alerts meanwhile)", e))
        logger.error(`sweeper pass failed: ${(e as Error).message}`);
    }
    return flipped;
  }

  /** `client`: the record as this transaction leaves it (the notifier renders from it). */
  private storeFlips(client: ClientRecord | null, flips: Flip[]): EventRecord[] {
    const events: EventRecord[] = flips.map((f) => {
      const e: NewEvent = {
        clientId: client?.id ?? null,
        kind: f.kind,
        from: f.from,
        to: f.to,
        evidence: f.evidence,
        at: f.at,
        suppressed: f.suppressed ?? false,
      };
      return { ...e, id: this.deps.store.events.append(e) };
    });
    if (events.length) this.queuedSinceCommit += this.deps.onEvents?.(events, client) ?? 0;
    return events;
  }

  private published(clientId: string | null, events: EventRecord[], clientUpdated: boolean) {
    const { broker } = this.deps;
    if (clientId && clientUpdated) broker.publish("client.updated", { clientId, changed: events.length > 0 });
    if (events.length)
      broker.publish("events.created", {
        eventIds: events.map((e) => e.id),
        kinds: events.map((e) => e.kind),
      });
    // after the commit, so the dispatcher finds the rows it is woken for
    if (this.queuedSinceCommit > 0) broker.publish("outbox.enqueued", { count: this.queuedSinceCommit });
    this.queuedSinceCommit = 0;
  }
}

/**
 * Everything a verdict can depend on: provider answers (not latencies), DNS answers and
 * errors, probe errors, the interval, the agent, the source address, home and settings. Two
 * reports with the same key are judged the same. Kept as a 64-bit hash of that JSON (a
 * different report passing for unchanged has a chance of 2^-64), so the comparison is cheap
 * and 10,000 clients' keys take 80 KB instead of 10 MB.
 */
function materialKey(
  report: ReportV1,
  sourceIp: string | null,
  home: HomeIdentity,
  policy: Record<string, unknown>,
): bigint {
  const family = (f: ReportV1["ipv4"] | undefined) =>
    f ? [f.ip, f.consistent, f.answers.map((a) => [a.provider, a.ip, a.error])] : null;
  const reported = JSON.stringify([
    family(report.ipv4),
    family(report.ipv6),
    (report.dns ?? []).map((d) => [d.probe, d.type, d.via, d.answers, d.error]),
    (report.errors ?? []).map((e) => [e.probe, e.message]),
    report.interval_s,
    report.agent,
    sourceIp,
  ]);
  return Bun.hash.wyhash(`${reported}\n${jsonOf(home)}\n${jsonOf(policy)}`);
}

/** Home and policy objects are replaced, never changed in place, so their JSON is made once. */
const jsonCache = new WeakMap<object, string>();
function jsonOf(value: object): string {
  let json = jsonCache.get(value);
  if (json === undefined) {
    json = JSON.stringify(value);
    jsonCache.set(value, json);
  }
  return json;
}

function historyDiffers(a: ClientState, b: ClientState): boolean {
  const x = historyRowOf(a, 0);
  const y = historyRowOf(b, 0);
  return (
    x.status !== y.status ||
    x.liveness !== y.liveness ||
    x.exitIpv4 !== y.exitIpv4 ||
    x.exitIpv6 !== y.exitIpv6 ||
    x.resolvers !== y.resolvers
  );
}

/** What the history keeps of a state: a new row only when one of these changes. */
function historyRowOf(state: ClientState, at: number): HistoryRow {
  return {
    at,
    status: state.status,
    liveness: state.liveness,
    exitIpv4: state.exit.ipv4?.ip ?? null,
    exitIpv6: state.exit.ipv6?.ip ?? null,
    resolvers: state.resolvers.length
      ? state.resolvers
          .map((r) => r.ip)
          .sort()
          .join(",")
      : null,
  };
}

/** The exit for lists (ClientSummary): as judged, IPv4 first, else the address reported without geo. */
function exitSummary(state: ClientState, report: ReportV1): ExitSummary | null {
  const judged = state.exit.ipv4 ?? state.exit.ipv6;
  if (judged) return { ip: judged.ip, country: judged.country, asn: judged.asn, org: judged.org };
  const ip = report.ipv4?.ip ?? report.ipv6?.ip;
  return ip ? { ip, country: null, asn: null, org: null } : null;
}

/** The store's indexed columns mirror the state, so the sweeper finds due clients by index. */
function columnsOf(state: ClientState) {
  return {
    status: state.status,
    liveness: state.liveness,
    lateAt: state.late_at,
    offlineAt: state.offline_at,
    nextCheckAt: nextDeadline(state),
  };
}
