/**
 * ClientMonitor: the I/O shell around the pure evaluator and liveness rules. Each accepted
 * report is judged and persisted with its flips (and their notifications) in one transaction;
 * a sweeper acts on deadlines stored in the database, with compare-and-set, so restarts and
 * concurrent sweepers never invent or double an alert.
 */
import type { Logger } from "../../logger.ts";
import type { ReportV1 } from "../../protocol/report.ts";
import type { ClientCache } from "../api/reports/client-cache.ts";
import type { Broker } from "../broker.ts";
import { unauthorized } from "../errors.ts";
import type { GeoLookup } from "../geo/types.ts";
import { GAP_ALPHA, type GapState, NO_GAPS, observeGap } from "../reports/anomalies.ts";
import type {
  ClientRecord,
  EventRecord,
  ExitSummary,
  Heartbeat,
  HistoryRow,
  NewEvent,
  Repositories,
  Store,
  Transaction,
} from "../store/index.ts";
import { causesOf } from "./causes.ts";
import { applyPolicy, evaluateReport, initialClientState, judgedAgainst, rejudgeState } from "./evaluate.ts";
import { type ClientGist, isFullRecord, type StateGist } from "./gist.ts";
import { afterServerStart, nextDeadline, pendingDeadlines, serverDowntime, sweepClient } from "./liveness.ts";
import { LEARN_WINDOW_MS, learnNetworks, type NetworkProfile } from "./networks.ts";
import { type PolicyDefaults, policyFrom } from "./settings.ts";
import { statusReasons } from "./status.ts";
import type { ClientPolicy, ClientState, Flip, HomeIdentity, OverallStatus } from "./types.ts";

/** An authenticated, valid report, handed to the monitor to judge and store. */
export interface AcceptedReport {
  /** as the report path found it (the cache keeps a gist, see gist.ts) */
  client: ClientGist;
  report: ReportV1;
  sourceIp: string | null;
  receivedAt: number;
}

/** What the monitor answers for an accepted report: when the client should report next. */
/** What the monitor answers for an accepted report: when to report next, and what it concluded. */
export interface AcceptResult {
  nextReportInS: number;
  /** the client's overall status after this report */
  status: OverallStatus;
  /** why: the causes of the status, one sentence each (the "Protected" sentence when green) */
  reasons: string[];
}

export interface MonitorDeps {
  store: Store;
  now: () => number;
  logger: Logger;
  geo: GeoLookup;
  broker: Broker;
  /** the home identity to judge against, always the current one */
  home: () => HomeIdentity;
  /** server-wide defaults for every client's policy */
  defaults?: PolicyDefaults;
  /**
   * Called inside the transaction that stores events, so notifications are queued atomically
   * with the flips that cause them (the outbox).
   */
  onEvents?: (tx: Transaction, events: EventRecord[], client: ClientRecord | null) => Promise<void>;
  /** history and events older than this are deleted (hourly); 0 or absent keeps everything */
  retentionMs?: number;
  /** the report path's client cache; absent = read the store every time */
  cache?: ClientCache;
  /** skip re-judging a report that says exactly what the last one said (default on) */
  fastPath?: boolean;
  /**
   * Keep unchanged reports' liveness in memory and write it every 2 s (SQLite: this process is
   * the only judge of deadlines). Off: write it in the report's transaction and read the client
   * locked there (PostgreSQL: the leader's sweeper, maybe on another replica, must see it).
   */
  heartbeatsWriteBehind?: boolean;
  /** --notify-anomalies: anomaly events alert (otherwise they are stored, suppressed) */
  anomalyAlerts?: boolean;
}

const ALIVE_KEY = "server.alive_at";
/** Clients read and re-judged per step after a home change, between two turns of the event loop. */
const REJUDGE_PAGE = 100;
/** Clients read per step when the server starts (their deadlines move past the downtime). */
const START_PAGE = 500;
const ALIVE_EVERY_MS = 5_000;
/** How often heartbeats held in memory are written (and announced to dashboards). */
const HEARTBEATS_EVERY_MS = 2_000;

/** How a client's last full judgment went: the report's material key and the revision it left. */
interface Judged {
  key: bigint;
  revision: number;
}

