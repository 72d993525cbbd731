import { timingSafeEqual } from "node:crypto";
import { Elysia } from "elysia";
import { MAX_REPORT_BYTES } from "../../../protocol/report.ts";
import { hashToken } from "../../auth/keyring.ts";
import { ApiError } from "../../errors.ts";
import { readBodyLimited, requireJsonContentType } from "../../http.ts";
import { parseLegacyKeepalive } from "./service.ts";

export interface LegacyDeps {
  apiKey: string;
  /** stores the keepalive as a report of the client named by client_id (created on first use) */
  accept: (k: ReturnType<typeof parseLegacyKeepalive>, sourceIp: string | null) => Promise<void>;
  now: () => number;
  sourceIpOf: (request: Request) => string | null;
}

const keyMatches = (given: string | null, expected: string) =>
  given !== null &&
  timingSafeEqual(Buffer.from(hashToken(given), "hex"), Buffer.from(hashToken(expected), "hex"));

/** POST /api/v1/keepalive: only mounted when --legacy-api-key is set. */
export const legacyApi = (deps: LegacyDeps) =>
  new Elysia({ name: "api.legacy" }).post(
    "/api/v1/keepalive",
    async ({ request }) => {
      if (!keyMatches(request.headers.get("x-api-key"), deps.apiKey))
        throw new ApiError(401, "unauthorized", "send the legacy API key in the X-API-Key header");
      requireJsonContentType(request);
      const text = await readBodyLimited(request, MAX_REPORT_BYTES);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new ApiError(400, "invalid_json", "the request body is not valid JSON");
      }
      await deps.accept(parseLegacyKeepalive(body), deps.sourceIpOf(request));
      return { status: "ok", message: "Keepalive received", server_time: new Date(deps.now()).toISOString() };
    },
    { parse: "none" },
  );
