/** GET /metrics against the real server: token, parseable text, and the numbers move with what happens. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { parsePrometheus, sampleValue } from "./helpers/prometheus.ts";
import { type Credentials, sampleReport, signedPost } from "./helpers/report.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";

const dir = tempDir();
const TOKEN = "metrics-scrape-token-1";
let server: Awaited<ReturnType<typeof startTestServer>>;
let cred: Credentials;

beforeAll(async () => {
  const store = await openServerStore(dir.path);
  const e = await enrollClient(store, loadKeyring(dir.path), "pi", "http://x", Date.now());
  await store.close();
  cred = { id: e.id, secret: e.secret };
  server = await startTestServer({ dataDir: dir.path, metricsToken: TOKEN });
});
afterAll(async () => {
  await server.stop();
  dir.remove();
});

const scrape = async () => {
  const res = await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
  return parsePrometheus(await res.text());
};

test("without the token, or with a wrong one, /metrics is 401", async () => {
  for (const headers of [{}, { Authorization: "Bearer nope" }, { Authorization: `Basic ${TOKEN}` }] as Record<
    string,
    string
  >[]) {
    const res = await fetch(`${server.url}/metrics`, { headers });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
  }
});

test("reports by result, latency, signature failures, flips, clients by status, build info", async () => {
  const before = await scrape();
  expect(before.types.sentinel_report_duration_seconds).toBe("histogram");
  expect(sampleValue(before.samples, "sentinel_build_info")).toBe(1);
  expect(before.samples.find((s) => s.name === "sentinel_build_info")?.labels.version).toBeString();
  expect(sampleValue(before.samples, "sentinel_clients", { status: "grey", liveness: "never" })).toBe(1);

  expect((await fetch(signedPost(server.url, cred, JSON.stringify(sampleReport())))).status).toBe(202);
  expect((await fetch(signedPost(server.url, cred, JSON.stringify(sampleReport())))).status).toBe(202);
  expect(
    (await fetch(signedPost(server.url, { id: cred.id, secret: "wrong" }, JSON.stringify(sampleReport()))))
      .status,
  ).toBe(401);
  const invalid = signedPost(server.url, cred, JSON.stringify({ v: 1 }));
  expect((await fetch(invalid)).status).toBe(400);

  const after = await scrape();
  const s = after.samples;
  expect(sampleValue(s, "sentinel_reports_total", { result: "accepted" })).toBe(2);
  expect(sampleValue(s, "sentinel_reports_total", { result: "unauthorized" })).toBe(1);
  expect(sampleValue(s, "sentinel_reports_total", { result: "invalid" })).toBe(1);
  expect(sampleValue(s, "sentinel_report_auth_failures_total", { reason: "bad_signature" })).toBe(1);
  expect(sampleValue(s, "sentinel_report_duration_seconds_count")).toBe(2);
  expect(sampleValue(s, "sentinel_report_duration_seconds_bucket", { le: "+Inf" })).toBe(2);
  // the first report judged the client: it left grey/never, and that change is a flip
  expect(sampleValue(s, "sentinel_clients", { status: "grey", liveness: "never" })).toBeUndefined();
  expect(s.filter((x) => x.name === "sentinel_clients").reduce((n, x) => n + x.value, 0)).toBe(1);
  expect(
    s.filter((x) => x.name === "sentinel_flips_total").reduce((n, x) => n + x.value, 0),
  ).toBeGreaterThanOrEqual(1);
  expect(sampleValue(s, "sentinel_outbox_depth")).toBeGreaterThanOrEqual(0);
  expect(sampleValue(s, "sentinel_sweeper_lag_seconds")).toBeLessThan(5);
  expect(sampleValue(s, "sentinel_scrape_errors")).toBe(0);
});

test("docs/grafana-dashboard.json is an importable dashboard whose queries name metrics the server exports", async () => {
  const dash = (await Bun.file(`${import.meta.dir}/../docs/grafana-dashboard.json`).json()) as {
    title: string;
    uid: string;
    schemaVersion: number;
    panels: { title: string; type: string; targets?: { expr: string }[] }[];
    __inputs?: { name: string; type: string }[];
  };
  expect(dash.title).toBeString();
  expect(dash.schemaVersion).toBeGreaterThan(30);
  expect(dash.__inputs?.[0]?.type).toBe("datasource");
  const exported = new Set((await scrape()).samples.map((x) => x.name.replace(/_(bucket|sum|count)$/, "")));
  for (const name of Object.keys((await scrape()).types)) exported.add(name);
  const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  expect(exprs.length).toBeGreaterThanOrEqual(6);
  for (const expr of exprs)
    for (const [name] of expr.matchAll(/sentinel_[a-z_]+/g))
      expect(exported.has(name.replace(/_(bucket|sum|count)$/, "")), `${name} in ${expr}`).toBe(true);
});
