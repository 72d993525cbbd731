/**
 * The floor under the signed-report path: a Bun.serve doing only what any server must do
 * before it may answer 202 to a protocol-v1 report, with the project's own functions, and
 * nothing else: read the body, parse the four signing headers, check the timestamp, check the
 * HMAC against the client's secret, parse and validate the JSON, refuse a nonce seen before
 * (in memory), and answer the same JSON fields. No judging, no database, no fsync, no security
 * headers, no metrics. It shows how much of the gap to bare Bun.serve is the protocol itself.
 *
 *   bun bench/floor.ts PORT CREDENTIALS.json      (the [{id, secret}] of the enrolled clients)
 */
import { readFileSync } from "node:fs";
import { validateReport } from "../src/protocol/report.ts";
import { isTimestampFresh, parseSignedHeaders, signatureMatches } from "../src/protocol/signing.ts";

const secrets = new Map<string, string>(
  (JSON.parse(readFileSync(String(process.argv[3]), "utf8")) as { id: string; secret: string }[]).map((c) => [
    c.id,
    c.secret,
  ]),
);
const seen = new Set<string>();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const refuse = (status: number) => new Response(null, { status });

Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.argv[2]),
  async fetch(req) {
    if (req.method !== "POST") return new Response("ok");
    const body = await req.bytes();
    const h = parseSignedHeaders((n) => req.headers.get(n));
    if (!h || !isTimestampFresh(h.timestamp, Math.floor(Date.now() / 1000))) return refuse(401);
    const secret = secrets.get(h.clientId);
    if (secret === undefined || !signatureMatches(secret, h, body)) return refuse(401);
    const key = `${h.clientId}.${h.nonce}`;
    if (seen.has(key)) return refuse(401);
    let parsed: unknown;
    try {
      parsed = JSON.parse(strictUtf8.decode(body));
    } catch {
      return refuse(400);
    }
    const result = validateReport(parsed);
    if (!result.ok) return refuse(400);
    seen.add(key);
    return new Response(
      JSON.stringify({
        accepted: true,
        server_time: new Date().toISOString(),
        next_report_in_s: result.report.interval_s,
        status: "green",
        reasons: ["Protected"],
      }),
      { status: 202, headers: { "content-type": "application/json" } },
    );
  },
});
