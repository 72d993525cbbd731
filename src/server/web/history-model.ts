/**
 * View models of the past: status strips (true segments, not buckets), incidents (events of one
 * change grouped), and the analytics page. Pure: store rows in, plain data out.
 */
import { kindTitle } from "../../protocol/event-text.ts";
import { EVENT_SEVERITY, type EventSeverity, isEventKind } from "../../protocol/events.ts";
import { causeLabel, INCIDENT_KINDS, INCIDENT_LABEL } from "../monitor/causes.ts";
import { incidentWords } from "../reports/digest.ts";
import { DAY_MS, dayStart, type TimelineSegment, timeline } from "../reports/fold.ts";
import type { FleetSummary } from "../reports/summary.ts";
import type { EventRecord, FleetDay, HistoryRow, IncidentKind, Totals } from "../store/index.ts";
import { ago, shortUtcTime, span } from "./format.ts";

// ---- status strips ---------------------------------------------------------------------------

export interface StripSegment {
  status: string;
  /** position and width in per mille of the strip */
  x: number;
  width: number;
  /** "red 14 min, 13:50–14:04 UTC: Bypass, DNS leak" */
  text: string;
  from: number;
  to: number;
  /** where its incident is told (problem segments of a client's page) */
  href?: string;
}

export interface StripView {
  from: number;
  to: number;
  segments: StripSegment[];
  /** one sentence for screen readers and the keyboard tooltip */
  summary: string;
}

const STATUS_WORD: Record<string, string> = {
  green: "protected",
  yellow: "warning",
  red: "exposed",
  grey: "paused",
  unknown: "unknown",
};

function segmentText(s: TimelineSegment, now: number): string {
  const reasons = s.causes.map(causeLabel).join(", ");
  return `${STATUS_WORD[s.status] ?? s.status} ${span(s.to - s.from)}, ${shortUtcTime(s.from, now)} – ${shortUtcTime(s.to, now)}${reasons ? `: ${reasons}` : ""}`;
}

/** The strip of [from, to] from a client's history rows (the row in force first) and the server's downtimes. */
export function strip(
  rows: readonly HistoryRow[],
  downtimes: readonly { from: number; to: number }[],
  from: number,
  to: number,
  label: string,
): StripView {
  const segs = timeline(rows, downtimes, from, to);
  const total = to - from;
  const isProblem = (s: { status: string }) => s.status === "red" || s.status === "yellow";
  // a problem of a few seconds is drawn at least 0.6 % wide (and on top), so it can be seen
  const segments = segs
    .map((s) => {
      const width = Math.round(((s.to - s.from) / total) * 10000) / 10;
      const x = Math.round(((s.from - from) / total) * 10000) / 10;
      const shown = isProblem(s) ? Math.max(6, width) : Math.max(0.5, width);
      return {
        status: s.status,
        x: Math.min(x, 1000 - shown),
        width: shown,
        text: segmentText(s, to),
        from: s.from,
        to: s.to,
      };
    })
    .sort((a, b) => Number(isProblem(a)) - Number(isProblem(b)));
  const problems = segs.filter((s) => s.status === "red" || s.status === "yellow").reverse();
  const known = segs.filter((s) => s.status !== "unknown").reduce((n, s) => n + s.to - s.from, 0);
  const green = segs.filter((s) => s.status === "green").reduce((n, s) => n + s.to - s.from, 0);
  const summary =
    known === 0
      ? `${label}: nothing known`
      : problems.length === 0
        ? `${label}: ${green === known ? "protected the whole time observed" : `no problem (${span(green)} protected)`}`
        : `${label}: ${problems.length} problem stretch${problems.length === 1 ? "" : "es"}; ${problems
            .slice(0, 3)
            .map((s) => segmentText(s, to))
            .join("; ")}${problems.length > 3 ? "; …" : ""}`;
  return { from, to, segments, summary };
}

// ---- events -----------------------------------------------------------------------------------

export interface EventView {
  id: number;
  clientId: string | null;
  clientName: string | null;
  kind: string;
  title: string;
  severity: EventSeverity;
  from: string | null;
  to: string | null;
  reason: string | null;
  at: number;
  suppressed: boolean;
  evidence: Record<string, unknown>;
}

export function eventView(e: EventRecord, names: ReadonlyMap<string, string>): EventView {
  const reason = typeof e.evidence.reason === "string" ? e.evidence.reason : null;
  return {
    id: e.id,
    clientId: e.clientId,
    clientName: e.clientId ? (names.get(e.clientId) ?? null) : null,
    kind: e.kind,
    title: kindTitle(e.kind),
    severity: isEventKind(e.kind) ? EVENT_SEVERITY[e.kind] : "info",
    from: e.from,
    to: e.to,
    reason,
    at: e.at,
    suppressed: e.suppressed,
    evidence: e.evidence,
  };
}

export const eventKindTitle = kindTitle;

// ---- incidents ------------------------------------------------------------------------------

const SEVERITY_RANK: Record<EventSeverity, number> = { info: 0, green: 1, yellow: 2, red: 3 };

