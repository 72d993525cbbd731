/**
 * Pure view models: store records in, plain data the templates render out. No I/O here, so the
 * numbers on the dashboard (counts, bars, durations) are unit-testable without a browser.
 */
import { kindTitle } from "../../protocol/event-text.ts";
import { EVENT_SEVERITY, type EventSeverity, isEventKind } from "../../protocol/events.ts";
import type { ReportV1 } from "../../protocol/report.ts";
import type { IpInfo } from "../geo/types.ts";
import { stretches, summariseUptime } from "../history/uptime.ts";
import { formatShare, type NetworkProfile, networkName } from "../monitor/networks.ts";
import { type ClientSettings, mutedUntil } from "../monitor/settings.ts";
import type { ClientState, Verdict, Verdicts } from "../monitor/types.ts";
import type { ClientRecord, ClientSummary, EventRecord, ExitSummary, HistoryRow } from "../store/index.ts";
import { ago, countryName, shortUtcTime } from "./format.ts";

export type Status = "green" | "yellow" | "red" | "grey";
export const STATUSES: readonly Status[] = ["red", "yellow", "green", "grey"];
const STATUS_RANK: Record<Status, number> = { red: 0, yellow: 1, grey: 2, green: 3 };
export const isStatus = (v: unknown): v is Status =>
  v === "green" || v === "yellow" || v === "red" || v === "grey";

/** Settings the dashboard edits in the client's policy JSON (the monitor reads the same keys). */
/** Mute choices, in seconds; "0" unmutes. */
export const MUTE_CHOICES = [
  { s: 3600, label: "1 hour" },
  { s: 8 * 3600, label: "8 hours" },
  { s: 86400, label: "24 hours" },
  { s: 7 * 86400, label: "7 days" },
  { s: 30 * 86400, label: "30 days" },
] as const;

export interface PolicyView {
  paused: boolean;
  /** alerts are held back until then (ms); the client is still judged and shown */
  mutedUntil: number | null;
  interval_s: number | null;
  grace_s: number | null;
  expected_country: string | null;
  expected_asn: number | null;
  /** labels that route its alerts (a channel URL's ?tags=) */
  tags: readonly string[];
}

export function readPolicy(s: ClientSettings, now: number): PolicyView {
  return {
    paused: s.paused,
    mutedUntil: mutedUntil(s, now),
    interval_s: s.interval_s,
    grace_s: s.grace_s,
    expected_country: s.expected_country,
    expected_asn: s.expected_asn,
    tags: s.tags,
  };
}

/** The stored state is JSON written by the monitor; read it defensively, field by field. */
export function readState(c: ClientRecord): Partial<ClientState> {
  return c.state && typeof c.state === "object" ? (c.state as Partial<ClientState>) : {};
}

export type VerdictKey = keyof Verdicts;
export const VERDICT_KEYS: readonly VerdictKey[] = ["bypass", "dns", "ipv6", "exit"];
export const VERDICT_LABEL: Record<VerdictKey, string> = {
  bypass: "Bypass",
  dns: "DNS",
  ipv6: "IPv6",
  exit: "Exit",
};
const VERDICT_WORD: Record<string, string> = {
  ok: "ok",
  leak: "leak",
  suspect: "suspect",
  unknown: "unknown",
  na: "n/a",
  inconsistent: "inconsistent",
  violated: "unexpected",
  unexpected: "not allowed",
};

export interface ChipView {
  key: VerdictKey;
  label: string;
  word: string;
  severity: Status;
  reason: string;
}

export function chipsOf(verdicts: Verdicts | null | undefined): ChipView[] {
  return VERDICT_KEYS.map((key) => {
    const v = verdicts?.[key] as Verdict<unknown> | undefined;
    return {
      key,
      label: VERDICT_LABEL[key],
      word: v ? (VERDICT_WORD[v.status] ?? v.status) : "no data",
      severity: v && isStatus(v.severity) ? v.severity : "grey",
      reason: v?.reason ?? "No report yet.",
    };
  });
}

/** One exit address as lists show it: which family, and whether it is the home line. */
export interface ExitView extends ExitSummary {
  family: 4 | 6;
  /** the bypass verdict found this exit to be home */
  home: boolean;
}

