/**
 * Where does an ingested report's time go? Runs each stage of POST /api/v1/reports in
 * isolation, in-process, over the same pre-signed requests, and prints µs per report:
 *
 *   bun bench/profile-ingest.ts [N=20000] [CLIENTS=1000]
 *
 * Stages follow ReportIngest.handle and ClientMonitor.acceptReport in order. The sum is
 * compared with the whole path through the real Elysia app (app.handle, no sockets), and with
 * the whole path over HTTP measured by `bun run bench` (the difference is the HTTP server).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConsola } from "consola";
import { validateReport } from "../src/protocol/report.ts";
import {
  isTimestampFresh,
  parseSignedHeaders,
  signatureMatches,
  signRequest,
} from "../src/protocol/signing.ts";
import { createApp } from "../src/server/app.ts";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { Broker } from "../src/server/broker.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { loadGeo } from "../src/server/geo/index.ts";
import { DEFAULT_CLIENT_POLICY, evaluateReport } from "../src/server/monitor/evaluate.ts";
import { ClientMonitor } from "../src/server/monitor/service.ts";
import { openStore } from "../src/server/store/index.ts";
import { healthyReport, writeGeoOverrides } from "./lib.ts";

const N = Number(process.argv[2] ?? 20_000);
const CLIENTS = Number(process.argv[3] ?? 1000);
const dir = mkdtempSync(join(tmpdir(), "sentinel-profile-"));
const dataDir = join(dir, "data");
const store = openStore(dataDir);
const keyring = loadKeyring(dataDir, {});
const now = Date.now;
const creds = store.transaction(() =>
  Array.from({ length: CLIENTS }, (_, i) =>
    enrollClient(store, keyring, `p-${i}`, "http://127.0.0.1:1", now()),
  ),
);
const geo = await loadGeo({ overridesFile: writeGeoOverrides(join(dir, "geo.json")) });
const logger = createConsola({ level: -999 });
const broker = new Broker();
const home = { addresses: ["198.51.100.1"], asns: [64500] };
const monitor = new ClientMonitor({ store, now, logger, geo, broker, home: () => home });

const body = JSON.stringify(healthyReport());
const requests = Array.from({ length: N }, (_, i) => {
  const c = creds[i % CLIENTS] as (typeof creds)[number];
  const headers = signRequest(c.id, c.secret, body);
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { c, headers, get: (n: string) => lower[n.toLowerCase()] ?? null };
});

const results: [string, number][] = [];
function stage(name: string, fn: (i: number) => void) {
  for (let i = 0; i < Math.min(500, N); i++) fn(i); // warm up
  const t0 = performance.now();
  for (let i = 0; i < N; i++) fn(i);
  results.push([name, ((performance.now() - t0) * 1000) / N]);
}

const parsed = requests.map((r) => parseSignedHeaders(r.get));
const nowS = Math.floor(Date.now() / 1000);
stage("parse headers + timestamp", (i) => {
  parseSignedHeaders((requests[i] as (typeof requests)[number]).get);
  isTimestampFresh(nowS, nowS);
});
stage("store.clients.get (SQLite, JSON columns)", (i) =>
  store.clients.get((requests[i] as (typeof requests)[number]).c.id),
);
stage("HMAC-SHA256 check", (i) =>
  signatureMatches(
    (requests[i] as (typeof requests)[number]).c.secret,
    parsed[i] as NonNullable<(typeof parsed)[number]>,
    body,
  ),
);
stage("JSON.parse", () => JSON.parse(body));
const report = JSON.parse(body);
stage("validateReport", () => validateReport(report));
const valid = validateReport(report);
if (!valid.ok) throw new Error("the sample report is invalid");
stage("evaluateReport (pure, geo lookups; skipped for unchanged reports)", () =>
  evaluateReport({
    report: valid.report,
    sourceIp: "203.0.113.7",
    policy: { ...DEFAULT_CLIENT_POLICY },
    home,
    previous: null,
    geo,
    now: Date.now(),
    replayed: false,
  }),
);
// prime every client's state so the timed loops are steady state (no first_seen)
for (const c of creds) {
  const client = store.clients.get(c.id);
  if (client)
    monitor.acceptReport({ client, report: valid.report, sourceIp: "203.0.113.7", receivedAt: Date.now() });
}
const acceptOne = (i: number, tag: string) => {
  const h = parsed[i] as NonNullable<(typeof parsed)[number]>;
  store.nonces.use(h.clientId, `${h.nonce}${tag}`, Date.now() + 600_000);
  const client = store.clients.get(h.clientId);
  if (client)
    monitor.acceptReport({ client, report: valid.report, sourceIp: "203.0.113.7", receivedAt: Date.now() });
};
stage("one transaction per report: nonce + monitor.acceptReport + COMMIT (today)", (i) =>
  store.transaction(() => acceptOne(i, "a")),
);
stage("empty store.transaction (no write, no fsync)", () => store.transaction(() => {}));
for (const batch of [8, 64]) {
  const t0 = performance.now();
  for (let i = 0; i < N; i += batch)
    store.transaction(() => {
      for (let j = i; j < Math.min(N, i + batch); j++) acceptOne(j, `g${batch}`);
    });
  results.push([
    `group commit: ${batch} reports per transaction (proposal)`,
    ((performance.now() - t0) * 1000) / N,
  ]);
}

const app = createApp({
  store,
  keyring,
  logger,
  now,
  broker,
  monitor,
  acceptReport: (r) => monitor.acceptReport(r),
  limits: { reportsPerClientPerS: 1_000_000, reportBurst: 1_000_000 },
});
const fresh = Array.from({ length: N + 500 }, (_, i) => {
  const c = creds[i % CLIENTS] as (typeof creds)[number];
  return signRequest(c.id, c.secret, body);
});
let k = 0;
const appTimes: number[] = [];
for (let i = 0; i < N + 500; i++) {
  const req = new Request("http://localhost/api/v1/reports", { method: "POST", headers: fresh[k++], body });
  const t0 = performance.now();
  const res = await app.handle(req);
  await res.arrayBuffer();
  if (i >= 500) appTimes.push(performance.now() - t0);
  if (res.status !== 202) throw new Error(`app answered ${res.status}: ${await res.text()}`);
}
const appUs = (appTimes.reduce((a, b) => a + b, 0) * 1000) / appTimes.length;

const notInPath = ["evaluateReport", "empty store.transaction", "group commit"];
const staged = results.reduce((a, [name, us]) => (notInPath.some((p) => name.startsWith(p)) ? a : a + us), 0);
console.log(`\n### Ingest stages, µs per report (${N} reports, ${CLIENTS} clients, steady state)\n`);
console.log("| stage | µs/report | share of app.handle |\n|---|---|---|");
for (const [name, us] of results)
  console.log(`| ${name} | ${us.toFixed(1)} | ${((us / appUs) * 100).toFixed(0)} % |`);
console.log(
  `| sum of the stages on the path (evaluate counted inside acceptReport) | ${staged.toFixed(1)} | ${((staged / appUs) * 100).toFixed(0)} % |`,
);
console.log(`| whole app.handle (Elysia, in-process, no socket) | ${appUs.toFixed(1)} | 100 % |`);
console.log(
  `| → Elysia + the rest (app.handle − stages) | ${(appUs - staged).toFixed(1)} | ${(((appUs - staged) / appUs) * 100).toFixed(0)} % |`,
);
console.log(`\nin-process ceiling: ${(1e6 / appUs).toFixed(0)} reports/s on one core`);
store.close();
rmSync(dir, { recursive: true, force: true });
