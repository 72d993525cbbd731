import { Elysia } from "elysia";
import { MAX_REPORT_BYTES } from "../../../protocol/report.ts";
import { readBodyLimited, requireJsonContentType } from "../../http.ts";
import type { ReportIngest } from "./service.ts";

export const reportsApi = (ingest: ReportIngest, sourceIpOf: (request: Request) => string | null) =>
  new Elysia({ name: "api.reports" }).post(
    "/api/v1/reports",
    async ({ request, set }) => {
      requireJsonContentType(request);
      const body = await readBodyLimited(request, MAX_REPORT_BYTES);
      const result = await ingest.handle({
        body,
        header: (n) => request.headers.get(n),
        sourceIp: sourceIpOf(request),
      });
      set.status = 202;
      return { accepted: true, server_time: result.serverTime, next_report_in_s: result.nextReportInS };
    },
    { parse: "none" },
  );
