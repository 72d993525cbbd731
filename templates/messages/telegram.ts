/**
 * Telegram alert messages (HTML parse mode). One function per part of a message, so a kind's
 * wording lives in one place. Every dynamic value goes through `esc`. docs/alerts.md lists each
 * kind and the variables it uses; a test keeps the two in sync (ALERT_TITLES).
 *
 * Variables available to every template (a `Notification`, see src/server/notify/types.ts):
 *   kind, severity, client.{id,name}, from, to, at, evidence (the monitor's, e.g. reason, exits,
 *   resolvers, client_subnets, previous/current exit), facts.{status, reason, lastSeenAt,
 *   lastExit, downtimeMs, remindOf, since, heldBackBy, heldBack, counts}, items (digest)
 * and the rendering context: publicUrl (dashboard links), timeZone (times).
 */
import { formatDuration } from "../../src/config/duration.ts";
import { KIND_TEXT } from "../../src/protocol/event-text.ts";
import type { EventSeverity } from "../../src/protocol/events.ts";
import { escapeHtml as esc } from "../../src/server/notify/channels/telegram/html.ts";
import type { Notification, NotificationKind } from "../../src/server/notify/types.ts";
import { reportLines } from "../../src/server/reports/digest.ts";

export interface RenderContext {
  /** --public-url; null leaves out dashboard links */
  publicUrl: string | null;
  /** IANA zone for times, e.g. "UTC", "Europe/Berlin" */
  timeZone: string;
}

export const SEVERITY_EMOJI: Record<EventSeverity, string> = {
  red: "🔴",
  yellow: "🟡",
  green: "✅",
  info: "ℹ️",
};

/** What the headline says after the client name, per kind (from the shared table). */
export const ALERT_TITLES = Object.fromEntries(
  Object.entries(KIND_TEXT).map(([kind, text]) => [kind, text.headline]),
) as Readonly<Record<NotificationKind, string>>;

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | null => (typeof v === "string" && v ? v : null);

/** "2026-11-20 14:03 UTC" in the configured zone. */
export function formatTime(at: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZoneName: "short",
  }).formatToParts(new Date(at));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")} ${get("timeZoneName")}`;
}

/** An address with what the offline lookup knows: "203.0.113.7 (DE, AS3320 Deutsche Telekom AG)". */
export function describeIp(info: unknown): string {
  if (!isObj(info)) return typeof info === "string" && info ? `<code>${esc(info)}</code>` : "unknown";
  const where = [
    str(info.country),
    info.asn != null
      ? `AS${esc(info.asn)}${str(info.org) ? ` ${esc(info.org)}` : ""}`
      : str(info.org) && esc(info.org),
  ]
    .filter(Boolean)
    .join(", ");
  return `<code>${esc(info.ip)}</code>${where ? ` (${where})` : ""}`;
}

function homeMatch(m: unknown): string {
  if (!isObj(m)) return "";
  if (m.kind === "address") return ` — your home address (matches <code>${esc(m.entry)}</code>)`;
  if (m.kind === "asn") return ` — your home ISP (AS${esc(m.asn)})`;
  return "";
}

const RESOLVER_WHY: Record<string, string> = {
  home: "is your home line's resolver: your ISP sees every name you look up",
  other: "belongs neither to the VPN's network nor to an allowed resolver: a third party sees your lookups",
  exit_network: "is in the VPN's own network (fine)",
  allowed: "is an allowed public resolver (fine)",
};

function evidenceLines(n: Notification): string[] {
  const e = n.evidence;
  const lines: string[] = [];
  for (const x of arr(e.exits)) {
    if (!isObj(x)) continue;
    const by = arr(x.providers).map(String).join(", ");
    lines.push(
      `• exit ${describeIp(x.info ?? x)}${by ? ` seen by ${esc(by)}` : ""}${homeMatch(x.home_match)}`,
    );
  }
  if (str(e.source_ip))
    lines.push(`• report came from <code>${esc(e.source_ip)}</code>${homeMatch(e.source_home_match)}`);
  for (const r of arr(e.resolvers)) {
    if (!isObj(r)) continue;
    const why = RESOLVER_WHY[String(r.judgement)] ?? "";
    lines.push(`• resolver ${describeIp(r.info ?? r)}${why ? ` ${esc(why)}` : ""}${homeMatch(r.home_match)}`);
  }
  for (const s of arr(e.client_subnets)) {
    if (!isObj(s)) continue;
    lines.push(`• a resolver forwarded your subnet <code>${esc(s.subnet)}</code>${homeMatch(s.home_match)}`);
  }
  const before = e.previous ?? e.old;
  const after = e.current ?? e.new;
  if (before !== undefined || after !== undefined)
    lines.push(`• ${describeIp(before)} → ${describeIp(after)}`);
  for (const v of arr(e.violations)) lines.push(`• breaks the expected ${esc(v)}`);
  for (const p of arr(e.probe_errors))
    if (isObj(p)) lines.push(`• probe ${esc(p.probe)} failed: ${esc(p.error)}`);
  return lines;
}

