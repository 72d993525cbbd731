/**
 * A fake report receiver that behaves like the real POST /api/v1/reports: it checks the
 * signature with src/protocol/signing.ts (freshness, one-time nonce, constant-time HMAC),
 * parses and validates the body with validateReport, and answers like the server:
 *   202 {"accepted":true,"server_time","next_report_in_s","status","reasons","features"} | 401 unauthorized | 400 invalid_json /
 *   validation_failed | 413 | 415 | 429 with Retry-After.
 * It also serves GET /api/v1/whoami → {"ip": caller}.
 *
 *   const rx = startFakeReceiver({ clients: { c1: "secret" } });
 *   rx.failWith = 503;          // answer every report with 503 (the server is "down")
 *   rx.failWith = null;         // healthy again
 *   rx.reports                  // accepted reports, in arrival order
 */
import type { Server } from "bun";
import { MAX_REPORT_BYTES, type ReportV1, validateReport } from "../../src/protocol/report.ts";
import { isTimestampFresh, parseSignedHeaders, signatureMatches } from "../../src/protocol/signing.ts";

export interface ReceivedReport {
  clientId: string;
  report: ReportV1;
  /** Sentinel-Timestamp of the request (a replayed spool entry has a fresh one). */
  signedAt: number;
  receivedAt: number;
}

export interface FakeReceiver {
  url: string;
  server: Server<undefined>;
  /** Accepted reports in arrival order. */
  reports: ReceivedReport[];
  /** Every POST with its status, accepted or not. */
  attempts: { status: number; clientId: string | null }[];
  /** When set, every report is answered with this status (and Retry-After if retryAfter is set). */
  failWith: number | null;
  retryAfter: string | null;
  /** Value of next_report_in_s in 202 answers (null leaves it out). */
  nextReportInS: number | null;
  /** status and reasons in 202 answers (null leaves them out, like a server before they existed) */
  verdict: { status: string; reasons: string[] } | null;
  /** `features` in 202 answers (null leaves it out, like a server before it existed) */
  features: string[] | null;
  whoamiHits: number;
  /** Delay before answering a report (an upload in flight). */
  delayMs: number;
  stop(): void;
}

const error = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
  Response.json({ error: { code, message } }, { status, headers });

export function startFakeReceiver(opts: {
  clients: Record<string, string>;
  nextReportInS?: number | null;
}): FakeReceiver {
  const seenNonces = new Set<string>();
  const rx = {
    reports: [],
    attempts: [],
    failWith: null,
    retryAfter: null,
    nextReportInS: opts.nextReportInS === undefined ? 30 : opts.nextReportInS,
    verdict: { status: "green", reasons: ["Protected (the fake receiver says so)."] },
    features: null,
    whoamiHits: 0,
    delayMs: 0,
  } as unknown as FakeReceiver;

  async function handleReport(req: Request): Promise<Response> {
    if (rx.delayMs) await Bun.sleep(rx.delayMs);
    if (rx.failWith !== null) {
      const headers: Record<string, string> = rx.retryAfter ? { "Retry-After": rx.retryAfter } : {};
      return error(
        rx.failWith,
        rx.failWith === 429 ? "rate_limited" : "unavailable",
        "the fake server was told to fail",
        headers,
      );
    }
    if (!(req.headers.get("content-type") ?? "").startsWith("application/json"))
      return error(415, "unsupported_media_type", "use Content-Type: application/json");
    const body = await req.text();
    if (Buffer.byteLength(body) > MAX_REPORT_BYTES)
      return error(413, "payload_too_large", "body over 64 KiB");
    const h = parseSignedHeaders((n) => req.headers.get(n));
    const nowS = Math.floor(Date.now() / 1000);
    const secret = h ? opts.clients[h.clientId] : undefined;
    const nonceKey = h ? `${h.clientId}:${h.nonce}` : "";
    if (
      !h ||
      !secret ||
      !isTimestampFresh(h.timestamp, nowS) ||
      seenNonces.has(nonceKey) ||
      !signatureMatches(secret, h, body)
    )
      return error(401, "unauthorized", "missing or invalid signature");
    seenNonces.add(nonceKey);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return error(400, "invalid_json", "the body is not JSON");
    }
    const v = validateReport(parsed);
    if (!v.ok)
      return Response.json(
        { error: { code: "validation_failed", message: "invalid report", fields: v.errors } },
        { status: 400 },
      );
    rx.reports.push({
      clientId: h.clientId,
      report: v.report,
      signedAt: h.timestamp,
      receivedAt: Date.now(),
    });
    return Response.json(
      {
        accepted: true,
        server_time: new Date().toISOString(),
        ...(rx.nextReportInS !== null ? { next_report_in_s: rx.nextReportInS } : {}),
        ...(rx.verdict ?? {}),
        ...(rx.features !== null ? { features: rx.features } : {}),
      },
      { status: 202 },
    );
  }

  rx.server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req, server) {
      const path = new URL(req.url).pathname;
      if (req.method === "GET" && path === "/api/v1/whoami") {
        rx.whoamiHits++;
        return Response.json({ ip: server.requestIP(req)?.address ?? null });
      }
      if (req.method === "POST" && path === "/api/v1/reports") {
        const res = await handleReport(req);
        rx.attempts.push({ status: res.status, clientId: req.headers.get("sentinel-client") });
        return res;
      }
      return error(404, "not_found", "no such route");
    },
  });
  rx.url = rx.server.url.href.replace(/\/$/, "");
  rx.stop = () => void rx.server.stop(true);
  return rx;
}
