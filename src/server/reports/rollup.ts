/**
 * Daily rollups: once a UTC day is over, every client's day is folded from its history rows
 * into running totals (client_days) and the fleet's sums (fleet_days). Summaries and reports
 * read these instead of raw history, so they cost one look-up per client whatever the period,
 * and they survive --retention, which prunes raw history and events: rollups are kept for at
 * least ROLLUP_KEEP_DAYS (a 90-day summary and a monthly report always have their days).
 */
import type { Logger } from "../../logger.ts";
import type { ClientDay, ClientHistoryRow, FleetDay, Store } from "../store/index.ts";
import { addTotals, DAY_MS, dayOf, dayStart, emptyTotals, fold } from "./fold.ts";

/** Rollups are kept at least this long, whatever --retention says. */
export const ROLLUP_KEEP_DAYS = 93;
/** A day is rolled up this long after it ended: writes of its last moments have committed. */
const SETTLE_MS = 5 * 60_000;
export const ROLLED_THROUGH_KEY = "rollup.through";

export interface RollupDeps {
  store: Store;
  now: () => number;
  logger: Pick<Logger, "info" | "debug">;
  /** raw history's --retention (ms); 0 keeps everything, rollups too */
  retentionMs?: number;
  /** after a day is written (anomaly detection reads it) */
  onDay?: (day: number) => Promise<void>;
}

/** Groups rows (ordered by client) per client. */
export function byClient(rows: readonly ClientHistoryRow[]): Map<string, ClientHistoryRow[]> {
  const out = new Map<string, ClientHistoryRow[]>();
  for (const r of rows) {
    let list = out.get(r.clientId);
    if (!list) {
      list = [];
      out.set(r.clientId, list);
    }
    list.push(r);
  }
  return out;
}

/**
 * History rows of [start, to] per client, with the row in force at `start` only for the clients
 * that need it: a carry of the day before stands in for it, and when that day was rolled up, a
 * client without a carry had no history before (rollups are written every day from a client's
 * first history on). So: one range read, and one look-up per client only without rollups.
 */
export async function rowsSince(
  store: Pick<Store, "history">,
  clientIds: readonly string[],
  all: boolean,
  start: number,
  to: number,
  needsRowInForce: (id: string) => boolean,
): Promise<Map<string, ClientHistoryRow[]>> {
  const without = clientIds.filter(needsRowInForce);
  const [rows, inForce] = await Promise.all([
    store.history.rangeMany(all ? null : clientIds, start, to, { inForce: false, statusOnly: true }),
    without.length
      ? store.history.rangeMany(without, start, start, { statusOnly: true })
      : Promise.resolve([]),
  ]);
  const out = byClient(rows);
  for (const r of inForce)
    if (r.at < start) {
      const list = out.get(r.clientId);
      if (list) list.unshift(r);
      else out.set(r.clientId, [r]);
    }
  return out;
}

/** The last UTC day whose rollup is written, or null before the first. */
export async function rolledThrough(store: Pick<Store, "meta">): Promise<number | null> {
  const v = Number((await store.meta.get(ROLLED_THROUGH_KEY)) ?? Number.NaN);
  return Number.isInteger(v) ? v : null;
}

export class RollupJob {
  private running: Promise<number> | null = null;

  constructor(private readonly deps: RollupDeps) {}

  /**
   * Rolls up every finished day not yet rolled up, oldest first (on a first run, the last
   * ROLLUP_KEEP_DAYS days that have history), then prunes old rollups. Resolves to the number
   * of days written.
   */
  run(): Promise<number> {
    this.running ??= this.rollAll().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async rollAll(): Promise<number> {
    const { store, now, logger } = this.deps;
    const lastFinished = dayOf(now() - SETTLE_MS) - 1;
    const through = (await rolledThrough(store)) ?? (await this.firstDay(lastFinished)) - 1;
    let written = 0;
    for (let day = through + 1; day <= lastFinished; day++) {
      await this.rollDay(day);
      written++;
      await this.deps.onDay?.(day);
      // a long catch-up must not hold the report path: one day per turn of the event loop
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (written)
      logger.debug(
        `rollups: ${written} day(s) written, through ${new Date(dayStart(lastFinished + 1)).toISOString().slice(0, 10)}`,
      );
    const retention = this.deps.retentionMs ?? 0;
    if (retention > 0) {
      const keep = Math.max(ROLLUP_KEEP_DAYS, Math.ceil(retention / DAY_MS));
      await store.rollups.prune(lastFinished - keep);
    }
    return written;
  }

  /**
   * Where a first run starts: the oldest day with history, at most ROLLUP_KEEP_DAYS back; with
   * no history at all, after the last finished day (a new server writes no empty days).
   */
  private async firstDay(lastFinished: number): Promise<number> {
    const first = await this.deps.store.history.firstAt();
    return first === null ? lastFinished + 1 : Math.max(dayOf(first), lastFinished - ROLLUP_KEEP_DAYS + 1);
  }

  /** Folds one day for every client with history, on top of its previous running totals. */
  async rollDay(day: number): Promise<void> {
    const { store } = this.deps;
    const start = dayStart(day);
    const end = start + DAY_MS;
    const previous = new Map((await store.rollups.latest(day - 1)).map((d) => [d.clientId, d]));
    const yesterdayRolled = (await store.rollups.fleetDays(day - 1, day - 1)).length > 0;
    // only yesterday's carry describes this morning
    const carried = (id: string) => previous.get(id)?.day === day - 1;
    const ids = (await store.clients.summaries()).map((c) => c.id);
    const rows = await rowsSince(store, ids, true, start, end - 1, (id) => !carried(id) && !yesterdayRolled);
    const downtimes = await store.history.serverDowntimes(start, end);
    const clients: ClientDay[] = [];
    const fleet: FleetDay = { day, clients: 0, totals: emptyTotals() };
    for (const clientId of ids) {
      const history = rows.get(clientId) ?? [];
      const before = previous.get(clientId);
      const carry = carried(clientId) ? (before as ClientDay).carry : null;
      if (history.length === 0 && !carry?.last) continue; // nothing known yet
      const { totals, carry: next } = fold({ rows: history, downtimes, start, from: start, to: end, carry });
      clients.push({
        clientId,
        day,
        running: addTotals(before?.running ?? emptyTotals(), totals),
        carry: next,
      });
      fleet.totals = addTotals(fleet.totals, totals);
      if (totals.knownMs > 0) fleet.clients++;
    }
    await store.transaction(async (tx) => {
      await tx.rollups.writeDay(day, clients, fleet);
      await tx.meta.set(ROLLED_THROUGH_KEY, String(day));
    });
  }
}
