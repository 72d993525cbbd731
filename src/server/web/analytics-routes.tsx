/** @jsxImportSource @kitajs/html */
/** GET /analytics?period=7d|30d|90d: the fleet over time (rollups, summaries, anomalies). */

import { Elysia } from "elysia";
import { AnalyticsPage } from "../../../templates/analytics.tsx";
import { ANOMALY_KINDS } from "../../protocol/events.ts";
import { addTotals, DAY_MS, dayOf, dayStart, emptyTotals } from "../reports/fold.ts";
import { summarise, totalsOver } from "../reports/summary.ts";
import type { Web } from "./guard.ts";
import { ANALYTICS_PERIODS, type AnalyticsPeriod, analyticsView } from "./history-model.ts";

export function analyticsRoutes(web: Web) {
  const { store } = web;
  return new Elysia({ name: "web.analytics" }).get("/analytics", async ({ request, query }) => {
    const auth = await web.guard(request, "viewer");
    if (auth instanceof Response) return auth;
    const period: AnalyticsPeriod = Object.hasOwn(ANALYTICS_PERIODS, query.period ?? "")
      ? (query.period as AnalyticsPeriod)
      : "7d";
    const now = web.now();
    const days = ANALYTICS_PERIODS[period];
    const today = dayOf(now);
    const [summary, fleetDays, todayTotals, anomalies, runs] = await Promise.all([
      summarise(store, now - days * DAY_MS, now),
      store.rollups.fleetDays(today - days + 1, today - 1),
      totalsOver(store, dayStart(today), now),
      store.events.query({ kinds: ANOMALY_KINDS, since: now - days * DAY_MS, limit: 50 }),
      store.reportRuns.list(5),
    ]);
    const v = analyticsView({
      period,
      fromDay: today - days + 1,
      toDay: today,
      fleetDays,
      today: todayTotals.reduce((sum, c) => addTotals(sum, c.totals), emptyTotals()),
      summary,
      anomalies,
      names: new Map(summary.clients.map((c) => [c.id, c.name])),
    });
    return web.html(<AnalyticsPage ctx={web.pageContext(auth, request)} v={v} runs={runs} now={now} />);
  });
}
