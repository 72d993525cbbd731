/**
 * Per-client summaries over any window (the summary API, the analytics page, reports): uptime
 * and protected time over the time actually observed, incidents by kind with count and
 * duration, mean time to recovery, DNS-leak frequency.
 *
 * Whole days come from the rollups (two running totals per client, subtracted, whatever the
 * period); the part of the first day before the window and the time since the last rolled-up
 * day are folded from history rows. So a summary costs O(clients + changes of about two days),
 * never O(heartbeats) and never O(days).
 */
import { INCIDENT_KINDS } from "../monitor/causes.ts";
import type { ClientDay, ClientSummary, IncidentKind, Store, Totals } from "../store/index.ts";
import { accumulate, DAY_MS, dayOf, dayStart, emptyTotals, fold, incidentCount, incidentMs } from "./fold.ts";
import { rolledThrough, rowsSince } from "./rollup.ts";

export const SUMMARY_PERIODS = {
  "24h": DAY_MS,
  "7d": 7 * DAY_MS,
  "30d": 30 * DAY_MS,
  "90d": 90 * DAY_MS,
} as const;
export type SummaryPeriod = keyof typeof SUMMARY_PERIODS;
export const isSummaryPeriod = (v: unknown): v is SummaryPeriod =>
  typeof v === "string" && Object.hasOwn(SUMMARY_PERIODS, v);

export interface ClientTotals {
  client: ClientSummary;
  totals: Totals;
}

type Store_ = Pick<Store, "history" | "rollups" | "meta" | "clients">;

/**
 * Each client's running totals at the end of a day, and whether a client without a row then
 * is known to have had no history yet (the day was rolled up, or came before any history).
 */
interface DayEnd {
  day: number;
  byId: ReadonlyMap<string, ClientDay>;
  rolled: boolean;
}

/**
 * Each client's totals of history folded from `start` (the day after `carries.day`) over the
 * counted window [from, to], starting from that day's carry.
 */
async function foldLive(
  store: Store_,
  ids: readonly string[] | null,
  start: number,
  from: number,
  to: number,
  carries: DayEnd,
  clients: readonly ClientSummary[],
): Promise<Map<string, Totals>> {
  const out = new Map<string, Totals>();
  if (to <= start) return out;
  const carryOf = (id: string) => {
    const d = carries.byId.get(id);
    return d?.day === carries.day ? d.carry : null;
  };
  const [rows, downtimes] = await Promise.all([
    rowsSince(
      store,
      clients.map((c) => c.id),
      ids === null,
      start,
      to,
      (id) => !carries.rolled && carryOf(id) === null,
    ),
    store.history.serverDowntimes(start, to),
  ]);
  for (const c of clients) {
    const history = rows.get(c.id) ?? [];
    const carry = carryOf(c.id);
    if (history.length === 0 && !carry?.last) continue;
    out.set(c.id, fold({ rows: history, downtimes, start, from, to, carry }).totals);
  }
  return out;
}

/**
 * Running totals at the end of `day` (rolled-up days never change, so the last few asked for are
 * kept: a dashboard asking again reads no row). Keyed by the store, so tests' stores never share.
 */
const dayEnds = new WeakMap<object, Map<number, DayEnd>>();
const CACHED_DAYS = 4;

async function dayEnd(store: Store_, day: number, rolled: number): Promise<DayEnd> {
  const cache = dayEnds.get(store.rollups) ?? new Map<number, DayEnd>();
  dayEnds.set(store.rollups, cache);
  const hit = cache.get(day);
  if (hit && day <= rolled) return hit;
  const [rows, fleet, first] = await Promise.all([
    store.rollups.latest(day),
    store.rollups.fleetDays(day, day),
    store.history.firstAt(),
  ]);
  const before = first === null || dayStart(day + 1) <= first;
  const end: DayEnd = {
    day,
    byId: new Map(rows.map((d) => [d.clientId, d])),
    rolled: fleet.length > 0 || before,
  };
  if (day <= rolled) {
    cache.set(day, end);
    for (const old of [...cache.keys()].sort((a, b) => a - b).slice(0, Math.max(0, cache.size - CACHED_DAYS)))
      cache.delete(old);
  }
  return end;
}

/**
 * Every client's totals over [from, to] (`only`: just these clients). With D the day `from`
 * falls in and L the last rolled-up day before `to`:
 *   totals = running(L) − running(D − 1) − fold[start of D, from) + fold[end of L, to)
 * two look-ups of running totals (cached) and two short folds of recent rows, whatever the
 * period. With at most one rolled-up day in the window, one fold from the start of D.
 */
