/**
 * One error shape for the whole API:
 *   {"error":{"code":"...","message":"...","fields":[{"path":"/ipv4/ip","message":"..."}]}}
 * Messages never echo client input or secrets.
 */
import type { FieldError } from "../protocol/report.ts";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields?: FieldError[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

/**
 * A full, read-only or failing disk (or an unreachable database): 503 + Retry-After, so the
 * sender keeps what it sent and sends it again; nothing was acknowledged that is not stored.
 */
export const storageUnavailable = (reason: string) =>
  new ApiError(
    503,
    "storage_unavailable",
    `the server cannot store reports right now: ${reason}`,
    undefined,
    {
      "Retry-After": "30",
    },
  );

export function errorBody(code: string, message: string, fields?: FieldError[]) {
  return { error: { code, message, ...(fields ? { fields } : {}) } };
}

export function errorResponse(e: ApiError): Response {
  return Response.json(errorBody(e.code, e.message, e.fields), {
    status: e.status,
    headers: { "Cache-Control": "no-store", ...e.headers },
  });
}

export const unauthorized = () =>
  new ApiError(
    401,
    "unauthorized",
    "authentication failed: unknown client, bad or expired signature, or replayed request",
  );
export const notFound = (what = "resource") => new ApiError(404, "not_found", `${what} not found`);
export const tooManyRequests = (retryAfterS: number) =>
  new ApiError(429, "rate_limited", "too many requests; slow down", undefined, {
    "Retry-After": String(Math.max(1, Math.ceil(retryAfterS))),
  });