/** The events of one change of one client (one report or sweep), shown as one entry. */
export interface IncidentView {
  /** the first event's id: the anchor (#incident-N) */
  id: number;
  clientId: string | null;
  clientName: string | null;
  at: number;
  ago: string;
  severity: EventSeverity;
  /** "Bypass: traffic leaves through home + DNS leak" */
  title: string;
  events: EventView[];
  /** every event of it raised no alert */
  suppressed: boolean;
}

/**
 * Groups events (newest first, as the store lists them) into incidents: consecutive events of
 * the same client at the same moment came from one change. Server-wide events stand alone.
 */
export function incidents(
  events: readonly EventRecord[],
  names: ReadonlyMap<string, string>,
  now: number,
): IncidentView[] {
  const out: IncidentView[] = [];
  for (const e of events) {
    const view = eventView(e, names);
    const last = out.at(-1);
    if (last && e.clientId !== null && last.clientId === e.clientId && last.at === e.at) {
      last.events.push(view);
      last.id = Math.min(last.id, e.id);
      if (SEVERITY_RANK[view.severity] > SEVERITY_RANK[last.severity]) last.severity = view.severity;
      last.suppressed &&= e.suppressed;
      continue;
    }
    out.push({
      id: e.id,
      clientId: e.clientId,
      clientName: view.clientName,
      at: e.at,
      ago: ago(e.at, now),
      severity: isEventKind(e.kind) ? EVENT_SEVERITY[e.kind] : "info",
      title: "",
      events: [view],
      suppressed: e.suppressed,
    });
  }
  for (const i of out) {
    // worst first inside an incident, in the order they were stored otherwise
    i.events.reverse().sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity]);
    i.title = i.events.map((e) => e.title).join(" + ");
  }
  return out;
}

/** The event kinds whose titles contain `text` (case-insensitive), for the events page's search. */
export function kindsTitled(text: string, kinds: readonly string[]): string[] {
  const t = text.toLowerCase();
  return kinds.filter((k) => kindTitle(k).toLowerCase().includes(t) || k.includes(t));
}

// ---- analytics -------------------------------------------------------------------------------

export const ANALYTICS_PERIODS = { "7d": 7, "30d": 30, "90d": 90 } as const;
export type AnalyticsPeriod = keyof typeof ANALYTICS_PERIODS;

export interface DayBar {
  day: number;
  /** "Nov 23" */
  label: string;
  incidents: Record<IncidentKind, number>;
  /** green over observed time that day; null when nothing was observed */
  protected: number | null;
  /** the day is still going on */
  partial: boolean;
}

/** "1 bypass, 2 DNS leaks"; "none". */
export const incidentsText = (incidents: Record<IncidentKind, { count: number }>) => {
  const words = incidentWords(
    Object.fromEntries(
      INCIDENT_KINDS.map((k) => [k, { count: incidents[k].count, duration_s: 0 }]),
    ) as Record<IncidentKind, { count: number; duration_s: number }>,
    false,
  );
  return words === "no incident" ? "none" : words;
};

export interface AnalyticsView {
  period: AnalyticsPeriod;
  days: DayBar[];
  maxIncidents: number;
  summary: FleetSummary;
  kinds: { kind: IncidentKind; label: string }[];
  anomalies: EventView[];
  /** the day least protected, for the chart's caption */
  worstDay: DayBar | null;
}

const dayLabel = (day: number) =>
  new Date(dayStart(day)).toLocaleDateString("en-GB", { month: "short", day: "numeric", timeZone: "UTC" });

/** Bars per UTC day: rolled-up days from the fleet's rollups, today (so far) from `today`. */
export function analyticsView(input: {
  period: AnalyticsPeriod;
  fromDay: number;
  toDay: number;
  fleetDays: readonly FleetDay[];
  today: Totals | null;
  summary: FleetSummary;
  anomalies: readonly EventRecord[];
  names: ReadonlyMap<string, string>;
}): AnalyticsView {
  const byDay = new Map(input.fleetDays.map((d) => [d.day, d.totals]));
  const days: DayBar[] = [];
  for (let day = input.fromDay; day <= input.toDay; day++) {
    const partial = day === input.toDay && input.today !== null;
    const t = partial ? input.today : byDay.get(day);
    days.push({
      day,
      label: dayLabel(day),
      incidents: Object.fromEntries(INCIDENT_KINDS.map((k) => [k, t ? t[`${k}N`] : 0])) as Record<
        IncidentKind,
        number
      >,
      protected: t && t.knownMs > 0 ? t.greenMs / t.knownMs : null,
      partial,
    });
  }
  const maxIncidents = Math.max(
    1,
    ...days.map((d) => INCIDENT_KINDS.reduce((n, k) => n + d.incidents[k], 0)),
  );
  const observed = days.filter((d) => d.protected !== null);
  const worstDay = observed.reduce<DayBar | null>(
    (w, d) => (w === null || (d.protected as number) < (w.protected as number) ? d : w),
    null,
  );
  return {
    period: input.period,
    days,
    maxIncidents,
    worstDay,
    summary: input.summary,
    kinds: INCIDENT_KINDS.map((kind) => ({ kind, label: INCIDENT_LABEL[kind] })),
    anomalies: input.anomalies.map((e) => eventView(e, input.names)),
  };
}

export { DAY_MS };