export async function totalsOver(
  store: Store_,
  from: number,
  to: number,
  only?: readonly string[],
): Promise<ClientTotals[]> {
  const clients = only
    ? (await store.clients.getMany(only)).map((c) => c as ClientSummary)
    : await store.clients.summaries();
  const ids = only ? [...only] : null;
  const rolled = (await rolledThrough(store)) ?? Number.NEGATIVE_INFINITY;
  const headDay = dayOf(from);
  const lastFull = Math.min(dayOf(to) - 1, rolled);
  const base = await dayEnd(store, headDay - 1, rolled);
  // with at most one rolled-up day inside, one fold from the start of D reads about as many rows
  // as the two short folds and folds each client once, not twice (the 24-hour summary)
  if (lastFull <= headDay) {
    const live = await foldLive(store, ids, dayStart(headDay), from, to, base, clients);
    return clients.map((client) => ({ client, totals: live.get(client.id) ?? emptyTotals() }));
  }
  const top = await dayEnd(store, lastFull, rolled);
  const [before, after] = await Promise.all([
    foldLive(store, ids, dayStart(headDay), dayStart(headDay), from, base, clients),
    foldLive(store, ids, dayStart(lastFull + 1), dayStart(lastFull + 1), to, top, clients),
  ]);
  return clients.map((client) => {
    const totals = emptyTotals();
    const upper = top.byId.get(client.id);
    const lower = base.byId.get(client.id);
    const head = before.get(client.id);
    const tail = after.get(client.id);
    if (upper) accumulate(totals, upper.running);
    if (lower) accumulate(totals, lower.running, -1);
    if (head) accumulate(totals, head, -1);
    if (tail) accumulate(totals, tail);
    return { client, totals };
  });
}

// ---- presentation ----------------------------------------------------------------------------

const seconds = (ms: number) => Math.round(ms / 1000);
const ratio = (part: number, whole: number) => (whole > 0 ? part / whole : null);

export interface IncidentStat {
  count: number;
  duration_s: number;
}

export interface ClientSummaryView {
  id: string;
  name: string;
  status: string;
  /** time the client was seen and the server up, within the period */
  observed_s: number;
  /** online or late, over observed time; null when nothing was observed */
  uptime: number | null;
  /** green, over observed time */
  protected: number | null;
  status_s: { green: number; yellow: number; red: number; grey: number };
  incidents: Record<IncidentKind, IncidentStat>;
  /** mean time from turning red to recovering, of the red stretches that ended in the period */
  mttr_s: number | null;
  recoveries: number;
  /** DNS leaks that began per 7 days of observed time */
  dns_leaks_per_week: number | null;
  status_changes: number;
}

export function presentTotals(
  client: Pick<ClientSummary, "id" | "name" | "status">,
  t: Totals,
): ClientSummaryView {
  return {
    id: client.id,
    name: client.name,
    status: client.status,
    observed_s: seconds(t.knownMs),
    uptime: ratio(t.upMs, t.knownMs),
    protected: ratio(t.greenMs, t.knownMs),
    status_s: {
      green: seconds(t.greenMs),
      yellow: seconds(t.yellowMs),
      red: seconds(t.redMs),
      grey: seconds(t.greyMs),
    },
    incidents: Object.fromEntries(
      INCIDENT_KINDS.map((k) => [k, { count: incidentCount(t, k), duration_s: seconds(incidentMs(t, k)) }]),
    ) as Record<IncidentKind, IncidentStat>,
    mttr_s: t.recoveredN > 0 ? seconds(t.recoveredMs / t.recoveredN) : null,
    recoveries: t.recoveredN,
    dns_leaks_per_week: t.knownMs > 0 ? (t.dnsN * 7 * DAY_MS) / t.knownMs : null,
    status_changes: t.changes,
  };
}

const incidentTotal = (v: ClientSummaryView) => INCIDENT_KINDS.reduce((n, k) => n + v.incidents[k].count, 0);

/** Worst first: least protected (nothing observed last), then most incidents, then by name. */
export function worstFirst(a: ClientSummaryView, b: ClientSummaryView): number {
  const pa = a.protected ?? 2;
  const pb = b.protected ?? 2;
  if (pa !== pb) return pa - pb;
  return incidentTotal(b) - incidentTotal(a) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

export interface FleetSummary {
  from: number;
  to: number;
  clients: ClientSummaryView[];
  fleet: Omit<ClientSummaryView, "id" | "name" | "status" | "status_changes"> & { clients: number };
}

/** Every client's summary over [from, to], worst first, with the fleet's sums. */
export async function summarise(store: Store_, from: number, to: number): Promise<FleetSummary> {
  const all = await totalsOver(store, from, to);
  const views = all.map((c) => presentTotals(c.client, c.totals)).sort(worstFirst);
  const sum = emptyTotals();
  for (const c of all) accumulate(sum, c.totals);
  const {
    id: _id,
    name: _name,
    status: _status,
    status_changes: _changes,
    ...fleet
  } = presentTotals({ id: "", name: "", status: "" }, sum);
  return { from, to, clients: views, fleet: { ...fleet, clients: all.length } };
}
