/**
 * What a message template sees: a notification turned into plain values (no markup), so one set
 * of variables serves every format and each format's escaping applies to all of them.
 * docs/alerts.md ("Template variables") documents every field; a test checks the two agree.
 */
import { formatDuration } from "../../config/duration.ts";
import { KIND_TEXT, SEVERITY_EMOJI } from "../../protocol/event-text.ts";
import { formatTime } from "../local-time.ts";
import { type ReportView, reportLines, reportView } from "../reports/digest.ts";
import type { Notification } from "./types.ts";

export interface RenderContext {
  /** --public-url; null leaves out dashboard links */
  publicUrl: string | null;
  /** IANA zone for times */
  timeZone: string;
}

export interface DigestItemView {
  kind: string;
  severity: string;
  emoji: string;
  headline: string;
  /**
   * the headline after the client's name ("is offline"), so a format can set the name apart
   * (Telegram makes it bold); the whole headline when it does not start with the name
   */
  what: string;
  client: { id: string; name: string } | null;
  reason: string | null;
  time: string;
}

export interface MessageView extends DigestItemView {
  at: number;
  /** the same time as ISO 8601 (UTC), for machine fields */
  at_iso: string;
  from: string | null;
  to: string | null;
  /** "from → to" when the notification is a change, else null */
  changed: string | null;
  evidence: Record<string, unknown>;
  evidence_lines: string[];
  facts: Record<string, unknown>;
  fact_lines: string[];
  /** resolved kinds: how long the problem lasted ("12m30s"), else null */
  lasted: string | null;
  /** "At" or, for reminders, "Since" */
  time_label: string;
  /** the dashboard page of the client (or the dashboard), null without --public-url */
  url: string | null;
  /** digest: the folded notifications, oldest first */
  items: DigestItemView[];
  count: number;
  /** Discord embed colour (decimal RGB) and a hex form, by severity */
  color: number;
  color_hex: string;
  public_url: string | null;
  time_zone: string;
  /** a scheduled report, in words (its lines are also the fact_lines) */
  report: ReportView | null;
}

const COLORS: Record<string, number> = { red: 0xd32f2f, yellow: 0xf9a825, green: 0x2e7d32, info: 0x1565c0 };

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | null => (typeof v === "string" && v ? v : null);

/** "203.0.113.7 (DE, AS3320 Deutsche Telekom AG)" */
export function describeAddress(info: unknown): string {
  if (!isObj(info)) return typeof info === "string" && info ? info : "unknown";
  const where = [
    str(info.country),
    info.asn != null ? `AS${info.asn}${str(info.org) ? ` ${info.org}` : ""}` : str(info.org),
  ]
    .filter(Boolean)
    .join(", ");
  return `${info.ip ?? "unknown"}${where ? ` (${where})` : ""}`;
}

function homeMatch(m: unknown): string {
  if (!isObj(m)) return "";
  if (m.kind === "address") return ` — your home address (matches ${m.entry})`;
  if (m.kind === "asn") return ` — your home ISP (AS${m.asn})`;
  return "";
}

const RESOLVER_WHY: Record<string, string> = {
  home: "is your home line's resolver: your ISP sees every name you look up",
  other: "belongs neither to the VPN's network nor to an allowed resolver: a third party sees your lookups",
  exit_network: "is in the VPN's own network (fine)",
  allowed: "is an allowed public resolver (fine)",
};

function evidenceLines(e: Record<string, unknown>): string[] {
  const lines: string[] = [];
  for (const x of arr(e.exits)) {
    if (!isObj(x)) continue;
    const by = arr(x.providers).map(String).join(", ");
    lines.push(`exit ${describeAddress(x.info ?? x)}${by ? ` seen by ${by}` : ""}${homeMatch(x.home_match)}`);
  }
  if (str(e.source_ip)) lines.push(`report came from ${e.source_ip}${homeMatch(e.source_home_match)}`);
  for (const r of arr(e.resolvers)) {
    if (!isObj(r)) continue;
    const why = RESOLVER_WHY[String(r.judgement)];
    lines.push(`resolver ${describeAddress(r.info ?? r)}${why ? ` ${why}` : ""}${homeMatch(r.home_match)}`);
  }
  for (const s of arr(e.client_subnets))
    if (isObj(s)) lines.push(`a resolver forwarded your subnet ${s.subnet}${homeMatch(s.home_match)}`);
  const before = e.previous ?? e.old;
  const after = e.current ?? e.new;
  if (before !== undefined || after !== undefined)
    lines.push(`${describeAddress(before)} → ${describeAddress(after)}`);
  for (const v of arr(e.violations)) lines.push(`breaks the expected ${v}`);
  for (const p of arr(e.probe_errors)) if (isObj(p)) lines.push(`probe ${p.probe} failed: ${p.error}`);
  return lines;
}

