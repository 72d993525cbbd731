/**
 * The load generator: a separate process from the server, so its CPU is not the server's.
 * Sends signed report requests (fresh timestamp, nonce and HMAC each, as a real client does).
 *
 *   bun bench/loadgen.ts CONFIG.json   → prints one JSON line of results on stdout
 *
 * Config: { url, credentialsFile, mode: "max" | "paced" | "once", durationS, concurrency, intervalS,
 *           reportIntervalS, transport }
 *   transport: "fetch" (default) or "socket" (bench/http1.ts: keep-alive sockets at a fraction
 *              of fetch's CPU; `concurrency` bounds its connections in paced mode too)
 *   max:   `concurrency` requests in flight, round-robin over the clients, as fast as answered
 *   once:  every client reports once (its first report, for new clients), `concurrency` in flight
 *   paced: every client reports once per intervalS, spread evenly (steady state)
 */
import { readFileSync } from "node:fs";
import { computeSignature } from "../src/protocol/signing.ts";
import { Http1Pool } from "./http1.ts";
import { type Credentials, healthyReport, percentile } from "./lib.ts";

interface Config {
  url: string;
  credentialsFile: string;
  mode: "max" | "paced" | "once";
  durationS: number;
  concurrency: number;
  intervalS?: number;
  /** the interval the reports declare (default: intervalS, else 30) */
  reportIntervalS?: number;
  transport?: "fetch" | "socket";
}

const config = JSON.parse(readFileSync(process.argv[2] as string, "utf8")) as Config;
const clients = JSON.parse(readFileSync(config.credentialsFile, "utf8")) as Credentials[];
const endpoint = `${config.url}/api/v1/reports`;
const latencies: number[] = [];
const statuses = new Map<number, number>();
let errors = 0;
let firstError = "";
let nonceCounter = 0;
const noncePrefix = crypto.randomUUID().replaceAll("-", "").slice(0, 16);

// One body per client, re-stamped once a second: the JSON is built before the clock starts.
let bodyStamp = "";
let body = "";
function currentBody(): string {
  const now = new Date().toISOString().slice(0, 19);
  if (now !== bodyStamp) {
    bodyStamp = now;
    const intervalS = config.reportIntervalS ?? config.intervalS ?? 30;
    body = JSON.stringify({ ...healthyReport(undefined, intervalS), observed_at: `${now}.000Z` });
  }
  return body;
}

const pool = config.transport === "socket" ? Http1Pool.forUrl(config.url, config.concurrency) : null;

function record(status: number, ms: number): void {
  latencies.push(ms);
  statuses.set(status, (statuses.get(status) ?? 0) + 1);
}

async function send(c: Credentials): Promise<void> {
  const b = currentBody();
  const ts = String(Math.floor(Date.now() / 1000));
  const nonce = `${noncePrefix}${(nonceCounter++).toString(36).padStart(8, "0")}`;
  const headers = {
    "Content-Type": "application/json",
    "Sentinel-Client": c.id,
    "Sentinel-Timestamp": ts,
    "Sentinel-Nonce": nonce,
    "Sentinel-Signature": `v1=${computeSignature(c.secret, c.id, ts, nonce, b)}`,
  };
  try {
    if (pool) {
      const a = await pool.post("/api/v1/reports", headers, b);
      return record(a.status, a.ms);
    }
    const t0 = performance.now();
    const res = await fetch(endpoint, {
      method: "POST",
      body: b,
      headers,
      // a saturated server must not stall the run: a request over 30 s counts as an error
      signal: AbortSignal.timeout(30_000),
    });
    await res.arrayBuffer();
    record(res.status, performance.now() - t0);
  } catch (e) {
    errors++;
    firstError ||= (e as Error).message;
  }
}

const started = performance.now();
const endAt = started + config.durationS * 1000;
if (config.mode === "once") {
  let next = 0;
  await Promise.all(
    Array.from({ length: config.concurrency }, async () => {
      while (next < clients.length) await send(clients[next++] as Credentials);
    }),
  );
} else if (config.mode === "max") {
  let next = 0;
  await Promise.all(
    Array.from({ length: config.concurrency }, async () => {
      while (performance.now() < endAt) await send(clients[next++ % clients.length] as Credentials);
    }),
  );
} else {
  // paced: client i reports at offset (i / n) * interval, then every interval
  const intervalMs = (config.intervalS ?? 30) * 1000;
  const inflight = new Set<Promise<void>>();
  let sent = 0;
  while (performance.now() < endAt) {
    const elapsed = performance.now() - started;
    const due = Math.floor((elapsed / intervalMs) * clients.length);
    while (sent < due) {
      const p = send(clients[sent % clients.length] as Credentials).finally(() => inflight.delete(p));
      inflight.add(p);
      sent++;
    }
    await Bun.sleep(5);
  }
  await Promise.all(inflight);
}
const elapsedS = (performance.now() - started) / 1000;
pool?.close();
latencies.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    requests: latencies.length,
    errors,
    firstError,
    statuses: Object.fromEntries(statuses),
    elapsedS,
    perS: latencies.length / elapsedS,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
  }),
);
