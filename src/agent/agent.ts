/**
 * The client loop. Probes every interval (±jitter) and at once when the network changes,
 * writes each report to the spool, and drains the spool to the server in order with
 * exponential back-off. Probing and sending are decoupled: a down server never delays a
 * probe, and a failed probe still produces a report that says why.
 */
import { hostname } from "node:os";
import { Backoff, type BackoffOptions, ProviderPool } from "../probe/backoff.ts";
import { type RouteChange, type RoutePaths, RouteWatcher } from "../probe/route-watch.ts";
import {
  type IpProbeResult,
  type ProbeConfig,
  type ProbeResult,
  type ProbeRound,
  startProbes,
} from "../probe/run.ts";
import type { AgentInfo, ReportV1 } from "../protocol/report.ts";
import { VERSION } from "../version.ts";
import { OracleNames } from "./oracle.ts";
import { buildReport } from "./report.ts";
import {
  oracleLabelsUrl,
  type SendOutcome,
  type SendTarget,
  type ServerVerdict,
  sendReport,
} from "./sender.ts";
import type { Spool } from "./spool.ts";

const markReplayed = (body: string) => JSON.stringify({ ...(JSON.parse(body) as ReportV1), replayed: true });

const NETWORK_CHANGE = "network change";
/** The 202's `features` entry of a server that keeps its DNS verdict for a report marked dns_pending. */
const DNS_PENDING = "dns_pending";
/**
 * After a network change, how long the IP answers wait for the DNS part before going out alone:
 * a working resolver answers within it (one report), a dead one does not (the IP answers go
 * now, the DNS part follows in the next report).
 */
const DNS_GRACE_MS = 100;

/** The logging surface the agent needs (a consola instance fits). */
export interface AgentLogger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

export interface AgentConfig extends SendTarget {
  intervalMs: number;
  /** Spread of the interval, 0.1 = ±10 %, so clients behind one server do not beat in step. */
  jitter: number;
  probe: ProbeConfig;
  /** Upload timeout. */
  sendTimeoutMs: number;
  /** Route/interface/resolv.conf poll period; 0 turns the watch off. */
  watchIntervalMs: number;
  /** Quiet time after a network change before probing: a VPN reconnect changes several things at once. */
  debounceMs: number;
  sendBackoff: BackoffOptions;
  /** How long stop() lets an in-flight upload finish before aborting it (it stays spooled). */
  stopGraceMs: number;
}

export const DEFAULT_SEND_BACKOFF: BackoffOptions = {
  baseMs: 1000,
  maxMs: 60_000,
  maxRetryAfterMs: 3_600_000,
  jitter: 0.2,
};

export interface CycleInfo {
  report: ReportV1;
  /** Why this round ran: "start", "timer", "network change", "once". */
  reason: string;
  /** true when this report reached the server during the round. */
  delivered: boolean;
  /** What the server concluded about this report, when it was delivered and the server says. */
  verdict: ServerVerdict | null;
  /** Why this report was not delivered (the server's answer, or why it was not reached). */
  problem: string | null;
  /** Reports waiting in the spool after the round. */
  queued: number;
  /** Why the last upload failed (this round or an earlier one); null once one succeeded. */
  sendError: string | null;
}

/** The outcome of `--once`. */
export type OnceResult = Pick<CycleInfo, "delivered" | "verdict" | "problem">;

export interface AgentHooks {
  /** The loop runs (spool loaded, watch started): the place for systemd READY=1. */
  onReady?: () => void;
  /** After every round (the place for a systemd watchdog ping). */
  onCycle?: (info: CycleInfo) => void;
  /** The server's verdict on each report of a round it accepted (an early IP-only one too). */
  onVerdict?: (verdict: ServerVerdict) => void;
}

export interface AgentDeps {
  spool: Spool;
  logger: AgentLogger;
  fetch?: typeof fetch;
  now?: () => number;
  random?: () => number;
  /** Replaces the real probes (unit tests of the loop). */
  probe?: (signal: AbortSignal) => ProbeRound;
  routePaths?: Partial<RoutePaths>;
  agentInfo?: AgentInfo;
}

