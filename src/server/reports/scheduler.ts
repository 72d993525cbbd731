/**
 * Scheduled reports (--report-schedule): at each scheduled time, one report of the period that
 * just ended goes to every channel target that takes it (a channel's ?only= / ?min= filter can
 * keep it out), through the outbox like every alert: retries, pacing and the dashboard's channel
 * status come with it.
 *
 * Exactly once per period and channel target, across restarts and missed runs: the period's
 * row in report_runs and its outbox rows (idempotency key channel:target:report:schedule:end)
 * commit in one transaction. A server that was down at the scheduled time sends the latest
 * missed period when it is back, once; older missed periods are not sent (a stack of stale
 * reports helps nobody). A schedule seen for the first time starts with the next scheduled time,
 * not with one that passed before it was configured.
 */

import type { Logger } from "../../logger.ts";
import { ANOMALY_KINDS } from "../../protocol/events.ts";
import type { Broker } from "../broker.ts";
import type { ChannelSource } from "../notify/channel.ts";
import type { Notification } from "../notify/types.ts";
import type { Store } from "../store/index.ts";
import { buildDigest, type ReportDigest } from "./digest.ts";
import { latestRun, periodOf, type ReportSchedule } from "./schedule.ts";
import { summarise } from "./summary.ts";

export interface ReportSchedulerDeps {
  store: Store;
  /** the channels in effect when a report is due (the options' and the dashboard's) */
  channels: ChannelSource;
  schedules: readonly ReportSchedule[];
  now: () => number;
  logger: Pick<Logger, "info" | "warn">;
  broker?: Broker;
}

/** Thrown inside the transaction when another process ran the period first: nothing is kept. */
class AlreadyRun extends Error {}

export class ReportScheduler {
  constructor(private readonly deps: ReportSchedulerDeps) {}

  /** Runs every schedule whose latest period has not been run; returns the messages queued. */
  async tick(): Promise<number> {
    let queued = 0;
    for (const s of this.deps.schedules) queued += await this.runDue(s);
    return queued;
  }

  private async runDue(s: ReportSchedule): Promise<number> {
    const { store, now, logger } = this.deps;
    const t = now();
    const end = latestRun(s, t);
    const last = await store.reportRuns.last(s.key);
    if (last && last.periodEnd >= end) return 0;
    const { from } = periodOf(s, end);
    if (!last) {
      await store.reportRuns.claim({
        schedule: s.key,
        periodStart: from,
        periodEnd: end,
        status: "skipped",
        queued: 0,
        createdAt: t,
        note: "before this schedule was configured",
      });
      return 0;
    }
    const digest = await this.digest(s, from, end);
    try {
      const queued = await store.transaction(async (tx) => {
        let n = 0;
        const notification: Notification = {
          kind: "report",
          severity: "info",
          eventId: null,
          client: null,
          from: null,
          to: null,
          at: end,
          evidence: { reason: `${s.title} (${s.key})` },
          facts: { report: digest },
        };
        for (const channel of this.deps.channels.list())
          for (const target of channel.targets()) {
            if (!(channel.accepts?.(target, { kind: "report", severity: "info", client: null }) ?? true))
              continue;
            const id = await tx.outbox.insert({
              eventId: null,
              clientId: null,
              kind: "report",
              channel: channel.name,
              target,
              idempotencyKey: `${channel.name}:${target}:report:${s.key}:${end}`,
              payload: notification,
              status: "pending",
              createdAt: t,
              nextAttemptAt: t,
            });
            if (id !== null) n++;
          }
        const claimed = await tx.reportRuns.claim({
          schedule: s.key,
          periodStart: from,
          periodEnd: end,
          status: "sent",
          queued: n,
          createdAt: t,
          note: end < t - 60_000 ? `late: the server was not running at the scheduled time` : null,
        });
        if (!claimed) throw new AlreadyRun();
        if (n > 0) tx.afterCommit(() => this.deps.broker?.publish("outbox.enqueued", { count: n }));
        return n;
      });
      logger.info(`report: ${s.title.toLowerCase()} (${s.key}) queued for ${queued} channel target(s)`);
      return queued;
    } catch (e) {
      if (e instanceof AlreadyRun) return 0;
      throw e;
    }
  }

  /** The report of [from, to]: the summary, and the anomalies flagged in it. */
  async digest(s: ReportSchedule, from: number, to: number): Promise<ReportDigest> {
    const { store } = this.deps;
    const summary = await summarise(store, from, to);
    const anomalies = (await store.events.query({ kinds: ANOMALY_KINDS, since: from, limit: 200 })).filter(
      (e) => e.at < to,
    );
    return buildDigest({
      title: s.title,
      schedule: s.key,
      timeZone: s.timeZone,
      summary,
      anomalies,
      names: new Map(summary.clients.map((c) => [c.id, c.name])),
    });
  }
}
