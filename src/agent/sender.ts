/** Uploads one signed report and says what the answer means for the spool. */

import { parseRetryAfter } from "../probe/backoff.ts";
import { describeFetchError } from "../probe/fetch-error.ts";
import { signRequest } from "../protocol/signing.ts";
import { type OracleGrant, parseOracleGrant } from "./oracle.ts";

/** What the server concluded about a report (in its 202 answer; older servers leave it out). */
export interface ServerVerdict {
  status: string;
  reasons: string[];
}

export type SendOutcome =
  /**
   * Stored by the server: remove from the spool. `features`: optional report fields the server
   * says it understands (see docs/protocol.md); empty from servers before the list existed.
   * `oracle`: the next round's DNS oracle labels, when the server has a zone.
   */
  | {
      kind: "accepted";
      nextReportInS: number | null;
      verdict: ServerVerdict | null;
      features: string[];
      oracle?: OracleGrant;
    }
  /** The server will never take this body (400/413/415/422): drop it, or it blocks the queue forever. */
  | { kind: "rejected"; status: number; reason: string }
  /** Try again later (network, 401, 404, 429, 5xx ...); retryAfterMs when the server said when. */
  | { kind: "retry"; status: number | null; reason: string; retryAfterMs: number | null };

const PERMANENT = new Set([400, 413, 415, 422]);

/** The server's `{"error":{"code","message"}}`, shortened; never the request (it may hold nothing secret, but stays short). */
function errorText(status: number, body: string): string {
  try {
    const e = (JSON.parse(body) as { error?: { code?: unknown; message?: unknown } }).error;
    if (e && typeof e.code === "string")
      return `HTTP ${status} ${e.code}${typeof e.message === "string" ? `: ${e.message.slice(0, 200)}` : ""}`;
  } catch {
    // not the API's error shape (a proxy's HTML page, say)
  }
  return `HTTP ${status}`;
}

export function classifyResponse(
  status: number,
  body: string,
  retryAfter: string | null,
  now: number,
): SendOutcome {
  if (status >= 200 && status < 300) {
    let next: number | null = null;
    let verdict: ServerVerdict | null = null;
    let features: string[] = [];
    let oracle: OracleGrant | null = null;
    const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x) => typeof x === "string") : []);
    try {
      const answer = JSON.parse(body) as {
        next_report_in_s?: unknown;
        status?: unknown;
        reasons?: unknown;
        features?: unknown;
        dns_oracle?: unknown;
      };
      const v = answer.next_report_in_s;
      if (typeof v === "number" && Number.isFinite(v) && v >= 1) next = v;
      if (typeof answer.status === "string")
        verdict = { status: answer.status, reasons: strings(answer.reasons) };
      features = strings(answer.features);
      oracle = parseOracleGrant(answer.dns_oracle);
    } catch {
      // an empty or non-JSON 2xx still means stored
    }
    return { kind: "accepted", nextReportInS: next, verdict, features, ...(oracle ? { oracle } : {}) };
  }
  if (PERMANENT.has(status)) return { kind: "rejected", status, reason: errorText(status, body) };
  const reason =
    status === 401
      ? `${errorText(status, body)} (check the token and this machine's clock)`
      : errorText(status, body);
  return { kind: "retry", status, reason, retryAfterMs: parseRetryAfter(retryAfter, now) };
}

export interface SendTarget {
  serverUrl: string;
  clientId: string;
  secret: string;
}

export const reportsUrl = (serverUrl: string) => `${serverUrl.replace(/\/+$/, "")}/api/v1/reports`;
export const whoamiUrl = (serverUrl: string) => `${serverUrl.replace(/\/+$/, "")}/api/v1/whoami`;
/** Where a client without labels gets its DNS oracle labels. */
export const oracleLabelsUrl = (target: Pick<SendTarget, "serverUrl" | "clientId">) =>
  `${whoamiUrl(target.serverUrl)}?client=${encodeURIComponent(target.clientId)}`;

export async function sendReport(
  target: SendTarget,
  body: string,
  opts: {
    timeoutMs: number;
    fetch?: typeof fetch;
    signal?: AbortSignal;
    now?: () => number;
    userAgent?: string;
  },
): Promise<SendOutcome> {
  const now = opts.now ?? Date.now;
  // Signed at send time: a replayed spool entry gets a fresh timestamp and nonce, its body
  // (and so its observed_at) stays as observed.
  const headers = signRequest(target.clientId, target.secret, body, Math.floor(now() / 1000));
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  try {
    const res = await (opts.fetch ?? fetch)(reportsUrl(target.serverUrl), {
      method: "POST",
      body,
      headers: { ...headers, ...(opts.userAgent ? { "User-Agent": opts.userAgent } : {}) },
      signal: opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout,
      redirect: "error",
      // see probe/public-ip.ts: a pooled socket may belong to a path that no longer exists
      keepalive: false,
    });
    const text = (await res.text()).slice(0, 4096);
    return classifyResponse(res.status, text, res.headers.get("retry-after"), now());
  } catch (e) {
    const reason =
      (e as Error).name === "AbortError"
        ? "aborted"
        : `${target.serverUrl} unreachable (${describeFetchError(e, opts.timeoutMs)})`;
    return { kind: "retry", status: null, reason, retryAfterMs: null };
  }
}
