/**
 * What a scheduled report says: worst clients first, incidents, uptime and protected time over
 * observed time, anomalies. Built once when the report is due and snapshotted into the outbox
 * row (a message sent after a retry still tells that period); rendered as plain lines for every
 * channel's text, and as a view for the email's HTML table. Plain JSON.
 */
import { formatDuration } from "../../config/duration.ts";
import { kindTitle } from "../../protocol/event-text.ts";
import { formatTime } from "../local-time.ts";
import { INCIDENT_KINDS } from "../monitor/causes.ts";
import type { EventRecord, IncidentKind } from "../store/index.ts";
import type { ClientSummaryView, FleetSummary, IncidentStat } from "./summary.ts";

/** At most this many clients are named; the rest are counted. */
export const REPORT_WORST = 10;
const REPORT_ANOMALIES = 20;

export interface ReportClientLine {
  id: string;
  name: string;
  protected: number | null;
  uptime: number | null;
  observed_s: number;
  incidents: Record<IncidentKind, IncidentStat>;
  mttr_s: number | null;
}

export interface ReportDigest {
  /** "Weekly report" */
  title: string;
  schedule: string;
  from: number;
  to: number;
  timeZone: string;
  clients: number;
  fleet: Pick<ClientSummaryView, "observed_s" | "uptime" | "protected" | "incidents" | "mttr_s">;
  /** clients that were not fully protected or had an incident, worst first, at most REPORT_WORST */
  worst: ReportClientLine[];
  /** how many more than `worst` shows */
  moreWorst: number;
  /** clients fully protected without an incident */
  clean: number;
  anomalies: { client: string | null; title: string; reason: string; at: number }[];
}

const troubled = (c: ClientSummaryView) =>
  (c.protected !== null && c.protected < 1) || INCIDENT_KINDS.some((k) => c.incidents[k].count > 0);

export function buildDigest(input: {
  title: string;
  schedule: string;
  timeZone: string;
  summary: FleetSummary;
  anomalies: EventRecord[];
  names: ReadonlyMap<string, string>;
}): ReportDigest {
  const { summary } = input;
  const bad = summary.clients.filter(troubled);
  return {
    title: input.title,
    schedule: input.schedule,
    from: summary.from,
    to: summary.to,
    timeZone: input.timeZone,
    clients: summary.fleet.clients,
    fleet: {
      observed_s: summary.fleet.observed_s,
      uptime: summary.fleet.uptime,
      protected: summary.fleet.protected,
      incidents: summary.fleet.incidents,
      mttr_s: summary.fleet.mttr_s,
    },
    worst: bad.slice(0, REPORT_WORST).map((c) => ({
      id: c.id,
      name: c.name,
      protected: c.protected,
      uptime: c.uptime,
      observed_s: c.observed_s,
      incidents: c.incidents,
      mttr_s: c.mttr_s,
    })),
    moreWorst: Math.max(0, bad.length - REPORT_WORST),
    clean: summary.clients.filter((c) => c.observed_s > 0 && !troubled(c)).length,
    anomalies: input.anomalies.slice(0, REPORT_ANOMALIES).map((e) => ({
      client: e.clientId ? (input.names.get(e.clientId) ?? e.clientId) : null,
      title: kindTitle(e.kind),
      reason: typeof e.evidence.reason === "string" ? e.evidence.reason : "",
      at: e.at,
    })),
  };
}

// ---- words -----------------------------------------------------------------------------------

const NOUNS: Record<IncidentKind, [string, string]> = {
  bypass: ["bypass", "bypasses"],
  dns: ["DNS leak", "DNS leaks"],
  ipv6: ["IPv6 leak", "IPv6 leaks"],
  exit: ["unexpected exit", "unexpected exits"],
  offline: ["time offline", "times offline"],
};

export const pct = (f: number | null) =>
  f === null ? "nothing observed" : `${(Math.floor(f * 1000) / 10).toFixed(f >= 0.9995 ? 0 : 1)} %`;

/** "1 bypass (1h), 2 DNS leaks (38m)"; "no incident" when there were none. */
export function incidentWords(incidents: Record<IncidentKind, IncidentStat>, durations = true): string {
  const parts = INCIDENT_KINDS.filter((k) => incidents[k].count > 0 || incidents[k].duration_s > 0).map(
    (k) => {
      const { count, duration_s } = incidents[k];
      const noun = NOUNS[k][count === 1 ? 0 : 1];
      return `${count} ${noun}${durations && duration_s > 0 ? ` (${formatDuration(duration_s * 1000)})` : ""}`;
    },
  );
  return parts.length ? parts.join(", ") : "no incident";
}

/** The report as a view for templates: every value already in words. */
export interface ReportView {
  title: string;
  period: string;
  fleet: string;
  incidents: string;
  worst: { name: string; protected: string; uptime: string; incidents: string; mttr: string }[];
  more: string | null;
  anomalies: { client: string; title: string; reason: string }[];
  clean: string;
}

export function reportView(d: ReportDigest): ReportView {
  const mttr = (s: number | null) => (s === null ? "—" : formatDuration(s * 1000));
  return {
    title: d.title,
    period: `${formatTime(d.from, d.timeZone, { zoneName: false })} – ${formatTime(d.to, d.timeZone, { zoneName: false })} (${d.timeZone})`,
    fleet: `${d.clients} client${d.clients === 1 ? "" : "s"}: protected ${pct(d.fleet.protected)}, up ${pct(d.fleet.uptime)} of the time observed.`,
    incidents: `Incidents: ${incidentWords(d.fleet.incidents)}.${d.fleet.mttr_s === null ? "" : ` Mean time to recovery: ${mttr(d.fleet.mttr_s)}.`}`,
    worst: d.worst.map((c) => ({
      name: c.name,
      protected: pct(c.protected),
      uptime: pct(c.uptime),
      incidents: incidentWords(c.incidents, false),
      mttr: mttr(c.mttr_s),
    })),
    more: d.moreWorst > 0 ? `${d.moreWorst} more client(s) had problems: see the analytics page.` : null,
    anomalies: d.anomalies.map((a) => ({ client: a.client ?? "server", title: a.title, reason: a.reason })),
    clean: `${d.clean} client${d.clean === 1 ? "" : "s"} fully protected, without an incident.`,
  };
}

/** Plain lines, for every channel's text (each channel escapes them for its format). */
export function reportLines(d: ReportDigest): string[] {
  const v = reportView(d);
  const lines = [v.period, v.fleet, v.incidents];
  if (v.worst.length) {
    lines.push("Worst first:");
    for (const [i, c] of v.worst.entries())
      lines.push(
        `${i + 1}. ${c.name}: protected ${c.protected}, up ${c.uptime}; ${c.incidents}${c.mttr === "—" ? "" : `; recovered in ${c.mttr} on average`}`,
      );
    if (v.more) lines.push(v.more);
  }
  if (v.anomalies.length) {
    lines.push("Anomalies:");
    for (const a of v.anomalies) lines.push(`• ${a.client}: ${a.title}. ${a.reason}`);
  }
  lines.push(v.clean);
  return lines;
}