export class ClientMonitor {
  private lastAliveWrite = 0;
  private lastBeatsWrite = 0;
  private lastPrune = 0;
  /**
   * What each client's last judged report said (see materialKey), and the revision that
   * judgment wrote: a report with the same key at the same revision is unchanged. Memory only,
   * so a restart re-judges once; a revision written by anyone else (another replica, the
   * sweeper, a settings change) makes the entry stale by itself.
   */
  private readonly judged = new Map<string, Judged>();
  /**
   * Heartbeats not yet in the database (write-behind only). Unchanged reports only move liveness
   * columns, so the sweeper writes them together every HEARTBEATS_EVERY_MS instead of one row
   * per report (a client reporting every second is one write per 2 s); the report cache holds
   * them meanwhile. A client whose stored deadline is due but has a heartbeat here is not
   * silent: the sweeper writes the heartbeats before it judges anyone.
   */
  private readonly unwrittenBeats = new Map<string, Heartbeat>();
  private readonly writeBehind: boolean;
  /** the re-judging pass under way (see rejudgeStale), and whether another must follow it */
  private rejudging: Promise<number> | undefined;
  private rejudgeAgain = false;
  private stopped = false;
  /** each client's moving average of report gaps (reports/anomalies.ts); memory only, relearned after a restart */
  private readonly gaps = new Map<string, GapState>();

  constructor(private readonly deps: MonitorDeps) {
    this.writeBehind = deps.heartbeatsWriteBehind ?? true;
  }

  policyOf(client: Pick<ClientRecord, "settings">): ClientPolicy {
    return policyFrom(client.settings, this.deps.defaults);
  }

  /**
   * The client's state. A heartbeat only moves the liveness columns (see acceptReport), so
   * those are laid over the stored JSON, which is as of the last change.
   */
  stateOf(client: ClientRecord): ClientState | null {
    return liveState(client);
  }

  /** Judges and stores one report inside the caller's transaction (`tx`). */
  async acceptReport(r: AcceptedReport, tx: Transaction): Promise<AcceptResult> {
    // Read again inside the write: with group commit, r.client was read before earlier reports
    // of the same batch were applied; across replicas, another one may have judged it since.
    // What the client looked like before tells whether the report is likely unchanged.
    const home = this.deps.home();
    const reported = reportedJson(r.report, r.sourceIp);
    const expected = materialKey(reported, home, r.client.settings);
    const likelyUnchanged = this.judged.get(r.client.id)?.key === expected;
    const seen = this.withBeat((await this.current(r.client.id, tx, likelyUnchanged)) ?? r.client);
    // on PostgreSQL the locked row's settings are a new object: only their part is made again
    const key = seen.settings === r.client.settings ? expected : materialKey(reported, home, seen.settings);
    const gist = liveState(seen);
    const gapFlip = this.watchGaps(seen, gist, r, tx);
    if (gist && this.isUnchanged(seen, gist, key, r.report))
      return this.heartbeat(seen, gist, r, tx, gapFlip);

    const client = await this.recordOf(seen, tx);
    const previous = this.stateOf(client);
    const input = {
      report: r.report,
      sourceIp: r.sourceIp,
      policy: this.policyOf(client),
      home,
      previous,
      geo: this.deps.geo,
      now: r.receivedAt,
      replayed: r.report.replayed === true,
    };
    let judged = evaluateReport(input);
    // A new exit network is news only against what the client used before: its history is read
    // (one summing query) only when the exit moved to another AS than the previous state's.
    if (movedNetwork(previous, judged.state))
      judged = evaluateReport({ ...input, networks: await this.networksOf(tx, client.id, r.receivedAt) });
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
    const updated: ClientRecord = { ...client, ...update, revision: client.revision + 1 };
    const events = await tx.transaction(async (inner) => {
      await inner.clients.applyReport(client.id, update);
      if (previous === null || historyDiffers(previous, state))
        await inner.history.record(client.id, historyRowOf(state, update.lastReportAt));
      return this.storeFlips(inner, updated, gapFlip ? [...judged.flips, gapFlip] : judged.flips);
    });
    this.unwrittenBeats.delete(client.id); // the update carries the liveness columns too
    this.deps.cache?.set(updated);
    if (r.report.replayed) this.judged.delete(client.id);
    else this.judged.set(client.id, { key, revision: updated.revision });
    this.announce(tx, client.id, events, true);
    return { nextReportInS: state.interval_s, status: state.status, reasons: statusReasons(state) };
  }

