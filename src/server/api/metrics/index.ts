/** GET /metrics: Prometheus text format, optionally behind a bearer token (--metrics-token). */
import { createHash, timingSafeEqual } from "node:crypto";
import { Elysia } from "elysia";
import { ApiError } from "../../errors.ts";

export interface MetricsEndpoint {
  render(): Promise<string>;
  /** when set, scrapers must send Authorization: Bearer <token> */
  token?: string | undefined;
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Constant-time: hashing first makes both sides the same length. */
export function bearerMatches(authorization: string | null, token: string): boolean {
  const m = authorization ? /^Bearer\s+(\S+)$/i.exec(authorization) : null;
  return m?.[1] !== undefined && timingSafeEqual(digest(m[1]), digest(token));
}

export const metricsApi = (m: MetricsEndpoint) =>
  new Elysia({ name: "api.metrics" }).get("/metrics", async ({ request }) => {
    if (m.token && !bearerMatches(request.headers.get("authorization"), m.token))
      throw new ApiError(
        401,
        "unauthorized",
        "send the metrics token as Authorization: Bearer <token> (--metrics-token)",
        undefined,
        {
          "WWW-Authenticate": 'Bearer realm="metrics"',
        },
      );
    return new Response(await m.render(), {
      headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8", "Cache-Control": "no-store" },
    });
  });