function factLines(n: Notification, ctx: RenderContext): string[] {
  const f = n.facts;
  const lines: string[] = [];
  if (n.kind === "client.offline") {
    lines.push(`Last seen: ${f.lastSeenAt ? esc(formatTime(f.lastSeenAt, ctx.timeZone)) : "never"}`);
    const exits = [f.lastExit?.ipv4, f.lastExit?.ipv6].filter(Boolean);
    if (exits.length) lines.push(`Last exit: ${exits.map(describeIp).join(", ")}`);
  }
  if (typeof f.downtimeMs === "number" && f.downtimeMs >= 0)
    lines.push(`Lasted ${esc(formatDuration(f.downtimeMs))}.`);
  if (f.heldBack?.length)
    lines.push(`Offline alerts held back meanwhile: ${f.heldBack.map((c) => `<b>${esc(c)}</b>`).join(", ")}`);
  if (f.counts)
    lines.push(
      `Clients: ${
        Object.entries(f.counts)
          .map(([s, c]) => `${esc(c)} ${esc(s)}`)
          .join(", ") || "none"
      }`,
    );
  if (f.limit) lines.push(`More than ${esc(f.limit)} alerts about this client: the rest came together here.`);
  if (f.heldBackBy) lines.push(`<i>Announced late: held back by ${esc(f.heldBackBy)}.</i>`);
  if (f.report) lines.push(...reportLines(f.report).map(esc));
  return lines;
}

function headline(n: Notification): string {
  const who = n.client ? `<b>${esc(n.client.name)}</b> ` : "";
  if (n.kind === "reminder") {
    const status = n.facts.status ?? "red";
    return `⏰${SEVERITY_EMOJI.red} ${who}${ALERT_TITLES.reminder} ${esc(status)}`;
  }
  if (n.kind === "client.flapping" && n.to === "stable")
    return `${SEVERITY_EMOJI.green} ${who}is stable again`;
  if (n.kind === "digest")
    return n.client
      ? `🔔 <b>${n.items?.length ?? 0} more ${ALERT_TITLES.digest}</b> about ${who.trim()}`
      : `🔔 <b>${n.items?.length ?? 0} more ${ALERT_TITLES.digest}</b> in a burst`;
  if (!n.client) return `${SEVERITY_EMOJI[n.severity]} <b>${ALERT_TITLES[n.kind]}</b>`;
  return `${SEVERITY_EMOJI[n.severity]} ${who}${ALERT_TITLES[n.kind]}`;
}

/** The link to the client's dashboard page, when --public-url is set. */
export function dashboardLink(n: Notification, ctx: RenderContext): string | null {
  if (!ctx.publicUrl) return null;
  const base = ctx.publicUrl.replace(/\/+$/, "");
  const url = n.client ? `${base}/clients/${encodeURIComponent(n.client.id)}` : base;
  return `<a href="${esc(url)}">Open in dashboard</a>`;
}

/** One line per folded notification, for the digest. */
function digestLine(n: Notification): string {
  return `• ${headline(n)}${str(n.evidence.reason) ? `: ${esc(n.evidence.reason)}` : ""}`;
}

/** The full message (before splitting). */
export function renderTelegramAlert(n: Notification, ctx: RenderContext): string {
  const parts: string[] = [headline(n)];
  if (n.kind === "digest") {
    parts.push((n.items ?? []).map(digestLine).join("\n"));
    if (n.facts.limit) parts.push(factLines(n, ctx).join("\n"));
    const link = dashboardLink(n, ctx);
    if (link) parts.push(link);
    return parts.join("\n\n");
  }
  const changed = n.from && n.to && n.kind !== "client.first_seen" ? `${esc(n.from)} → ${esc(n.to)}` : null;
  // a reminder tells where the client stands now, not what the first alert said
  const reason = n.kind === "reminder" ? (n.facts.reason ?? str(n.evidence.reason)) : str(n.evidence.reason);
  const body = [changed && `Changed: ${changed}`, reason && esc(reason)].filter(Boolean).join("\n");
  if (body) parts.push(body);
  const evidence = evidenceLines(n);
  if (evidence.length) parts.push(evidence.join("\n"));
  const facts = factLines(n, ctx);
  if (facts.length) parts.push(facts.join("\n"));
  const since = n.kind === "reminder" && n.facts.since ? n.facts.since : n.at;
  parts.push(`${n.kind === "reminder" ? "Since" : "At"} ${esc(formatTime(since, ctx.timeZone))}`);
  const link = dashboardLink(n, ctx);
  if (link) parts.push(link);
  return parts.join("\n\n");
}