  /** The exit networks and countries the client used in the last 30 days (its history). */
  learnedNetworks(clientId: string): Promise<NetworkProfile> {
    return this.networksOf(this.deps.store, clientId, this.deps.now());
  }

  private async networksOf(repos: Pick<Repositories, "history">, clientId: string, now: number) {
    const times = await repos.history.exitTimes(clientId, now - LEARN_WINDOW_MS, now);
    return learnNetworks(times, this.deps.geo, this.deps.home());
  }

  /**
   * The client as it stands inside `tx`: its cached gist (write-behind), or locked. Locked, a
   * report that is likely unchanged reads the columns only, and takes the judged state from the
   * cache when the cached gist is of the same revision (every write of the state bumps it);
   * otherwise (another replica or the sweeper judged it since, or the report is news) the whole
   * record is read with the lock, in the batch's one statement.
   */
  private async current(id: string, tx: Transaction, likelyUnchanged: boolean): Promise<ClientGist | null> {
    const { cache } = this.deps;
    if (this.writeBehind) return cache ? cache.get(id, tx.clients) : tx.clients.get(id);
    if (!likelyUnchanged) return tx.clients.getForUpdate(id);
    const columns = await tx.clients.lockColumns(id);
    if (!columns) return null;
    const known = cache?.peek(id);
    if (known && known.revision === columns.revision) return { ...columns, state: known.state };
    return tx.clients.get(id);
  }

  /** The client with the heartbeat this process holds for it laid over (write-behind). */
  private withBeat<C extends ClientGist>(client: C): C {
    const beat = this.unwrittenBeats.get(client.id);
    // the cached gist usually carries it already (ClientCache.touch): no copy per report then
    if (!beat || client.lastReportAt === beat.lastReportAt) return client;
    return { ...client, ...beat };
  }

  /**
   * The whole record of a client seen as a gist, read inside `tx` (a report that changes
   * something is judged against the full previous state and stored with it).
   */
  private async recordOf(seen: ClientGist, tx: Transaction): Promise<ClientRecord> {
    if (isFullRecord(seen)) return seen;
    const stored = await tx.clients.get(seen.id);
    // removed a moment ago (the CLI or the dashboard): it is unknown now
    if (!stored) throw unauthorized();
    return this.withBeat(stored);
  }

  /**
   * True when re-judging would change nothing: a live (not replayed) report saying exactly what
   * the previous one said, with home and settings unchanged, from a client that is online and
   * not flapping, and nobody judged it since. test/fast-path.test.ts checks the shortcut agrees
   * with full evaluation.
   */
  private isUnchanged(client: ClientGist, previous: StateGist, key: bigint, report: ReportV1): boolean {
    const last = this.judged.get(client.id);
    return (
      this.deps.fastPath !== false &&
      !report.replayed &&
      last !== undefined &&
      last.key === key &&
      last.revision === client.revision &&
      previous.liveness === "online" &&
      !previous.paused &&
      previous.flap.flapping_since === null
    );
  }

  /**
   * The gap since the client's previous report, into its moving average: a flip when its
   * reports start or stop drifting late. The new average is kept once `tx` commits a flip
   * (a flip rolled back is raised again by the next report).
   */
  private watchGaps(
    client: ClientGist,
    previous: StateGist | null,
    r: AcceptedReport,
    tx: Transaction,
  ): Flip | null {
    if (
      r.report.replayed ||
      previous === null ||
      previous.liveness === "never" ||
      client.lastReportAt === null
    )
      return null;
    const change = observeGap(
      this.gaps.get(client.id) ?? NO_GAPS,
      r.receivedAt - client.lastReportAt,
      previous.interval_s * 1000,
      previous.grace_s * 1000,
    );
    if (!change.flip) {
      this.gaps.set(client.id, change.state);
      return null;
    }
    tx.afterCommit(() => this.gaps.set(client.id, change.state));
    const { to, reason, ewmaGapMs, intervalMs } = change.flip;
    return {
      kind: "anomaly.report_gaps",
      from: to === "drifting" ? "normal" : "drifting",
      to,
      evidence: { reason, ewma_gap_s: ewmaGapMs / 1000, interval_s: intervalMs / 1000, alpha: GAP_ALPHA },
      at: r.receivedAt,
      suppressed: this.deps.anomalyAlerts !== true,
    };
  }