export function defaultAgentInfo(): AgentInfo {
  return { version: VERSION, os: process.platform, arch: process.arch, hostname: hostname().slice(0, 256) };
}

export class Agent {
  private readonly pool = new ProviderPool();
  /** the server's DNS oracle labels for the next round */
  private readonly oracle: OracleNames;
  private readonly sendBackoff: Backoff;
  private readonly now: () => number;
  private readonly random: () => number;
  private intervalMs: number;
  private watcher: RouteWatcher | null = null;
  private cycleTimer: ReturnType<typeof setTimeout> | null = null;
  private debounceTimer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private probing: Promise<void> | null = null;
  private probeAbort: AbortController | null = null;
  private pendingReason: string | null = null;
  private draining: Promise<void> | null = null;
  /** the spool entry the latest round produced; every other entry is a replay */
  private freshEntryId: string | null = null;
  private sendAbort: AbortController | null = null;
  private lastSendError: string | null = null;
  private stopping = false;
  /** Spool ids the server accepted during the current round (a dropped report is not "delivered"). */
  private readonly accepted = new Set<string>();
  /** The server's verdict on this round's report, and the last problem of the round's drain. */
  private freshVerdict: ServerVerdict | null = null;
  private roundProblem: string | null = null;
  /** What the server said it understands (the 202's `features`), from its latest answer. */
  private serverFeatures = new Set<string>();
  private resolveDone!: () => void;
  /** Resolves when stop() has finished. */
  readonly done = new Promise<void>((r) => {
    this.resolveDone = r;
  });

  constructor(
    private readonly cfg: AgentConfig,
    private readonly deps: AgentDeps,
    private readonly hooks: AgentHooks = {},
  ) {
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.oracle = new OracleNames(this.now);
    this.sendBackoff = new Backoff(cfg.sendBackoff, this.random);
    this.intervalMs = cfg.intervalMs;
  }

  /** The interval currently in force (the server's next_report_in_s overrides --interval). */
  get currentIntervalMs(): number {
    return this.intervalMs;
  }

  /** `--once`: one probe round and one pass over the spool, no retries. */
  async runOnce(): Promise<OnceResult> {
    await this.deps.spool.open();
    const info = await this.round("once", false);
    if (!info) return { delivered: false, verdict: null, problem: "stopped before the report was sent" };
    return { delivered: info.delivered, verdict: info.verdict, problem: info.problem };
  }

  async start(): Promise<void> {
    await this.deps.spool.open();
    if (this.deps.spool.size)
      this.deps.logger.info(`${this.deps.spool.size} unsent report(s) in the spool will be replayed`);
    if (this.cfg.watchIntervalMs > 0) {
      this.watcher = new RouteWatcher({
        intervalMs: this.cfg.watchIntervalMs,
        ...(this.deps.routePaths ? { paths: this.deps.routePaths } : {}),
        onChange: (c) => this.onNetworkChange(c),
      });
      await this.watcher.start();
    }
    this.hooks.onReady?.();
    this.runRound("start");
  }