/**
 * The judged exits of both families (the leaking IPv6 one too), each marked when the bypass
 * verdict found it home; before any judgment, the address the store's summary holds.
 */
export function exitsOf(c: ClientRecord): ExitView[] {
  const state = readState(c);
  const judged = [state.exit?.ipv4, state.exit?.ipv6].filter((e): e is IpInfo => Boolean(e));
  const observed = state.verdicts?.bypass?.evidence?.exits ?? [];
  const isHome = (ip: string) => observed.some((o) => o.ip === ip && o.home_match !== null);
  if (judged.length === 0)
    return c.exit ? [{ ...c.exit, family: c.exit.ip.includes(":") ? 6 : 4, home: isHome(c.exit.ip) }] : [];
  return judged.map((e) => ({
    ip: e.ip,
    country: e.country,
    asn: e.asn,
    org: e.org,
    family: e.ip.includes(":") ? 6 : 4,
    home: isHome(e.ip),
  }));
}

/** The status word shown next to the icon: colour is never the only signal. */
export function statusWord(status: Status, liveness: string, paused: boolean): string {
  if (paused) return "Paused";
  if (liveness === "offline") return "Offline";
  if (liveness === "never") return "Waiting";
  return { green: "Protected", yellow: "Warning", red: "Exposed", grey: "Unknown" }[status];
}

/** When something shown was last true: "as of 14:05 UTC". */
export interface AsOf {
  at: number;
  text: string;
}

export interface ClientRowView {
  id: string;
  name: string;
  status: Status;
  word: string;
  reason: string;
  liveness: string;
  paused: boolean;
  muted: boolean;
  chips: ChipView[];
  /**
   * set when the chips are the last known verdicts of a client that went silent (offline): when
   * the report they come from arrived, so they read "as of 14:05 UTC", greyed
   */
  chipsAsOf: AsOf | null;
  exits: ExitView[];
  lastSeenAt: number | null;
  lastSeen: string;
}

export function clientRow(c: ClientRecord, now: number): ClientRowView {
  const state = readState(c);
  const policy = readPolicy(c.settings, now);
  const status: Status = isStatus(c.status) ? c.status : "grey";
  const paused = policy.paused || state.paused === true;
  return {
    id: c.id,
    name: c.name,
    status,
    word: statusWord(status, c.liveness, paused),
    reason: state.reason ?? (c.lastReportAt === null ? "Never reported." : ""),
    liveness: c.liveness,
    paused,
    muted: policy.mutedUntil !== null,
    chips: chipsOf(state.verdicts),
    chipsAsOf:
      c.liveness === "offline" && state.verdicts && c.lastReportAt !== null
        ? { at: c.lastReportAt, text: `as of ${shortUtcTime(c.lastReportAt, now)}` }
        : null,
    exits: exitsOf(c),
    lastSeenAt: c.lastReportAt,
    lastSeen: ago(c.lastReportAt, now),
  };
}

export type SortKey = "status" | "name" | "seen";
export interface OverviewQuery {
  q: string;
  status: Status | "all";
  sort: SortKey;
}

export function parseOverviewQuery(query: Record<string, string | undefined>): OverviewQuery {
  const status = query.status;
  const sort = query.sort;
  return {
    q: (query.q ?? "").trim().slice(0, 100),
    status: isStatus(status) ? status : "all",
    sort: sort === "name" || sort === "seen" ? sort : "status",
  };
}

export const overviewQueryString = (q: OverviewQuery) => {
  const p = new URLSearchParams();
  if (q.q) p.set("q", q.q);
  if (q.status !== "all") p.set("status", q.status);
  if (q.sort !== "status") p.set("sort", q.sort);
  const s = p.toString();
  return s ? `?${s}` : "";
};

export type StatusCounts = Record<Status, number> & { total: number };

export function countStatuses(rows: { status: Status }[]): StatusCounts {
  const counts: StatusCounts = { red: 0, yellow: 0, green: 0, grey: 0, total: rows.length };
  for (const r of rows) counts[r.status]++;
  return counts;
}

function matches(c: ClientSummary, needle: string): boolean {
  if (!needle) return true;
  const n = needle.toLowerCase().replace(/^as(?=\d)/, "");
  const hay = [c.name, c.exit?.ip, c.exit?.org, c.exit?.country, c.exit?.asn?.toString()];
  return hay.some((h) => h?.toLowerCase().includes(n));
}

