/**
 * POST /api/v1/keepalive as a plain fetch handler, only when --legacy-api-key is set. Like the
 * report route, Bun.serve routes this path straight to it (src/server/main.ts) and the Elysia
 * app mounts the same handler, so in-process callers see the same behaviour.
 */
import { Elysia } from "elysia";
import type { Logger } from "../../../cli/common.ts";
import { MAX_REPORT_BYTES } from "../../../protocol/report.ts";
import { jsonRoute, type PlainRoute, readBodyLimited, requireJsonContentType } from "../../http.ts";
import type { LegacyKeepaliveIngest } from "./service.ts";

export const KEEPALIVE_PATH = "/api/v1/keepalive";

export function keepaliveRoute(
  ingest: LegacyKeepaliveIngest,
  sourceIpOf: (request: Request) => string | null,
  logger: Logger,
): PlainRoute {
  return jsonRoute(`POST ${KEEPALIVE_PATH}`, logger, async (request) => {
    const sourceIp = sourceIpOf(request);
    // the key first: a caller without it learns nothing about the body rules
    await ingest.authenticate(request.headers.get("x-api-key"), sourceIp);
    requireJsonContentType(request);
    const result = await ingest.accept(await readBodyLimited(request, MAX_REPORT_BYTES), sourceIp);
    return {
      status: 200,
      body: { status: "ok", message: "Keepalive received", server_time: result.serverTime },
    };
  });
}

export const legacyApi = (route: PlainRoute) =>
  new Elysia({ name: "api.legacy" }).post(KEEPALIVE_PATH, ({ request }) => route(request), { parse: "none" });