  /** An unchanged report: move the deadlines, store no event (but a drift in report gaps). */
  private async heartbeat(
    client: ClientGist,
    previous: StateGist,
    r: AcceptedReport,
    tx: Transaction,
    gapFlip: Flip | null,
  ): Promise<AcceptResult> {
    if (gapFlip)
      this.announce(tx, null, await this.storeFlips(tx, await this.recordOf(client, tx), [gapFlip]), false);
    const { liveness, interval_s, grace_s, paused, flap } = previous;
    const deadlines = pendingDeadlines({ from: r.receivedAt, liveness, interval_s, grace_s, paused });
    const beat: Heartbeat = {
      lastSourceIp: r.sourceIp,
      lastReportAt: r.receivedAt,
      lastObservedAt: Date.parse(r.report.observed_at),
      lateAt: deadlines.late_at,
      offlineAt: deadlines.offline_at,
      nextCheckAt: nextDeadline({ ...deadlines, flap }),
    };
    if (this.writeBehind) {
      this.unwrittenBeats.set(client.id, beat);
      this.deps.cache?.touch(client.id, beat);
    } else {
      await tx.clients.heartbeat(client.id, beat);
      this.announce(tx, client.id, [], true);
      this.deps.cache?.set({ ...client, ...beat });
    }
    return { nextReportInS: previous.interval_s, status: previous.status, reasons: statusReasons(previous) };
  }

  /** A report built by the server itself (legacy keepalive) goes through the same path. */
  acceptServerBuiltReport(
    client: ClientGist,
    report: ReportV1,
    sourceIp: string | null,
  ): Promise<AcceptResult> {
    return this.deps.store.transaction((tx) =>
      this.acceptReport({ client, report, sourceIp, receivedAt: this.deps.now() }, tx),
    );
  }

