/**
 * Leak and flap rates, judged once a day from the rollups (reports/anomalies.ts says how): a
 * client whose last 7 days are unusual against its own 30-day baseline gets one anomaly event,
 * with the numbers behind it, at most once a week per kind. The events are stored like every
 * flip (events page, timeline, reports); they alert only with --notify-anomalies.
 */
import type { Logger } from "../../logger.ts";
import type { ClientMonitor } from "../monitor/service.ts";
import type { Flip } from "../monitor/types.ts";
import type { ClientRecord, Store, Totals } from "../store/index.ts";
import { BASELINE_DAYS, describeRate, RATE_WINDOW_DAYS, type RateAnomaly, rateAnomaly } from "./anomalies.ts";
import { DAY_MS, dayOf, subtractTotals } from "./fold.ts";

const SPAN = BASELINE_DAYS + RATE_WINDOW_DAYS;
const PAGE = 200;
/** A leak rate needs at least this many leaks in 7 days to be unusual; a flap rate this many changes. */
const MIN_LEAKS = 3;
const MIN_CHANGES = 10;

export interface AnomalyJobDeps {
  store: Store;
  monitor: Pick<ClientMonitor, "recordClientEvents">;
  now: () => number;
  logger: Pick<Logger, "info">;
  /** --notify-anomalies: their events alert; otherwise they are stored suppressed */
  alert: boolean;
}

/** Daily totals of one client for the SPAN days ending with `day` (a day without a row: not observed). */
export function dailyTotals(rows: { day: number; running: Totals }[], day: number): (Totals | null)[] {
  const byDay = new Map(rows.map((r) => [r.day, r.running]));
  const out: (Totals | null)[] = [];
  let previous: Totals | null = null;
  // the running totals before the span, to subtract from its first day
  for (const r of rows) if (r.day < day - SPAN + 1) previous = r.running;
  for (let d = day - SPAN + 1; d <= day; d++) {
    const running = byDay.get(d);
    if (!running) {
      out.push(null);
      continue;
    }
    out.push(previous ? subtractTotals(running, previous) : running);
    previous = running;
  }
  return out;
}

export class AnomalyJob {
  constructor(private readonly deps: AnomalyJobDeps) {}

  /** Judges the week ending with `day` (yesterday) for every client; older days (a catch-up) are not judged. */
  async judgeDay(day: number): Promise<number> {
    const { store, now } = this.deps;
    if (day < dayOf(now()) - 1) return 0;
    let flagged = 0;
    let after: string | null = null;
    for (;;) {
      const page: ClientRecord[] = await store.clients.page(after, PAGE);
      for (const client of page) flagged += await this.judgeClient(client, day);
      if (page.length < PAGE) break;
      after = (page.at(-1) as ClientRecord).name;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (flagged) this.deps.logger.info(`anomalies: ${flagged} client trend(s) flagged`);
    return flagged;
  }

  private async judgeClient(client: ClientRecord, day: number): Promise<number> {
    const { store } = this.deps;
    const rows = await store.rollups.clientDays(client.id, day - SPAN, day);
    if (rows.length < 2) return 0;
    const daily = dailyTotals(rows, day);
    const observed = daily.map((t) => t !== null && t.knownMs > 0);
    const count = (f: (t: Totals) => number) => daily.map((t) => (t ? f(t) : 0));
    const flips: Flip[] = [];
    const leaks = rateAnomaly({
      counts: count((t) => t.bypassN + t.dnsN + t.ipv6N),
      observed,
      minCount: MIN_LEAKS,
    });
    if (leaks) {
      const week = daily.slice(-RATE_WINDOW_DAYS);
      const by = (f: (t: Totals) => number) => week.reduce((n, t) => n + (t ? f(t) : 0), 0);
      const parts = [
        [by((t) => t.dnsN), "DNS"],
        [by((t) => t.bypassN), "bypass"],
        [by((t) => t.ipv6N), "IPv6"],
      ].filter(([n]) => (n as number) > 0);
      flips.push(
        this.flip(
          "anomaly.leak_rate",
          leaks,
          describeRate("leaks", leaks, ` (${parts.map(([n, w]) => `${n} ${w}`).join(", ")})`),
          {
            dns: by((t) => t.dnsN),
            bypass: by((t) => t.bypassN),
            ipv6: by((t) => t.ipv6N),
          },
        ),
      );
    }
    const flaps = rateAnomaly({ counts: count((t) => t.changes), observed, minCount: MIN_CHANGES });
    if (flaps) flips.push(this.flip("anomaly.flap_rate", flaps, describeRate("status changes", flaps), {}));
    const fresh: Flip[] = [];
    for (const f of flips) {
      // one flag a week per kind: the same unusual week is not news every day
      const [recent] = await store.events.query({
        clientId: client.id,
        kinds: [f.kind],
        since: this.deps.now() - RATE_WINDOW_DAYS * DAY_MS,
        limit: 1,
      });
      if (!recent) fresh.push(f);
    }
    if (fresh.length) await this.deps.monitor.recordClientEvents(client.id, fresh);
    return fresh.length;
  }

  private flip(kind: Flip["kind"], a: RateAnomaly, reason: string, extra: Record<string, number>): Flip {
    return {
      kind,
      from: null,
      to: "unusual",
      evidence: {
        reason,
        count: a.count,
        window_days: RATE_WINDOW_DAYS,
        baseline_days: a.baselineDays,
        baseline_median_per_week: a.median,
        baseline_mad: a.mad,
        robust_z: Math.round(a.z * 100) / 100,
        ...extra,
      },
      at: this.deps.now(),
      suppressed: !this.deps.alert,
    };
  }
}
