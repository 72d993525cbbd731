/**
 * Per-client summaries over any window (the summary API, the analytics page, reports): uptime
 * and protected time over the time actually observed, incidents by kind with count and
 * duration, mean time to recovery, DNS-leak frequency.
 *
 * Whole days come from the rollups (two running totals per client, subtracted: one indexed
 * look-up each, whatever the period); the partial day at the window's start and the time since
 * the last rolled-up day are folded from history rows. So a summary costs O(clients + changes
 * of about two days), never O(heartbeats) and never O(days).
 */
import { INCIDENT_KINDS } from "../monitor/causes.ts";
import type { ClientDay, ClientSummary, IncidentKind, RollupCarry, Store, Totals } from "../store/index.ts";
import {
  addTotals,
  DAY_MS,
  dayOf,
  dayStart,
  emptyTotals,
  fold,
  incidentCount,
  incidentMs,
  subtractTotals,
} from "./fold.ts";
import { byClient, rolledThrough } from "./rollup.ts";

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

/** Sums of history folded over [from, to] for the given clients, starting at `start` with carries. */
async function foldLive(
  store: Store_,
  ids: readonly string[] | null,
  start: number,
  from: number,
  to: number,
  carries: Map<string, ClientDay>,
): Promise<Map<string, Totals>> {
  const out = new Map<string, Totals>();
  if (to <= from) return out;
  const rows = byClient(await store.history.rangeMany(ids, start, to));
  const downtimes = await store.history.serverDowntimes(start, to);
  const carryDay = dayOf(start) - 1;
  for (const [clientId, history] of rows) {
    const c = carries.get(clientId);
    const carry: RollupCarry | null = c?.day === carryDay ? c.carry : null;
    out.set(clientId, fold({ rows: history, downtimes, start, from, to, carry }).totals);
  }
  return out;
}

const byId = (days: ClientDay[]) => new Map(days.map((d) => [d.clientId, d]));

/**
 * Every client's totals over [from, to] (`only`: just these clients), from rollups where whole
 * rolled-up days lie inside the window and from history rows elsewhere.
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
  const firstFull = Math.ceil(from / DAY_MS);
  const lastFull = Math.min(dayOf(to) - 1, rolled);
  const parts: Map<string, Totals>[] = [];
  if (firstFull <= lastFull) {
    const headDay = dayOf(from);
    const [headCarry, below, top] = await Promise.all([
      store.rollups.latest(headDay - 1, ids),
      store.rollups.latest(firstFull - 1, ids),
      store.rollups.latest(lastFull, ids),
    ]);
    // the partial day before the first whole one
    parts.push(await foldLive(store, ids, dayStart(headDay), from, dayStart(firstFull), byId(headCarry)));
    // whole days: the difference of two running totals
    const lower = byId(below);
    parts.push(
      new Map(
        top.map((d) => [
          d.clientId,
          subtractTotals(d.running, lower.get(d.clientId)?.running ?? emptyTotals()),
        ]),
      ),
    );
    // since the last rolled-up day
    parts.push(await foldLive(store, ids, dayStart(lastFull + 1), dayStart(lastFull + 1), to, byId(top)));
  } else {
    const day = dayOf(from);
    const carries = byId(await store.rollups.latest(day - 1, ids));
    parts.push(await foldLive(store, ids, dayStart(day), from, to, carries));
  }
  return clients.map((client) => ({
    client,
    totals: parts.reduce((sum, p) => {
      const t = p.get(client.id);
      return t ? addTotals(sum, t) : sum;
    }, emptyTotals()),
  }));
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

/** Worst first: least protected (nothing observed last), then most incidents, then by name. */
export function worstFirst(a: ClientSummaryView, b: ClientSummaryView): number {
  const pa = a.protected ?? 2;
  const pb = b.protected ?? 2;
  if (pa !== pb) return pa - pb;
  const ia = INCIDENT_KINDS.reduce((n, k) => n + a.incidents[k].count, 0);
  const ib = INCIDENT_KINDS.reduce((n, k) => n + b.incidents[k].count, 0);
  return ib - ia || a.name.localeCompare(b.name);
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
  const sum = all.reduce((s, c) => addTotals(s, c.totals), emptyTotals());
  const {
    id: _id,
    name: _name,
    status: _status,
    status_changes: _changes,
    ...fleet
  } = presentTotals({ id: "", name: "", status: "" }, sum);
  return { from, to, clients: views, fleet: { ...fleet, clients: all.length } };
}
