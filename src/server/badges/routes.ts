/**
 * GET /badge/:client/status.svg?token=…  and  /badge/:client/uptime.svg?token=…&period=30d
 * Public routes read with a badge's own token (see service.ts). Anything that does not match
 * (no token, a revoked one, another client's, another kind's) is the same 404 badge, so a link
 * tells nothing about what exists. Badges may be embedded anywhere (a README through GitHub's
 * image proxy, a status page on another site): their responses allow cross-origin use.
 */
import { Elysia } from "elysia";
import { hashToken } from "../auth/keyring.ts";
import type { BadgeKind, Store } from "../store/index.ts";
import { isSummaryPeriod, statusBadge, uptimeBadge } from "./service.ts";
import { badgeSvg } from "./svg.ts";

const TOUCH_EVERY_MS = 3_600_000;

function svgResponse(body: string, status = 200): Response {
  return new Response(body, {
    status,
    headers: {
      "content-type": "image/svg+xml; charset=utf-8",
      // short: a status badge must not show last hour's colour; the token keeps it private
      "cache-control": status === 200 ? "private, max-age=60" : "no-store",
      "cross-origin-resource-policy": "cross-origin",
    },
  });
}

export function badgeRoutes(deps: { store: Store; now: () => number }) {
  const { store, now } = deps;
  const notFound = () => svgResponse(badgeSvg("badge", "not found", "grey"), 404);
  const read = async (clientRef: string, kind: BadgeKind, token: unknown) => {
    if (typeof token !== "string" || token.length > 200) return null;
    const badge = await store.badges.findActiveByHash(hashToken(token));
    if (!badge || badge.kind !== kind) return null;
    const client = await store.clients.get(badge.clientId);
    if (!client || (clientRef !== client.id && clientRef.toLowerCase() !== client.name.toLowerCase()))
      return null;
    const t = now();
    if (badge.lastUsedAt === null || t - badge.lastUsedAt > TOUCH_EVERY_MS)
      await store.badges.touch(badge.id, t);
    return { badge, client };
  };
  return new Elysia({ name: "badges" })
    .get("/badge/:client/status.svg", async ({ params, query }) => {
      const found = await read(params.client, "status", query.token);
      return found ? svgResponse(statusBadge(found.client, found.badge.label)) : notFound();
    })
    .get("/badge/:client/uptime.svg", async ({ params, query }) => {
      const period = query.period ?? "30d";
      const metric = query.metric ?? "uptime";
      if (!isSummaryPeriod(period) || (metric !== "uptime" && metric !== "protected"))
        return svgResponse(badgeSvg("badge", "bad period or metric", "grey"), 400);
      const found = await read(params.client, "uptime", query.token);
      if (!found) return notFound();
      return svgResponse(await uptimeBadge(store, found.client, found.badge.label, period, metric, now()));
    });
}