  /** Applies changed settings (interval, grace, pause, expectations) to the stored state. */
  async settingsChanged(clientId: string): Promise<void> {
    const { store, now } = this.deps;
    await this.writeHeartbeats();
    await store.transaction(async (tx) => {
      const client = await tx.clients.getForUpdate(clientId);
      if (!client) return;
      const policy = this.policyOf(client);
      const t = now();
      const state = applyPolicy(this.stateOf(client) ?? initialClientState(policy), policy, t);
      await tx.clients.casState(
        client.id,
        { liveness: client.liveness, lastReportAt: client.lastReportAt },
        { state, ...columnsOf(state), at: t },
      );
    });
    this.judged.delete(clientId);
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
          await this.writeHeartbeats();
          const page = await this.deps.store.clients.page(after, REJUDGE_PAGE);
          total += await this.rejudgePage(page);
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
  private async rejudgePage(clients: ClientRecord[]): Promise<number> {
    const { store, now, broker } = this.deps;
    const home = this.deps.home();
    const t = now();
    const judged = clients.flatMap((client) => {
      const state = this.stateOf(client);
      if (state === null || state.verdicts === null || client.lastReport === null) return [];
      if (judgedAgainst(state, home)) return [];
      const { state: next, flips } = rejudgeState({
        state,
        report: client.lastReport,
        sourceIp: client.lastSourceIp,
        policy: this.policyOf(client),
        home,
        geo: this.deps.geo,
        now: t,
      });
      return [{ client, state, next, flips }];
    });
    if (judged.length === 0) return 0;
    const stored = await store.transaction(async (tx) => {
      const done: { id: string; statusChanged: boolean }[] = [];
      const events: EventRecord[] = [];
      for (const { client, state, next, flips } of judged) {
        const won = await tx.clients.casState(
          client.id,
          { liveness: client.liveness, lastReportAt: client.lastReportAt },
          { state: next, ...columnsOf(next), at: t },
        );
        if (!won) continue; // a report got there first, and was judged against this home
        if (historyDiffers(state, next)) await tx.history.record(client.id, historyRowOf(next, t));
        const updated = { ...client, state: next, ...columnsOf(next), revision: client.revision + 1 };
        events.push(...(await this.storeFlips(tx, updated, flips)));
        done.push({ id: client.id, statusChanged: next.status !== state.status });
      }
      this.announce(tx, null, events, false);
      return done;
    });
    for (const { id, statusChanged } of stored) {
      this.judged.delete(id);
      this.deps.cache?.forget(id);
      // a changed status can move the row (worst first) or out of a filter: the list refetches
      broker.publish("client.updated", { clientId: id, changed: statusChanged });
    }
    return stored.length;
  }

  /**
   * Stores flips about one client that no report or sweep made (the daily anomaly check), with
   * their notifications, like every other flip.
   */
  async recordClientEvents(clientId: string, flips: Flip[]): Promise<void> {
    await this.deps.store.transaction(async (tx) => {
      const client = await tx.clients.get(clientId);
      if (!client) return;
      const events = await this.storeFlips(tx, client, flips);
      this.announce(tx, null, events, false);
    });
  }

  /** Stores a server-wide event (home changed, uplink down/up, server started). */
  async recordServerEvent(flip: Flip): Promise<void> {
    await this.deps.store.transaction(async (tx) => {
      const events = await this.storeFlips(tx, null, [flip]);
      this.announce(tx, null, events, false);
    });
  }

  /**
   * When this process starts leading. A server that (re)started gives every client a full
   * interval + grace counted from now: no report could arrive while it was down, so no false
   * offline after a restart. A replica that takes the lead over from another does so only when
   * nobody led for longer than `downtimeToleranceMs` (every replica was down); otherwise the
   * others kept accepting reports and the deadlines are true. Either way, a stretch without a
   * leader is recorded as unknown, not as client downtime.
   */
  async start(startedAt: number, how: { restarted: boolean; downtimeToleranceMs?: number }): Promise<void> {
    const { store, logger } = this.deps;
    const lastAlive = Number((await store.meta.get(ALIVE_KEY)) ?? Number.NaN);
    const downtime = serverDowntime(
      Number.isNaN(lastAlive) ? null : lastAlive,
      startedAt,
      how.downtimeToleranceMs,
    );
    const home = this.deps.home();
    let adjusted = 0;
    let judgedAgainstOtherHome = false;
    await store.transaction(async (tx) => {
      // a page at a time: every client's whole record at once (state and last report, ~15 KB
      // of objects each) made a start with 10,000 reported clients peak at 264 MiB
      for (let after: string | null = null; ; ) {
        const page = await tx.clients.page(after, START_PAGE);
        for (const client of page) {
          const state = this.stateOf(client);
          if (!state) continue;
          if (state.verdicts !== null && !judgedAgainst(state, home)) judgedAgainstOtherHome = true;
          if (!how.restarted && !downtime) continue;
          const next = afterServerStart(state, startedAt);
          if (next.late_at === state.late_at && next.offline_at === state.offline_at) continue;
          await tx.clients.casState(
            client.id,
            { liveness: client.liveness, lastReportAt: client.lastReportAt },
            { state: next, ...columnsOf(next), at: startedAt },
          );
          adjusted++;
        }
        if (page.length < START_PAGE) break;
        after = (page.at(-1) as ClientRecord).name;
      }
      await tx.meta.set(ALIVE_KEY, String(startedAt));
      if (downtime) await tx.history.recordServerDowntime(downtime.from, downtime.to);
    });
    this.lastAliveWrite = startedAt;
    if (downtime)
      logger.info(
        `server was down for ${Math.round(downtime.duration_ms / 1000)} s; recorded as unknown, not as client downtime`,
      );
    if (adjusted) logger.debug(`extended the deadlines of ${adjusted} client(s) after start`);
    // a new --home-ip (or a home learned since) makes stored verdicts rest on an old home
    if (judgedAgainstOtherHome) void this.rejudgeStale();
  }

  /** Writes the heartbeats held in memory (at stop, if the disk lets it). */
  async stop(): Promise<void> {
    this.stopped = true;
    try {
      await this.writeHeartbeats();
    } catch (e) {
      this.deps.logger.warn(`heartbeats not written at stop: ${(e as Error).message}`);
    }
  }

  /** Writes the heartbeats held in memory, in one transaction. */
  async writeHeartbeats(): Promise<void> {
    this.lastBeatsWrite = this.deps.now();
    if (this.unwrittenBeats.size === 0) return;
    const beats = [...this.unwrittenBeats];
    this.unwrittenBeats.clear();
    try {
      await this.deps.store.transaction(async (tx) => {
        for (const [id, beat] of beats) await tx.clients.heartbeat(id, beat);
      });
    } catch (e) {
      // not written: keep the ones no newer report replaced, for the next try
      for (const [id, beat] of beats) if (!this.unwrittenBeats.has(id)) this.unwrittenBeats.set(id, beat);
      throw e;
    }
    // dashboards re-read these rows now that the database has them
    for (const [clientId] of beats) this.deps.broker.publish("client.updated", { clientId, changed: false });
  }

  /**
   * One sweeper pass: every client whose next check is due, plus the periodic chores (heartbeats,
   * the alive mark, nonce and retention pruning). Returns the number of flips.
   */
  async sweep(): Promise<number> {
    const { store, now, logger } = this.deps;
    const t = now();
    let flipped = 0;
    if (t - this.lastBeatsWrite >= HEARTBEATS_EVERY_MS) await this.writeHeartbeats();
    if (t - this.lastAliveWrite >= ALIVE_EVERY_MS) {
      await store.meta.set(ALIVE_KEY, String(t));
      await store.nonces.prune(t);
      this.lastAliveWrite = t;
    }
    if (this.deps.retentionMs && t - this.lastPrune >= 3_600_000) {
      const removed = await store.history.prune(t - this.deps.retentionMs);
      if (removed) logger.info(`retention: removed ${removed} history row(s) and event(s)`);
      this.lastPrune = t;
    }
    let due = await store.clients.dueForSweep(t, 1000);
    if (due.some((c) => this.unwrittenBeats.has(c.id))) {
      await this.writeHeartbeats(); // their deadlines moved: read them again
      due = await store.clients.dueForSweep(t, 1000);
    }
    for (const client of due) {
      const state = this.stateOf(client);
      const swept = state ? sweepClient(state, t) : null;
      const next = swept?.state ?? state;
      const expect = { liveness: client.liveness, lastReportAt: client.lastReportAt };
      if (!next) {
        // nothing to judge (never reported): stop looking at it until something changes
        await store.transaction((tx) =>
          tx.clients.casState(client.id, expect, {
            state: client.state,
            status: client.status,
            liveness: client.liveness,
            lateAt: null,
            offlineAt: null,
            nextCheckAt: null,
            causes: client.causes,
            at: t,
          }),
        );
        continue;
      }
      const events = await store.transaction(async (tx) => {
        const won = await tx.clients.casState(client.id, expect, { state: next, ...columnsOf(next), at: t });
        // Losing the compare-and-set means a report or another sweeper got there first.
        if (!won || !swept) return [];
        await tx.history.record(client.id, historyRowOf(next, t));
        const flips = await this.storeFlips(
          tx,
          { ...client, state: next, ...columnsOf(next), revision: client.revision + 1 },
          swept.flips,
        );
        this.announce(tx, client.id, flips, true);
        return flips;
      });
      flipped += events.length;
      this.deps.cache?.forget(client.id);
    }
    return flipped;
  }

  /** `client`: the record as this transaction leaves it (the notifier renders from it). */
  private async storeFlips(
    tx: Transaction,
    client: ClientRecord | null,
    flips: Flip[],
  ): Promise<EventRecord[]> {
    const events: EventRecord[] = [];
    for (const f of flips) {
      const e: NewEvent = {
        clientId: client?.id ?? null,
        kind: f.kind,
        from: f.from,
        to: f.to,
        evidence: f.evidence,
        at: f.at,
        suppressed: f.suppressed ?? false,
      };
      events.push({ ...e, id: await tx.events.append(e) });
    }
    if (events.length) await this.deps.onEvents?.(tx, events, client);
    return events;
  }

  /** Tells dashboards and metrics what changed, once `tx` has committed. */
  private announce(tx: Transaction, clientId: string | null, events: EventRecord[], clientUpdated: boolean) {
    const { broker } = this.deps;
    tx.afterCommit(() => {
      if (clientId && clientUpdated)
        broker.publish("client.updated", { clientId, changed: events.length > 0 });
      if (events.length)
        broker.publish("events.created", {
          eventIds: events.map((e) => e.id),
          kinds: events.map((e) => e.kind),
        });
    });
  }
}

/**
 * Everything a verdict can depend on: provider answers (not latencies), DNS answers and errors,
 * the DNS oracle's sightings (not the names, which are new every time), probe errors, the
 * interval, the agent, the source address (these from reportedJson), home and settings. Two
 * reports with the same key are judged the same. Kept as a 64-bit hash of that JSON (a
 * different report passing for unchanged has a chance of 2^-64), so the comparison is cheap
 * and 10,000 clients' keys take 80 KB instead of 10 MB.
 */
function materialKey(reported: string, home: HomeIdentity, settings: ClientRecord["settings"]): bigint {
  return Bun.hash.wyhash(`${reported}\n${jsonOf(home)}\n${jsonOf(settings)}`);
}

/** The report's part of its material key (see materialKey), as JSON. */
function reportedJson(report: ReportV1, sourceIp: string | null): string {
  const family = (f: ReportV1["ipv4"] | undefined) =>
    f ? [f.ip, f.consistent, f.answers.map((a) => [a.provider, a.ip, a.error])] : null;
  return JSON.stringify([
    family(report.ipv4),
    family(report.ipv6),
    (report.dns ?? []).map((d) => [d.probe, d.type, d.via, d.answers, d.error]),
    // oracle names are fresh every round: what counts is how they fared and who asked
    (report.dns_oracle ?? []).map((l) => [l.type, l.via, l.error]),
    [
      ...new Set(
        (report.oracle_seen ?? []).map((o) => `${o.resolver} ${o.qtype} ${o.transport} ${o.client_subnet}`),
      ),
    ].sort(),
    (report.errors ?? []).map((e) => [e.probe, e.message]),
    report.interval_s,
    report.agent,
    report.dns_pending === true,
    sourceIp,
  ]);
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

/** The exit (IPv4, else IPv6) is now in a known AS other than the previous state's. */
function movedNetwork(previous: ClientState | null, next: ClientState): boolean {
  const asn = (next.exit.ipv4 ?? next.exit.ipv6)?.asn ?? null;
  return (
    previous !== null && asn !== null && asn !== ((previous.exit.ipv4 ?? previous.exit.ipv6)?.asn ?? null)
  );
}

function historyDiffers(a: ClientState, b: ClientState): boolean {
  const x = historyRowOf(a, 0);
  const y = historyRowOf(b, 0);
  return (
    x.status !== y.status ||
    x.liveness !== y.liveness ||
    x.exitIpv4 !== y.exitIpv4 ||
    x.exitIpv6 !== y.exitIpv6 ||
    x.resolvers !== y.resolvers ||
    x.causes !== y.causes
  );
}

const addressInfo = (i: { ip: string; country: string | null; asn: number | null; org: string | null }) => ({
  ip: i.ip,
  country: i.country,
  asn: i.asn,
  org: i.org,
});

/**
 * What the history keeps of a state: a new row only when status, liveness, exits, resolvers or
 * causes change. The country and AS of the addresses go along (as the IP database knew them),
 * so old exits keep their place on the map after the database is updated.
 */
export function historyRowOf(state: ClientState, at: number): HistoryRow {
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
    causes: causesOf(state).sort().join(","),
    detail: {
      exits: [state.exit.ipv4, state.exit.ipv6].flatMap((e) => (e ? [addressInfo(e)] : [])),
      resolvers: state.resolvers.map((r) => addressInfo({ ...r.info, ip: r.ip })),
    },
  };
}

/** The exit for lists (ClientSummary): as judged, IPv4 first, else the address reported without geo. */
function exitSummary(state: ClientState, report: ReportV1): ExitSummary | null {
  const judged = state.exit.ipv4 ?? state.exit.ipv6;
  if (judged) return { ip: judged.ip, country: judged.country, asn: judged.asn, org: judged.org };
  const ip = report.ipv4?.ip ?? report.ipv6?.ip;
  return ip ? { ip, country: null, asn: null, org: null } : null;
}

/**
 * The store's columns mirror the state: the sweeper finds due clients by index, lists filter
 * by status and causes without parsing it.
 */
function columnsOf(state: ClientState) {
  return {
    status: state.status,
    liveness: state.liveness,
    lateAt: state.late_at,
    offlineAt: state.offline_at,
    nextCheckAt: nextDeadline(state),
    causes: causesOf(state),
  };
}

/**
 * A client's state with the liveness columns laid over it: a heartbeat only moves those (see
 * acceptReport), so the stored JSON is as of the last change.
 */
function liveState<S extends StateGist>(
  client: { state: S | null } & Pick<
    ClientRecord,
    "lastReportAt" | "lastObservedAt" | "lateAt" | "offlineAt"
  >,
): S | null {
  const s = client.state;
  if (s?.version !== 1) return null;
  return {
    ...s,
    last_report_at: client.lastReportAt ?? s.last_report_at,
    observed_at: client.lastObservedAt ?? s.observed_at,
    late_at: client.lateAt,
    offline_at: client.offlineAt,
  };
}