function factLines(n: Notification, timeZone: string): string[] {
  const f = n.facts;
  const lines: string[] = [];
  if (n.kind === "client.offline") {
    lines.push(`Last seen: ${f.lastSeenAt ? formatTime(f.lastSeenAt, timeZone) : "never"}`);
    const exits = [f.lastExit?.ipv4, f.lastExit?.ipv6].filter(Boolean);
    if (exits.length) lines.push(`Last exit: ${exits.map(describeAddress).join(", ")}`);
  }
  if (typeof f.downtimeMs === "number" && f.downtimeMs >= 0)
    lines.push(`Lasted ${formatDuration(f.downtimeMs)}.`);
  if (f.heldBack?.length) lines.push(`Offline alerts held back meanwhile: ${f.heldBack.join(", ")}`);
  if (f.counts)
    lines.push(
      `Clients: ${
        Object.entries(f.counts)
          .map(([s, c]) => `${c} ${s}`)
          .join(", ") || "none"
      }`,
    );
  if (f.limit) lines.push(`More than ${f.limit} alerts about this client: the rest came together here.`);
  if (f.heldBackBy) lines.push(`Announced late: held back by ${f.heldBackBy}.`);
  if (f.report) lines.push(...reportLines(f.report));
  return lines;
}

/** What happened after the client's name ("is offline"), from the shared table (protocol/event-text.ts). */
function predicate(n: Notification): string {
  if (n.kind === "reminder") return `${KIND_TEXT.reminder.headline} ${n.facts.status ?? "red"}`;
  if (n.kind === "client.flapping" && n.to === "stable") return "is stable again";
  return KIND_TEXT[n.kind].headline;
}

/** The headline without its mark: "laptop traffic bypasses the VPN", "Server uplink down". */
export function headline(n: Notification): string {
  if (n.kind === "digest") {
    const count = n.items?.length ?? 0;
    return n.client
      ? `${count} more ${KIND_TEXT.digest.headline} about ${n.client.name}`
      : `${count} more ${KIND_TEXT.digest.headline} in a burst`;
  }
  return n.client ? `${n.client.name} ${predicate(n)}` : predicate(n);
}

export function emoji(n: Notification): string {
  if (n.kind === "reminder") return `⏰${SEVERITY_EMOJI.red}`;
  if (n.kind === "client.flapping" && n.to === "stable") return SEVERITY_EMOJI.green;
  if (n.kind === "digest") return "🔔";
  return SEVERITY_EMOJI[n.severity];
}

export function dashboardUrl(n: Notification, publicUrl: string | null): string | null {
  if (!publicUrl) return null;
  const base = publicUrl.replace(/\/+$/, "");
  return n.client ? `${base}/clients/${encodeURIComponent(n.client.id)}` : base;
}

function itemView(n: Notification, ctx: RenderContext): DigestItemView {
  // a reminder tells where the client stands now, not what the first alert said
  const reason = n.kind === "reminder" ? (n.facts.reason ?? str(n.evidence.reason)) : str(n.evidence.reason);
  return {
    kind: n.kind,
    severity: n.severity,
    emoji: emoji(n),
    headline: headline(n),
    what: n.client && n.kind !== "digest" ? predicate(n) : headline(n),
    client: n.client,
    reason,
    time: formatTime(n.kind === "reminder" && n.facts.since ? n.facts.since : n.at, ctx.timeZone),
  };
}

export function messageView(n: Notification, ctx: RenderContext): MessageView {
  const items = (n.items ?? []).map((i) => itemView(i, ctx));
  const color = COLORS[n.kind === "digest" ? "info" : n.severity] ?? COLORS.info;
  return {
    ...itemView(n, ctx),
    at: n.at,
    at_iso: new Date(n.at).toISOString(),
    from: n.from,
    to: n.to,
    changed: n.from && n.to && n.kind !== "client.first_seen" ? `${n.from} → ${n.to}` : null,
    evidence: n.evidence,
    evidence_lines: evidenceLines(n.evidence),
    facts: n.facts as Record<string, unknown>,
    fact_lines: factLines(n, ctx.timeZone),
    lasted:
      typeof n.facts.downtimeMs === "number" && n.facts.downtimeMs >= 0
        ? formatDuration(n.facts.downtimeMs)
        : null,
    time_label: n.kind === "reminder" ? "Since" : "At",
    url: dashboardUrl(n, ctx.publicUrl),
    items,
    count: items.length,
    color: color as number,
    color_hex: `#${(color as number).toString(16).padStart(6, "0")}`,
    public_url: ctx.publicUrl,
    time_zone: ctx.timeZone,
    report: n.facts.report ? reportView(n.facts.report) : null,
  };
}
