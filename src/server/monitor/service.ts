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
import type { GeoLookup } from "../geo/types.ts";
import type { ClientRecord, EventRecord, HistoryRow, NewEvent, Store } from "../store/index.ts";
import { applyPolicy, DEFAULT_CLIENT_POLICY, evaluateReport, initialClientState } from "./evaluate.ts";
import { afterServerStart, DEFAULT_GRACE_S, nextDeadline, serverDowntime, sweepClient } from "./liveness.ts";
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
  onEvents?: (events: EventRecord[], client: ClientRecord | null) => void;
  /** history and events older than this are deleted (hourly); 0 or absent keeps everything */
  retentionMs?: number;
  /** how often the sweeper looks for due deadlines */
  sweepIntervalMs?: number;
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
const ALIVE_EVERY_MS = 5_000;

export class ClientMonitor {
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastAliveWrite = 0;
  private lastPrune = 0;

  constructor(private readonly deps: MonitorDeps) {}

  policyOf(client: ClientRecord): ClientPolicy {
    const s = client.policy as ClientSettings;
    return {
      ...DEFAULT_CLIENT_POLICY,
      dns_allow_asns: s.dns_allow_asns ?? this.deps.defaults?.dnsAllowAsns ?? [...DEFAULT_CLIENT_POLICY.dns_allow_asns],
      paused: s.paused ?? false,
      interval_s: s.interval_s ?? null,
      grace_s: s.grace_s ?? this.deps.defaults?.graceS ?? DEFAULT_GRACE_S,
      expected_country: s.expected_country ?? null,
      expected_asn: s.expected_asn ?? null,
    };
  }

  stateOf(client: ClientRecord): ClientState | null {
    const s = client.state as ClientState | null;
    return s && s.version === 1 ? s : null;
  }

  acceptReport(r: AcceptedReport): AcceptResult {
    const { store, now } = this.deps;
    const judged = evaluateReport({
      report: r.report,
      sourceIp: r.sourceIp,
      policy: this.policyOf(r.client),
      home: this.deps.home(),
      previous: this.stateOf(r.client),
      geo: this.deps.geo,
      now: r.receivedAt,
      replayed: r.report.replayed === true,
    });
    const state = judged.state;
    const events = store.transaction(() => {
      store.clients.applyReport(r.client.id, {
        state,
        lastReport: r.report,
        lastSourceIp: r.sourceIp,
        lastReportAt: state.last_report_at ?? r.receivedAt,
        ...columnsOf(state),
      });
      store.history.record(r.client.id, historyRowOf(state, state.last_report_at ?? r.receivedAt));
      return this.storeFlips(r.client, judged.flips);
    });
    this.published(r.client.id, events, true);
    return { nextReportInS: state.interval_s };
  }

  /** A report built by the server itself (legacy keepalive) goes through the same path. */
  acceptServerBuiltReport(client: ClientRecord, report: ReportV1, sourceIp: string | null): AcceptResult {
    return this.acceptReport({ client, report, sourceIp, receivedAt: this.deps.now() });
  }

  /** Applies changed settings (interval, grace, pause, expectations) to the stored state. */
  settingsChanged(clientId: string): void {
    const { store, now } = this.deps;
    const client = store.clients.get(clientId);
    if (!client) return;
    const policy = this.policyOf(client);
    const state = applyPolicy(this.stateOf(client) ?? initialClientState(policy), policy, now());
    store.clients.casState(client.id, { liveness: client.liveness, lastReportAt: client.lastReportAt }, { state, ...columnsOf(state) });
    this.deps.broker.publish("client.changed", { clientId });
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
    let adjusted = 0;
    store.transaction(() => {
      for (const client of store.clients.list()) {
        const state = this.stateOf(client);
        if (!state) continue;
        const next = afterServerStart(state, startedAt);
        if (next.late_at === state.late_at && next.offline_at === state.offline_at) continue;
        store.clients.casState(client.id, { liveness: client.liveness, lastReportAt: client.lastReportAt }, { state: next, ...columnsOf(next) });
        adjusted++;
      }
      store.meta.set(ALIVE_KEY, String(startedAt));
      if (downtime) store.history.recordServerDowntime(downtime.from, downtime.to);
    });
    if (downtime) logger.info(`server was down for ${Math.round(downtime.duration_ms / 1000)} s; recorded as unknown, not as client downtime`);
    if (adjusted) logger.debug(`extended the deadlines of ${adjusted} client(s) after start`);
    this.timer = setInterval(() => this.sweep(), this.deps.sweepIntervalMs ?? 500);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One sweeper pass: every client whose next check is due. Returns the number of flips. */
  sweep(): number {
    const { store, now, logger } = this.deps;
    const t = now();
    let flipped = 0;
    try {
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
      for (const client of store.clients.dueForSweep(t, 1000)) {
        const state = this.stateOf(client);
        const swept = state ? sweepClient(state, t) : null;
        const next = swept?.state ?? state;
        if (!next) {
          // nothing to judge (never reported): stop looking at it until something changes
          store.clients.casState(client.id, { liveness: client.liveness, lastReportAt: client.lastReportAt }, {
            state: client.state,
            status: client.status,
            liveness: client.liveness,
            lateAt: null,
            offlineAt: null,
            nextCheckAt: null,
          });
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
          return this.storeFlips(client, swept.flips);
        });
        flipped += events.length;
        if (events.length) this.published(client.id, events, true);
      }
    } catch (e) {
      logger.error(`sweeper pass failed: ${(e as Error).message}`);
    }
    return flipped;
  }

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
    if (events.length) this.deps.onEvents?.(events, client);
    return events;
  }

  private published(clientId: string | null, events: EventRecord[], clientUpdated: boolean) {
    const { broker } = this.deps;
    if (clientId && clientUpdated) broker.publish("client.updated", { clientId, changed: events.length > 0 });
    if (events.length) broker.publish("events.created", { eventIds: events.map((e) => e.id) });
  }
}

/** What the history keeps of a state: a new row only when one of these changes. */
function historyRowOf(state: ClientState, at: number): HistoryRow {
  return {
    at,
    status: state.status,
    liveness: state.liveness,
    exitIpv4: state.exit.ipv4?.ip ?? null,
    exitIpv6: state.exit.ipv6?.ip ?? null,
    resolvers: state.resolvers.length ? state.resolvers.map((r) => r.ip).sort().join(",") : null,
  };
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
