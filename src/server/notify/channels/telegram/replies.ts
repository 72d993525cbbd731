/** Bot command replies (Telegram HTML), pure: they get records and return text. */

import { formatDuration } from "../../../../config/duration.ts";
import { formatTime } from "../../../local-time.ts";
import { mutedUntil } from "../../../monitor/settings.ts";
import type { ClientRecord, EventRecord } from "../../../store/index.ts";
import { escapeHtml as esc } from "./html.ts";

export const STATUS_EMOJI: Record<string, string> = { green: "🟢", yellow: "🟡", red: "🔴", grey: "⚪" };

export const HELP = [
  "<b>VPN Sentinel</b> commands",
  "/status: counts and every client that is not green",
  "/clients: every client",
  "/client NAME: verdicts, evidence, last events",
  "/mute NAME 2h: no alerts for NAME for a while (default 1h)",
  "/unmute NAME",
  "/pause NAME: stop judging NAME (grey, no alerts) until /resume",
  "/resume NAME",
  "/ping: is the server alive?",
  "/start: this chat's id and whether it may use the bot",
].join("\n");

export interface ReplyContext {
  now: number;
  timeZone: string;
  publicUrl: string | null;
}

const reasonOf = (c: ClientRecord) => c.state?.reason ?? "";

function markers(c: ClientRecord, now: number): string {
  const out: string[] = [];
  const muted = mutedUntil(c.settings, now);
  if (muted !== null) out.push(`🔕 muted ${formatDuration(muted - now)}`);
  if (c.settings.paused) out.push("⏸ paused");
  return out.length ? ` (${out.join(", ")})` : "";
}

function lastSeen(c: ClientRecord, ctx: ReplyContext): string {
  return c.lastReportAt === null
    ? "never seen"
    : `seen ${formatDuration(Math.max(0, ctx.now - c.lastReportAt))} ago`;
}

export function startReply(chatId: number | string, allowed: boolean): string {
  return `Chat id: <code>${esc(chatId)}</code>\n${allowed ? "✅ This chat is allowed: it gets alerts and may use commands. /help" : "⛔ This chat is not allowed."}`;
}

export function statusReply(clients: ClientRecord[], ctx: ReplyContext): string {
  const counts: Record<string, number> = {};
  for (const c of clients) counts[c.status] = (counts[c.status] ?? 0) + 1;
  const summary = ["green", "yellow", "red", "grey"]
    .filter((s) => counts[s])
    .map((s) => `${STATUS_EMOJI[s]} ${counts[s]} ${s}`)
    .join("  ");
  const lines = [
    `<b>${clients.length} client${clients.length === 1 ? "" : "s"}</b>${summary ? `: ${summary}` : ""}`,
  ];
  const notGreen = clients.filter((c) => c.status !== "green");
  if (clients.length && notGreen.length === 0) lines.push("Everything is protected.");
  for (const c of notGreen)
    lines.push(
      `${STATUS_EMOJI[c.status] ?? "❔"} <b>${esc(c.name)}</b>${markers(c, ctx.now)}: ${esc(reasonOf(c) || c.status)}`,
    );
  return lines.join("\n");
}

export function clientsReply(clients: ClientRecord[], ctx: ReplyContext): string {
  if (clients.length === 0) return "No clients yet. Add one with <code>sentinel clients add NAME</code>.";
  return clients
    .map(
      (c) =>
        `${STATUS_EMOJI[c.status] ?? "❔"} <b>${esc(c.name)}</b>: ${esc(c.liveness)}, ${lastSeen(c, ctx)}${markers(c, ctx.now)}`,
    )
    .join("\n");
}

export function clientReply(c: ClientRecord, events: EventRecord[], ctx: ReplyContext): string {
  const lines = [
    `${STATUS_EMOJI[c.status] ?? "❔"} <b>${esc(c.name)}</b>: ${esc(c.status)}${markers(c, ctx.now)}`,
  ];
  if (reasonOf(c)) lines.push(esc(reasonOf(c)));
  lines.push(`${esc(c.liveness)}, ${lastSeen(c, ctx)}`);
  const verdicts = c.state?.verdicts;
  for (const name of ["bypass", "dns", "ipv6", "exit"] as const) {
    const v = verdicts?.[name];
    if (v === undefined) continue;
    lines.push(`• ${name}: <b>${esc(v.status)}</b>: ${esc(v.reason)}`);
  }
  if (events.length) {
    lines.push("", "<b>Last events</b>");
    for (const e of events)
      lines.push(
        `• ${esc(formatTime(e.at, ctx.timeZone))} ${esc(e.kind)}${e.suppressed ? " (no alert)" : ""}`,
      );
  }
  if (ctx.publicUrl)
    lines.push(
      "",
      `<a href="${esc(`${ctx.publicUrl.replace(/\/+$/, "")}/clients/${encodeURIComponent(c.id)}`)}">Open in dashboard</a>`,
    );
  return lines.join("\n");
}
