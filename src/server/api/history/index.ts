/**
 * History as data: a client's status timeline, and the fleet's summary over a period.
 *   GET /api/v1/clients/:id/timeline?from=&to=   merged, gap-free status segments
 *   GET /api/v1/summary?period=24h|7d|30d|90d      per client: uptime, protected, incidents, MTTR
 * Both read change-only history and daily rollups: their cost grows with changes, never with
 * heartbeats (see reports/summary.ts).
 */
import { Elysia } from "elysia";
import { authenticateBearer } from "../../auth/api-tokens.ts";
import { ApiError, notFound } from "../../errors.ts";
import { causeLabel } from "../../monitor/causes.ts";
import { timeline } from "../../reports/fold.ts";
import { isSummaryPeriod, SUMMARY_PERIODS, summarise } from "../../reports/summary.ts";
import type { Store } from "../../store/index.ts";

export interface HistoryApiDeps {
  store: Store;
  now: () => number;
}

const MAX_TIMELINE_MS = 366 * 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** An ISO 8601 date-time or milliseconds since the epoch; undefined when absent. */
function parseTime(v: string | undefined, path: string): number | undefined {
  if (v === undefined || v === "") return undefined;
  const t = /^\d{1,15}$/.test(v) ? Number(v) : Date.parse(v);
  if (Number.isNaN(t))
    throw new ApiError(400, "validation_failed", "invalid query parameters", [
      { path, message: "must be an ISO 8601 date-time or milliseconds since the epoch" },
    ]);
  return t;
}

export function historyApi(deps: HistoryApiDeps) {
  const { store, now } = deps;
  return new Elysia({ name: "api.history" })
    .derive(async ({ request }) => ({
      principal: await authenticateBearer(store, request.headers.get("authorization"), "viewer", now()),
    }))
    .get("/api/v1/clients/:id/timeline", async ({ params, query }) => {
      const q = query as Record<string, string | undefined>;
      const to = parseTime(q.to, "/to") ?? now();
      const from = parseTime(q.from, "/from") ?? to - 86_400_000;
      if (from >= to || to - from > MAX_TIMELINE_MS)
        throw new ApiError(400, "validation_failed", "invalid query parameters", [
          { path: "/from", message: "must be before `to`, at most 366 days before it" },
        ]);
      const client = await store.clients.get(params.id);
      if (!client) throw notFound("client");
      const rows = await store.history.range(client.id, from, to);
      const downtimes = await store.history.serverDowntimes(from, to);
      return {
        client_id: client.id,
        from: iso(from),
        to: iso(to),
        segments: timeline(rows, downtimes, from, to).map((s) => ({
          from: iso(s.from),
          to: iso(s.to),
          duration_s: Math.round((s.to - s.from) / 1000),
          status: s.status,
          reasons: s.causes.map(causeLabel),
          causes: s.causes,
        })),
      };
    })
    .get("/api/v1/summary", async ({ query }) => {
      const period = (query as Record<string, string | undefined>).period ?? "7d";
      if (!isSummaryPeriod(period))
        throw new ApiError(400, "validation_failed", "invalid query parameters", [
          { path: "/period", message: `must be one of ${Object.keys(SUMMARY_PERIODS).join(", ")}` },
        ]);
      const to = now();
      const s = await summarise(store, to - SUMMARY_PERIODS[period], to);
      return { period, from: iso(s.from), to: iso(s.to), fleet: s.fleet, clients: s.clients };
    });
}