  /** Asks for a probe round soon (debounced); a round in progress is followed by one more. */
  trigger(reason: string): void {
    if (this.stopping) return;
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = null;
      this.runRound(reason);
    }, this.cfg.debounceMs);
  }

  /** Stops timers and probes, lets an in-flight upload finish (up to stopGraceMs), keeps the spool. */
  async stop(): Promise<void> {
    if (this.stopping) return this.done;
    this.stopping = true;
    for (const t of [this.cycleTimer, this.debounceTimer, this.retryTimer]) if (t) clearTimeout(t);
    this.watcher?.stop();
    this.probeAbort?.abort();
    if (this.draining) {
      const finished = await Promise.race([
        this.draining.then(() => true),
        Bun.sleep(this.cfg.stopGraceMs).then(() => false),
      ]);
      if (!finished) {
        this.sendAbort?.abort();
        await this.draining;
      }
    }
    await this.probing?.catch(() => {});
    this.resolveDone();
  }

  private onNetworkChange(c: RouteChange): void {
    this.deps.logger.info(`network changed, probing now: ${c.changes.join("; ")}`);
    // Failures seen on the old path say nothing about the new one.
    this.pool.forgetFailures();
    if (this.sendBackoff.reason === "failure") {
      this.sendBackoff.succeed();
      if (this.retryTimer) clearTimeout(this.retryTimer);
    }
    this.trigger(NETWORK_CHANGE);
  }

  /**
   * Starts a round unless one is running, in which case one more follows it (at most one in
   * flight). A network change also gives up the probes of the running round: their answers
   * describe a path that no longer exists, and waiting for them (DNS probes of a resolver
   * that went with the tunnel wait out --timeout) would delay the round that sees the new one.
   */
  private runRound(reason: string): void {
    if (this.stopping) return;
    if (this.probing) {
      if (this.pendingReason !== NETWORK_CHANGE) this.pendingReason = reason;
      if (reason === NETWORK_CHANGE) this.probeAbort?.abort();
      return;
    }
    if (this.cycleTimer) clearTimeout(this.cycleTimer);
    this.probing = this.round(reason, true)
      .catch((e: Error) => this.deps.logger.error(`probe round failed: ${e.message}`))
      .then(() => {
        this.probing = null;
        if (this.stopping) return;
        const pending = this.pendingReason;
        this.pendingReason = null;
        if (pending) this.runRound(pending);
        else this.scheduleNext();
      });
  }

  private scheduleNext(): void {
    const spread = 1 + this.cfg.jitter * (2 * this.random() - 1);
    this.cycleTimer = setTimeout(
      () => this.runRound("timer"),
      Math.max(100, Math.round(this.intervalMs * spread)),
    );
  }

  private async round(reason: string, retry: boolean): Promise<CycleInfo | null> {
    this.probeAbort = new AbortController();
    const signal = this.probeAbort.signal;
    const probes = this.deps.probe
      ? this.deps.probe(signal)
      : startProbes(this.cfg.probe, {
          pool: this.pool,
          signal,
          ...(this.deps.fetch ? { fetch: this.deps.fetch } : {}),
          now: this.now,
          oracleNames: () =>
            this.oracle.forRound(oracleLabelsUrl(this.cfg), {
              timeoutMs: this.cfg.probe.timeoutMs,
              signal,
              ...(this.deps.fetch ? { fetch: this.deps.fetch } : {}),
            }),
        });
    let dnsIn = false;
    probes.result.then(
      () => {
        dnsIn = true;
      },
      () => {},
    );
    // After a network change the IP answers are the news (a bypass shows there): they go out as
    // soon as they are in, unless the DNS part is about to follow. Only to a server that keeps
    // its DNS verdict for such a report; an older one would judge the missing part unknown.
    if (reason === NETWORK_CHANGE && this.serverFeatures.has(DNS_PENDING)) {
      const ip = await probes.ip;
      await Promise.race([probes.result, Bun.sleep(DNS_GRACE_MS)]);
      if (!dnsIn && !signal.aborted && !this.stopping) await this.sendEarly(ip, retry);
    }
    const result = await probes.result;
    // stopping, or a newer network change made these answers stale (its round follows)
    if (this.stopping || signal.aborted) return null;
    const report = this.reportOf(result, false);
    for (const e of report.errors ?? []) this.deps.logger.warn(`probe ${e.probe}: ${e.message}`);
    const entryId = await this.deliver(report, retry);
    const delivered = this.accepted.has(entryId);
    const info: CycleInfo = {
      report,
      reason,
      delivered,
      verdict: delivered ? this.freshVerdict : null,
      problem: delivered ? null : (this.roundProblem ?? "the spool could not be sent (backing off)"),
      queued: this.deps.spool.size,
      sendError: this.lastSendError,
    };
    this.deps.logger.debug(
      `round (${reason}): ipv4 ${report.ipv4.ip ?? "unknown"}, ipv6 ${report.ipv6?.ip ?? "unknown"}, ${info.delivered ? "delivered" : `${info.queued} queued`}`,
    );
    this.hooks.onCycle?.(info);
    return info;
  }

  private reportOf(result: ProbeResult, dnsPending: boolean): ReportV1 {
    return buildReport(result, {
      observedAt: new Date(this.now()),
      intervalMs: this.intervalMs,
      agent: this.deps.agentInfo ?? defaultAgentInfo(),
      dnsPending,
    });
  }

  /** The IP answers of a network-change round, sent before its DNS part (dns_pending). */
  private async sendEarly(ip: IpProbeResult, retry: boolean): Promise<void> {
    const report = this.reportOf({ ...ip, dns: [] }, true);
    const entryId = await this.deliver(report, retry);
    this.deps.logger.debug(
      `network change: IP answers ${this.accepted.has(entryId) ? "reported" : "queued"} before the DNS probes finished (ipv4 ${report.ipv4.ip ?? "unknown"}, ipv6 ${report.ipv6?.ip ?? "unknown"}); the DNS part follows`,
    );
  }

  /** Spools a report of this round and drains the spool; resolves to the report's spool id. */
  private async deliver(report: ReportV1, retry: boolean): Promise<string> {
    this.accepted.clear();
    this.freshVerdict = null;
    this.roundProblem = null;
    const entry = await this.deps.spool.push(JSON.stringify(report));
    this.freshEntryId = entry.id;
    await this.flush(retry);
    return entry.id;
  }

  /** Drains the spool unless a drain runs or the back-off says wait; resolves when this pass ends. */
  private flush(retry: boolean): Promise<void> {
    if (this.draining) return this.draining;
    if (!this.sendBackoff.ready(this.now())) return Promise.resolve();
    this.draining = this.drain(retry).finally(() => {
      this.draining = null;
    });
    return this.draining;
  }

  private async drain(retry: boolean): Promise<void> {
    const { spool, logger } = this.deps;
    for (let entry = spool.peek(); entry && !this.stopping; entry = spool.peek()) {
      this.sendAbort = new AbortController();
      // Anything but this round's own report waited in the spool: say so, so the server
      // records it as history without alerting on news that is no longer news.
      const body = entry.id === this.freshEntryId ? entry.body : markReplayed(entry.body);
      const outcome: SendOutcome = await sendReport(this.cfg, body, {
        timeoutMs: this.cfg.sendTimeoutMs,
        signal: this.sendAbort.signal,
        now: this.now,
        ...(this.deps.fetch ? { fetch: this.deps.fetch } : {}),
      });
      this.sendAbort = null;
      if (outcome.kind === "accepted") {
        this.lastSendError = null;
        await spool.remove(entry.id);
        this.accepted.add(entry.id);
        this.serverFeatures = new Set(outcome.features);
        this.oracle.offer(outcome.oracle ?? null);
        if (entry.id === this.freshEntryId) {
          this.freshVerdict = outcome.verdict;
          if (outcome.verdict) this.hooks.onVerdict?.(outcome.verdict);
        }
        if (this.sendBackoff.failureCount > 0)
          logger.info(`server reachable again; ${spool.size} report(s) still queued`);
        this.sendBackoff.succeed();
        if (outcome.nextReportInS !== null)
          this.intervalMs = Math.min(86_400_000, Math.max(1000, outcome.nextReportInS * 1000));
      } else if (outcome.kind === "rejected") {
        logger.error(`the server rejected a report for good (${outcome.reason}); dropping it`);
        this.lastSendError = `rejected: ${outcome.reason}`;
        this.roundProblem = `the server rejected it for good (${outcome.reason})`;
        await spool.remove(entry.id);
      } else {
        if (this.stopping && outcome.reason === "aborted") return;
        this.lastSendError = outcome.reason;
        const delay = this.sendBackoff.fail(this.now(), outcome.retryAfterMs);
        this.roundProblem = outcome.reason;
        // Without retries (--once) the caller says it once, in its last line.
        if (retry)
          logger.warn(
            `report not delivered: ${outcome.reason}; ${spool.size} queued, retrying in ${Math.ceil(delay / 1000)} s`,
          );
        if (retry && !this.stopping) {
          if (this.retryTimer) clearTimeout(this.retryTimer);
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            void this.flush(true);
          }, delay);
        }
        return;
      }
    }
  }
}