/**
 * The overview shows at most this many rows (worst first by default); with more clients the
 * page says so and search or the status filter narrow it down. Keeps a 10,000-client page light.
 */
export const OVERVIEW_MAX_ROWS = 300;

export interface OverviewView {
  query: OverviewQuery;
  counts: StatusCounts;
  rows: ClientRowView[];
  /** rows that matched the filters, before the OVERVIEW_MAX_ROWS cut */
  matched: number;
  /** clients before filtering, so "no match" and "no clients yet" read differently */
  total: number;
}

const collator = new Intl.Collator();
const statusOf = (c: ClientSummary): Status => (isStatus(c.status) ? c.status : "grey");

/**
 * Counts, filters and sorts the light summaries of every client, then builds rows only for the
 * ones shown, from the full records `load` returns (with 10,000 clients, parsing every
 * client's state for a page that shows 300 was most of the time).
 */
export async function overview(
  clients: readonly ClientSummary[],
  now: number,
  query: OverviewQuery,
  load: (ids: string[]) => Promise<ClientRecord[]>,
): Promise<OverviewView> {
  const matched = clients.filter(
    (c) => (query.status === "all" || statusOf(c) === query.status) && matches(c, query.q),
  );
  const byName = (a: ClientSummary, b: ClientSummary) => collator.compare(a.name, b.name);
  if (query.sort === "name") matched.sort(byName);
  else if (query.sort === "seen")
    matched.sort((a, b) => (b.lastReportAt ?? -1) - (a.lastReportAt ?? -1) || byName(a, b));
  else matched.sort((a, b) => STATUS_RANK[statusOf(a)] - STATUS_RANK[statusOf(b)] || byName(a, b));
  const shown = matched.slice(0, OVERVIEW_MAX_ROWS);
  const records = new Map((await load(shown.map((c) => c.id))).map((r) => [r.id, r]));
  return {
    query,
    counts: countStatuses(clients.map((c) => ({ status: statusOf(c) }))),
    rows: shown.flatMap((c) => {
      const record = records.get(c.id);
      return record ? [clientRow(record, now)] : [];
    }),
    matched: matched.length,
    total: clients.length,
  };
}

// ---- events ----------------------------------------------------------------------------------

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

// ---- availability bars and history -------------------------------------------------------

export interface Bucket {
  start: number;
  end: number;
  /** share of known time the client was up (online or late); null when nothing is known */
  up: number | null;
  /** share of known time the client was green; null when nothing is known */
  protected: number | null;
}

export interface BarsView {
  label: string;
  buckets: Bucket[];
  up: number | null;
  protected: number | null;
}

export interface HistoryInput {
  /** change-only history rows of the last 30 days (plus the row in force when they start) */
  rows: HistoryRow[];
  /** when the server itself was down: unknown time, never the client's downtime */
  downtimes: { from: number; to: number }[];
}

export const BAR_WINDOWS = [
  { label: "24 h", ms: 86_400_000, buckets: 24 },
  { label: "7 d", ms: 7 * 86_400_000, buckets: 28 },
  { label: "30 d", ms: 30 * 86_400_000, buckets: 30 },
] as const;

/** Uptime and protected time per bucket, with the same arithmetic as /api/v1/clients/:id/uptime. */
export function bars(
  label: string,
  h: HistoryInput,
  window: { from: number; to: number },
  count: number,
): BarsView {
  const size = (window.to - window.from) / count;
  const buckets: Bucket[] = [];
  for (let i = 0; i < count; i++) {
    const start = window.from + i * size;
    const s = summariseUptime(h.rows, h.downtimes, start, start + size);
    buckets.push({ start, end: start + size, up: s.uptime, protected: s.protected });
  }
  const total = summariseUptime(h.rows, h.downtimes, window.from, window.to);
  return { label, buckets, up: total.uptime, protected: total.protected };
}

export interface HistoryEntry {
  label: string;
  detail: string | null;
  from: number;
  until: number | null;
}

const infoDetail = (info: Partial<IpInfo> | null | undefined) =>
  info
    ? [countryName(info.country), info.asn ? `AS${info.asn}` : null, info.org].filter(Boolean).join(" · ") ||
      null
    : null;

