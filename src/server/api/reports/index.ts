/**
 * POST /api/v1/reports as a plain fetch handler. Bun.serve routes this path straight to it
 * (src/server/main.ts), because it is the one hot path: Elysia's per-request work (context,
 * hooks of every plugin) was a fifth of an unchanged report's cost. The Elysia app mounts the
 * same handler, so in-process callers (tests, app.handle) see exactly the same behaviour.
 */
import { Elysia } from "elysia";
import type { Logger } from "../../../logger.ts";
import { MAX_REPORT_BYTES } from "../../../protocol/report.ts";
import { jsonRoute, type PlainRoute, readBodyBytesLimited, requireJsonContentType } from "../../http.ts";
import type { ReportIngest } from "./service.ts";

export const REPORTS_PATH = "/api/v1/reports";

/**
 * Report fields beyond protocol v1's first version that this server understands, so a client
 * uses them only with a server that does (docs/protocol.md): `dns_pending`, a report sent before
 * its DNS probes finished, whose DNS verdict stays as it was.
 */
export const REPORT_FEATURES: readonly string[] = ["dns_pending"];

export type ReportRoute = PlainRoute;

export function reportRoute(
  ingest: ReportIngest,
  sourceIpOf: (request: Request) => string | null,
  logger: Logger,
): ReportRoute {
  return jsonRoute(`POST ${REPORTS_PATH}`, logger, async (request) => {
    requireJsonContentType(request);
    const result = await ingest.handle({
      body: await readBodyBytesLimited(request, MAX_REPORT_BYTES),
      header: (n) => request.headers.get(n),
      sourceIp: sourceIpOf(request),
    });
    return {
      status: 202,
      body: {
        accepted: true,
        server_time: result.serverTime,
        next_report_in_s: result.nextReportInS,
        status: result.status,
        reasons: result.reasons,
        features: REPORT_FEATURES,
        ...(result.oracle ? { dns_oracle: result.oracle } : {}),
      },
    };
  });
}

export const reportsApi = (route: ReportRoute) =>
  new Elysia({ name: "api.reports" }).post(REPORTS_PATH, ({ request }) => route(request), {
    parse: "none",
  });
