/**
 * Pure view models: store records in, plain data the templates render out. No I/O here, so the
 * numbers on the dashboard (counts, bars, durations) are unit-testable without a browser.
 */
import type { ReportV1 } from "../../protocol/report.ts";
import type { IpInfo } from "../geo/types.ts";
import { stretches, summariseUptime } from "../history/uptime.ts";
import { CHECK_FILTERS, causeLabel } from "../monitor/causes.ts";
import { formatShare, type NetworkProfile, networkName } from "../monitor/networks.ts";
import { type ClientSettings, mutedUntil } from "../monitor/settings.ts";
import type { ClientState, Verdict, Verdicts } from "../monitor/types.ts";
import type {
  AddressInfo,
  ClientHistoryRow,
  ClientRecord,
  ClientSummary,
  EventRecord,
  ExitSummary,
  HistoryRow,
} from "../store/index.ts";
import { ago, countryName, shortUtcTime, span } from "./format.ts";
import { type IncidentView, incidents, type StripView, strip } from "./history-model.ts";

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
  /** since when the status holds: "for 14 min" */
  since: AsOf | null;
  /** the last 24 hours, when the caller loaded the history */
  strip: StripView | null;
  /** what a live update compares to tell a changed row (status and causes, not "last seen") */
  sig: string;
}

/** "for 14 min": how long the status has held. */
export const sinceText = (at: number, now: number) => `for ${span(now - at)}`;

export function clientRow(c: ClientRecord, now: number, last24h: StripView | null = null): ClientRowView {
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
    since:
      c.statusSince != null && c.liveness !== "never"
        ? { at: c.statusSince, text: sinceText(c.statusSince, now) }
        : null,
    strip: last24h,
    sig: `${status}|${(c.causes ?? []).join(",")}`,
  };
}

export type SortKey = "status" | "name" | "seen";
export type FlagFilter = "" | "muted" | "paused";
export interface OverviewQuery {
  q: string;
  status: Status | "all";
  sort: SortKey;
  /** a cause code (CHECK_FILTERS), or "" for any */
  check: string;
  flag: FlagFilter;
}

export function parseOverviewQuery(query: Record<string, string | undefined>): OverviewQuery {
  const status = query.status;
  const sort = query.sort;
  const check = query.check ?? "";
  return {
    q: (query.q ?? "").trim().slice(0, 100),
    status: isStatus(status) ? status : "all",
    sort: sort === "name" || sort === "seen" ? sort : "status",
    check: CHECK_FILTERS.some((c) => c.code === check) ? check : "",
    flag: query.flag === "muted" || query.flag === "paused" ? query.flag : "",
  };
}

