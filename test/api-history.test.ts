/** GET /api/v1/clients/:id/timeline and /api/v1/summary, over history the real monitor wrote. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { BYPASS, DNS_LEAK, H, historyWorld } from "./helpers/history.ts";

const T0 = Date.parse("2026-11-20T06:00:00Z");
let world: Awaited<ReturnType<typeof historyWorld>>;
let token: string;

beforeAll(async () => {
  world = await historyWorld(T0);
  token = await world.token();
  await world.add("pi");
  await world.add("quiet");
  await world.report("pi", T0);
  // one report flips two verdicts: one red stretch, two incidents
  await world.report("pi", T0 + H, { ...BYPASS, ...DNS_LEAK });
  await world.report("pi", T0 + 2 * H);
  // heartbeats: unchanged reports every 30 s for an hour
  for (let t = T0 + 2 * H + 30_000; t < T0 + 3 * H; t += 30_000) await world.report("pi", t);
  await world.report("pi", T0 + 3 * H, DNS_LEAK);
  await world.report("pi", T0 + 3.5 * H);
  // silence: the sweeper takes it offline 90 s after the last report
  await world.sweep(T0 + 3.5 * H + 91_000);
  await world.report("pi", T0 + 4 * H);
  world.clock.t = T0 + 5 * H;
});
afterAll(() => world.w.close());

const get = async (path: string, auth: string | null = token) => {
  const res = await world.w.handle(path, auth ? { headers: { authorization: `Bearer ${auth}` } } : {});
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

test("timeline: merged, gap-free segments with reasons; unknown before the first report", async () => {
  const from = new Date(T0 - H).toISOString();
  const { status, body } = await get(`/api/v1/clients/${world.id("pi")}/timeline?from=${from}`);
  expect(status).toBe(200);
  const segments = body.segments as { from: string; to: string; status: string; reasons: string[] }[];
  const at = (s: string) => (Date.parse(s) - T0) / H;
  expect(segments.map((s) => [at(s.from), at(s.to), s.status, s.reasons])).toEqual([
    [-1, 0, "unknown", ["Not seen yet"]],
    [0, 1, "green", []],
    [1, 2, "red", ["Bypass", "DNS leak"]],
    [2, 3, "green", []],
    [3, 3.5, "red", ["DNS leak"]],
    [3.5, 3.5 + 91_000 / H, "green", []],
    [3.5 + 91_000 / H, 4, "red", ["Offline"]],
    [4, 5, "green", []],
  ]);
  expect(body.to).toBe(new Date(T0 + 5 * H).toISOString());
});

test("history grows with changes, not heartbeats: an hour of unchanged reports wrote no row", async () => {
  const rows = await world.w.store.history.range(world.id("pi"), T0 + 2 * H, T0 + 3 * H - 1);
  // the row in force when the hour began (the red one at 1 h), and the change at 2 h: nothing else
  expect(rows.map((r) => (r.at - T0) / H)).toEqual([1, 2]);
});

test("summary: uptime and protected over observed time, incidents by kind, MTTR, DNS leak rate", async () => {
  const { status, body } = await get("/api/v1/summary?period=24h");
  expect(status).toBe(200);
  expect(body.period).toBe("24h");
  const clients = body.clients as Record<string, unknown>[];
  expect(clients.map((c) => c.name)).toEqual(["pi", "quiet"]); // worst first; never seen last
  const pi = clients[0] as {
    observed_s: number;
    uptime: number;
    protected: number;
    incidents: Record<string, { count: number; duration_s: number }>;
    mttr_s: number;
    recoveries: number;
    dns_leaks_per_week: number;
  };
  expect(pi.observed_s).toBe(5 * 3600); // seen for 5 h of the 24
  expect(pi.incidents.bypass).toEqual({ count: 1, duration_s: 3600 });
  expect(pi.incidents.dns).toEqual({ count: 2, duration_s: 3600 + 1800 });
  expect(pi.incidents.offline).toEqual({ count: 1, duration_s: 0.5 * 3600 - 91 });
  expect(pi.incidents.ipv6?.count).toBe(0);
  expect(pi.recoveries).toBe(3);
  expect(pi.mttr_s).toBe(Math.round((3600 + 1800 + (1800 - 91)) / 3));
  expect(pi.protected).toBeCloseTo((5 * 3600 - 3600 - 1800 - (1800 - 91)) / (5 * 3600), 6);
  expect(pi.uptime).toBeCloseTo((5 * 3600 - (1800 - 91)) / (5 * 3600), 6);
  expect(pi.dns_leaks_per_week).toBeCloseTo((2 * 7 * 24) / 5, 6);
  const quiet = clients[1] as { observed_s: number; uptime: number | null };
  expect(quiet).toMatchObject({ observed_s: 0, uptime: null, protected: null });
  expect((body.fleet as { clients: number }).clients).toBe(2);
});

test("bad input is a 400 naming the field; an unknown client a 404; no token a 401", async () => {
  const bad = await get("/api/v1/summary?period=1y");
  expect(bad.status).toBe(400);
  expect(JSON.stringify(bad.body)).toContain("/period");
  const id = world.id("pi");
  for (const q of ["from=yesterday", `from=${T0}&to=${T0 - 1}`, `from=0&to=${T0}`]) {
    const r = await get(`/api/v1/clients/${id}/timeline?${q}`);
    expect(r.status).toBe(400);
    expect((r.body.error as { code: string }).code).toBe("validation_failed");
  }
  expect((await get("/api/v1/clients/c_missing/timeline")).status).toBe(404);
  expect((await get("/api/v1/summary", null)).status).toBe(401);
  expect((await get(`/api/v1/clients/${id}/timeline`, "sst_wrong")).status).toBe(401);
});
