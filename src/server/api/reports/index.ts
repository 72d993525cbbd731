/**
 * POST /api/v1/reports as a plain fetch handler. Bun.serve routes this path straight to it
 * (src/server/main.ts), because it is the one hot path: Elysia's per-request work (context,
 * hooks of every plugin) was a fifth of an unchanged report's cost. The Elysia app mounts the
 * same handler, so in-process callers (tests, app.handle) see exactly the same behaviour.
 */
import { Elysia } from "elysia";
import type { Logger } from "../../../logger.ts";
import { MAX_REPORT_BYTES } from "../../../protocol/report.ts";
import { ApiError, errorBody, errorResponse } from "../../errors.ts";
import { readBodyLimited, requestIdOf, requireJsonContentType } from "../../http.ts";
import type { ReportIngest } from "./service.ts";

export const REPORTS_PATH = "/api/v1/reports";

export type ReportRoute = (request: Request) => Promise<Response>;

export function reportRoute(
  ingest: ReportIngest,
  sourceIpOf: (request: Request) => string | null,
  logger: Logger,
): ReportRoute {
  return async (request) => {
    const requestId = requestIdOf(request);
    try {
      requireJsonContentType(request);
      const result = await ingest.handle({
        body: await readBodyLimited(request, MAX_REPORT_BYTES),
        header: (n) => request.headers.get(n),
        sourceIp: sourceIpOf(request),
      });
      const accepted = {
        accepted: true,
        server_time: result.serverTime,
        next_report_in_s: result.nextReportInS,
        status: result.status,
        reasons: result.reasons,
      };
      return new Response(JSON.stringify(accepted), {
        status: 202,
        headers: { "content-type": "application/json", "x-request-id": requestId },
      });
    } catch (e) {
      let response: Response;
      if (e instanceof ApiError) response = errorResponse(e);
      else {
        logger.error(`unhandled error on POST ${REPORTS_PATH} [${requestId}]`, e);
        response = Response.json(errorBody("internal_error", "internal error; see the server log"), {
          status: 500,
        });
      }
      response.headers.set("x-request-id", requestId);
      return response;
    }
  };
}

export const reportsApi = (route: ReportRoute) =>
  new Elysia({ name: "api.reports" }).post(REPORTS_PATH, ({ request }) => route(request), {
    parse: "none",
  });
