/**
 * Badge links: a client's status or uptime as an image for status pages and READMEs. Each badge
 * has its own random token (shown once, stored as its SHA-256), readable by anyone holding the
 * link and nothing else: it cannot read the API, another client or another badge, and it can be
 * revoked without touching anything else. The admin token never goes into a URL.
 */
import { randomBytes } from "node:crypto";
import { hashToken, newId } from "../auth/keyring.ts";
import { isSummaryPeriod, SUMMARY_PERIODS, type SummaryPeriod, totalsOver } from "../reports/summary.ts";
import type { BadgeKind, BadgeRecord, ClientRecord, Repositories, Store } from "../store/index.ts";
import { type BadgeColor, badgeSvg } from "./svg.ts";

export const BADGE_TOKEN_PREFIX = "sbt_";
export const BADGE_KINDS: readonly BadgeKind[] = ["status", "uptime"];
export const isBadgeKind = (v: unknown): v is BadgeKind => v === "status" || v === "uptime";
export const BADGE_LABEL_MAX = 40;

export async function createBadge(
  store: Pick<Repositories, "badges">,
  client: Pick<ClientRecord, "id">,
  kind: BadgeKind,
  label: string | null,
  now: number,
): Promise<{ record: BadgeRecord; token: string }> {
  const token = BADGE_TOKEN_PREFIX + randomBytes(24).toString("base64url");
  const record: BadgeRecord = {
    id: newId("b_"),
    clientId: client.id,
    kind,
    tokenHash: hashToken(token),
    label: label?.trim().slice(0, BADGE_LABEL_MAX) || null,
    createdAt: now,
    lastUsedAt: null,
    revokedAt: null,
  };
  await store.badges.create(record);
  return { record, token };
}

/** The badge's path (the token goes in ?token=). */
export function badgePath(clientId: string, kind: BadgeKind): string {
  return `/badge/${encodeURIComponent(clientId)}/${kind}.svg`;
}

const STATUS_WORDS: Record<string, [string, BadgeColor]> = {
  green: ["protected", "green"],
  yellow: ["warning", "yellow"],
  red: ["exposed", "red"],
  grey: ["unknown", "grey"],
};

/** "protected" in green, "offline" in red, "paused" in grey: the word the dashboard uses. */
export function statusBadge(client: ClientRecord, label: string | null): string {
  if (client.settings.paused) return badgeSvg(label ?? "VPN", "paused", "grey");
  if (client.liveness === "offline") return badgeSvg(label ?? "VPN", "offline", "red");
  if (client.liveness === "never") return badgeSvg(label ?? "VPN", "waiting", "grey");
  const [word, color] = STATUS_WORDS[client.status] ?? (STATUS_WORDS.grey as [string, BadgeColor]);
  return badgeSvg(label ?? "VPN", word, color);
}

const shareColor = (f: number): BadgeColor =>
  f >= 0.999 ? "green" : f >= 0.99 ? "lightgreen" : f >= 0.95 ? "yellow" : f >= 0.9 ? "orange" : "red";

/** Uptime (or protected time) over the period, of the time observed. */
export async function uptimeBadge(
  store: Store,
  client: ClientRecord,
  label: string | null,
  period: SummaryPeriod,
  metric: "uptime" | "protected",
  now: number,
): Promise<string> {
  const [t] = await totalsOver(store, now - SUMMARY_PERIODS[period], now, [client.id]);
  const known = t?.totals.knownMs ?? 0;
  const part = metric === "uptime" ? (t?.totals.upMs ?? 0) : (t?.totals.greenMs ?? 0);
  const name = label ?? `${metric} ${period}`;
  if (known === 0) return badgeSvg(name, "no data", "grey");
  const f = part / known;
  return badgeSvg(name, `${(Math.floor(f * 1000) / 10).toFixed(f >= 0.9995 ? 0 : 1)}%`, shareColor(f));
}

export { isSummaryPeriod };