/** Stretches of one value, newest first; the newest is "current" (until = null). */
function history(
  rows: HistoryRow[],
  key: (r: HistoryRow) => string | null,
  now: number,
  detail: (v: string) => string | null,
) {
  return stretches(rows, key, now).map(
    (s, i): HistoryEntry => ({
      label: s.value.split(",").join(", "),
      detail: detail(s.value),
      from: s.from,
      until: i === 0 ? null : s.to,
    }),
  );
}

// ---- client detail ---------------------------------------------------------------------------

export interface ClientDetailView {
  row: ClientRowView;
  policy: PolicyView;
  verdicts: Verdicts | null;
  timeline: EventView[];
  bars: BarsView[];
  exits: HistoryEntry[];
  resolvers: HistoryEntry[];
  agent: { version: string; os: string; arch: string; hostname: string } | null;
  createdAt: number;
  firstSeenAt: number | null;
  lastSourceIp: string | null;
  intervalS: number | null;
  graceS: number | null;
  rotationPendingUntil: number | null;
  /** the exit networks of the last 30 days and the lock (absent without a monitor) */
  networks?: NetworksView;
}

export interface NetworksView {
  networks: { label: string; share: string }[];
  countries: { label: string; share: string }[];
  /** "AS39351, AS212238; countries SE" or null when not locked */
  locked: string | null;
  /** Lock would lock to something */
  canLock: boolean;
}

export function networksView(profile: NetworkProfile, s: ClientSettings): NetworksView {
  const parts = [
    s.exit_asns === null ? null : `networks ${s.exit_asns.map((a) => `AS${a}`).join(", ") || "none"}`,
    s.exit_countries === null ? null : `countries ${s.exit_countries.join(", ") || "none"}`,
  ].filter((p) => p !== null);
  return {
    networks: profile.asns.map((n) => ({ label: networkName(n.asn, n.org), share: formatShare(n.share) })),
    countries: profile.countries.map((c) => ({
      label: countryName(c.country) ?? c.country,
      share: formatShare(c.share),
    })),
    locked: parts.length ? parts.join("; ") : null,
    canLock: profile.asns.length > 0,
  };
}

/** `eventsDesc`: the client's recent events, newest first, as the store returns them. */
export function clientDetail(
  c: ClientRecord,
  eventsDesc: EventRecord[],
  h: HistoryInput,
  now: number,
): ClientDetailView {
  const state = readState(c);
  const names = new Map([[c.id, c.name]]);
  const exitInfo = new Map(
    [state.exit?.ipv4, state.exit?.ipv6].flatMap((e) => (e ? [[e.ip, e] as const] : [])),
  );
  const resolverInfo = new Map((state.resolvers ?? []).map((r) => [r.ip, r]));
  const report = c.lastReport as Partial<ReportV1> | null;
  return {
    row: clientRow(c, now),
    policy: readPolicy(c.settings, now),
    verdicts: state.verdicts ?? null,
    timeline: eventsDesc.slice(0, 50).map((e) => eventView(e, names)),
    bars: BAR_WINDOWS.map((w) => bars(w.label, h, { from: now - w.ms, to: now }, w.buckets)),
    // both families: an IPv6 exit through home is the leak people look for here
    exits: history(
      h.rows,
      (r) => [r.exitIpv4, r.exitIpv6].filter(Boolean).join(",") || null,
      now,
      (ips) =>
        ips
          .split(",")
          .map((ip) => infoDetail(exitInfo.get(ip)))
          .filter(Boolean)
          .join("; ") || null,
    ),
    resolvers: history(
      h.rows,
      (r) => r.resolvers,
      now,
      (ips) =>
        ips
          .split(",")
          .map((ip) => infoDetail(resolverInfo.get(ip)?.info))
          .filter(Boolean)
          .join("; ") || null,
    ),
    agent: state.agent ?? report?.agent ?? null,
    createdAt: c.createdAt,
    firstSeenAt: state.first_seen_at ?? null,
    lastSourceIp: c.lastSourceIp,
    intervalS: state.interval_s ?? report?.interval_s ?? null,
    graceS: state.grace_s ?? null,
    rotationPendingUntil: c.prevSecretUntil !== null && c.prevSecretUntil > now ? c.prevSecretUntil : null,
  };
}