export const overviewQueryString = (q: OverviewQuery) => {
  const p = new URLSearchParams();
  if (q.q) p.set("q", q.q);
  if (q.status !== "all") p.set("status", q.status);
  if (q.check) p.set("check", q.check);
  if (q.flag) p.set("flag", q.flag);
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

const countryNames = new Map<string, string>();
/** "sweden" for "SE", looked up once per code: a search over 10,000 clients asks for few codes. */
function countryWords(code: string | null | undefined): string | null {
  if (!code) return null;
  let name = countryNames.get(code);
  if (name === undefined) {
    name = (countryName(code) ?? code).toLowerCase();
    countryNames.set(code, name);
  }
  return name;
}

/**
 * Search: name, exit address, organisation, country code and name ("Sweden"), AS number, and
 * the checks that are not ok, by their words ("dns leak", "offline", "unexpected exit").
 */
function matches(c: ClientSummary, needle: string): boolean {
  if (!needle) return true;
  const n = needle.toLowerCase().replace(/^as(?=\d)/, "");
  const hay = [
    c.name,
    c.exit?.ip,
    c.exit?.org,
    c.exit?.country,
    countryWords(c.exit?.country),
    c.exit?.asn?.toString(),
    ...(c.causes ?? []).map(causeLabel),
  ];
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

/** The history the overview's strips are drawn from: the shown clients' rows over the last 24 h. */
export interface StripSource {
  rows: (ids: string[], from: number, to: number) => Promise<ClientHistoryRow[]>;
  downtimes: (from: number, to: number) => Promise<{ from: number; to: number }[]>;
}

export const STRIP_MS = 86_400_000;

/** Each client's 24-hour strip, from one read of the shown clients' history (not one per row). */
export async function strips(
  ids: string[],
  source: StripSource,
  now: number,
): Promise<Map<string, StripView>> {
  const from = now - STRIP_MS;
  const [rows, downtimes] = await Promise.all([source.rows(ids, from, now), source.downtimes(from, now)]);
  const byClient = new Map<string, HistoryRow[]>();
  for (const r of rows) {
    const list = byClient.get(r.clientId);
    if (list) list.push(r);
    else byClient.set(r.clientId, [r]);
  }
  return new Map(ids.map((id) => [id, strip(byClient.get(id) ?? [], downtimes, from, now, "Last 24 h")]));
}

/** Where the overview reads what the light summaries leave out. */
export interface OverviewSources {
  /** the full records of the clients shown */
  load: (ids: string[]) => Promise<ClientRecord[]>;
  /** the clients paused, or muted at the time, asked only when the list is filtered by that */
  flagged: (flag: Exclude<FlagFilter, "">) => Promise<string[]>;
  /** the 24-hour strips' history; without it rows have no strip */
  history?: StripSource;
}

/**
 * Counts, filters and sorts the light summaries of every client, then builds rows only for the
 * ones shown, from the full records `load` returns (with 10,000 clients, parsing every
 * client's state for a page that shows 300 was most of the time), with their 24-hour strips
 * from one read of those rows' history. Pause and mute live in the settings, which summaries do
 * not read: a list filtered by them asks the store for those ids.
 */
export async function overview(
  clients: readonly ClientSummary[],
  now: number,
  query: OverviewQuery,
  { load, flagged, history }: OverviewSources,
): Promise<OverviewView> {
  const withFlag = query.flag ? new Set(await flagged(query.flag)) : null;
  const matched = clients.filter(
    (c) =>
      (query.status === "all" || statusOf(c) === query.status) &&
      (query.check === "" || (c.causes ?? []).includes(query.check)) &&
      (withFlag === null || withFlag.has(c.id)) &&
      matches(c, query.q),
  );
  const byName = (a: ClientSummary, b: ClientSummary) => collator.compare(a.name, b.name);
  if (query.sort === "name") matched.sort(byName);
  else if (query.sort === "seen")
    matched.sort((a, b) => (b.lastReportAt ?? -1) - (a.lastReportAt ?? -1) || byName(a, b));
  else matched.sort((a, b) => STATUS_RANK[statusOf(a)] - STATUS_RANK[statusOf(b)] || byName(a, b));
  const shown = matched.slice(0, OVERVIEW_MAX_ROWS);
  const ids = shown.map((c) => c.id);
  const [loaded, last24h] = await Promise.all([
    load(ids),
    history ? strips(ids, history, now) : Promise.resolve(new Map<string, StripView>()),
  ]);
  const records = new Map(loaded.map((r) => [r.id, r]));
  return {
    query,
    counts: countStatuses(clients.map((c) => ({ status: statusOf(c) }))),
    rows: shown.flatMap((c) => {
      const record = records.get(c.id);
      return record ? [clientRow(record, now, last24h.get(c.id) ?? null)] : [];
    }),
    matched: matched.length,
    total: clients.length,
  };
}

export { CHECK_FILTERS } from "../monitor/causes.ts";

// ---- events (see history-model.ts) -----------------------------------------------------------

export { type EventView, eventKindTitle, eventView } from "./history-model.ts";

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
  /** the time the shares are over: the client seen, the server up */
  observedMs: number;
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
  return { label, buckets, up: total.uptime, protected: total.protected, observedMs: total.known_ms };
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

/** What the rows' detail says about each address, the newest row's word winning. */
function addressBook(
  rows: readonly HistoryRow[],
  pick: (d: NonNullable<HistoryRow["detail"]>) => AddressInfo[],
) {
  const book = new Map<string, AddressInfo>();
  for (const r of rows) for (const a of r.detail ? pick(r.detail) : []) book.set(a.ip, a);
  return book;
}

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
  /** the client's recent incidents (events of one change grouped), newest first */
  timeline: IncidentView[];
  /** the last 7 days as a strip whose problem stretches link to their incidents */
  week: StripView;
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
  // country and AS as each history row recorded them, then as the current state says
  const exitInfo = new Map<string, Partial<IpInfo>>(addressBook(h.rows, (d) => d.exits));
  for (const e of [state.exit?.ipv4, state.exit?.ipv6]) if (e && !exitInfo.has(e.ip)) exitInfo.set(e.ip, e);
  const resolverInfo = new Map<string, Partial<IpInfo>>(addressBook(h.rows, (d) => d.resolvers));
  for (const r of state.resolvers ?? []) if (!resolverInfo.has(r.ip)) resolverInfo.set(r.ip, r.info);
  const report = c.lastReport as Partial<ReportV1> | null;
  const timeline = incidents(eventsDesc, names, now);
  const week = strip(h.rows, h.downtimes, now - 7 * 86_400_000, now, "Last 7 days");
  // a problem stretch links to the incident that began it (its events share the change's time)
  const events = `/events?client=${encodeURIComponent(c.id)}`;
  for (const s of week.segments) {
    if (s.status !== "red" && s.status !== "yellow") continue;
    const began = timeline.find((i) => Math.abs(i.at - s.from) <= 1000);
    s.href = began ? `${events}#incident-${began.id}` : events;
  }
  return {
    row: clientRow(c, now, strip(h.rows, h.downtimes, now - STRIP_MS, now, "Last 24 h")),
    policy: readPolicy(c.settings, now),
    verdicts: state.verdicts ?? null,
    timeline: timeline.slice(0, 30),
    week,
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
          .map((ip) => infoDetail(resolverInfo.get(ip)))
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
