import { expect, test } from "bun:test";
import { quietLogger } from "../../../test/helpers/server.ts";
import { openTestStore } from "../../../test/helpers/store.ts";
import type { HistoryRow, Store } from "../store/index.ts";
import { DAY_MS, fold } from "./fold.ts";
import { RollupJob, rolledThrough } from "./rollup.ts";
import { summarise, totalsOver } from "./summary.ts";

const H = 3_600_000;
const NOW = Date.parse("2026-11-26T15:20:00Z");
const quiet = quietLogger();

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

const STATES: Pick<HistoryRow, "status" | "liveness" | "causes">[] = [
  { status: "green", liveness: "online", causes: "" },
  { status: "red", liveness: "online", causes: "bypass:leak,dns:leak" },
  { status: "red", liveness: "online", causes: "dns:leak" },
  { status: "red", liveness: "offline", causes: "offline" },
  { status: "yellow", liveness: "late", causes: "late" },
  { status: "yellow", liveness: "online", causes: "exit:violated" },
  { status: "red", liveness: "online", causes: "ipv6:leak" },
];

/** Random flips over the last `days` days, written through the store like the monitor does. */
async function seed(store: Store, clients: number, days: number, seedValue = 7) {
  const rnd = random(seedValue);
  const all: Map<string, HistoryRow[]> = new Map();
  for (let c = 0; c < clients; c++) {
    const id = `c${c}`;
    await store.clients.create({ id, name: `client-${c}`, createdAt: 0, secretEnc: "x" });
    const rows: HistoryRow[] = [];
    let t = NOW - days * DAY_MS + Math.floor(rnd() * 6 * H);
    while (t < NOW) {
      const s = STATES[rnd() < 0.6 ? 0 : Math.floor(rnd() * STATES.length)] as (typeof STATES)[number];
      const row = { at: t, ...s, exitIpv4: null, exitIpv6: null, resolvers: null };
      if (await store.history.record(id, row)) rows.push(row);
      t += Math.floor(rnd() * 14 * H) + 1;
    }
    all.set(id, rows);
  }
  await store.history.recordServerDowntime(NOW - 3 * DAY_MS + 2 * H, NOW - 3 * DAY_MS + 5 * H);
  return all;
}

const truth = (rows: HistoryRow[], from: number, to: number) =>
  fold({
    rows,
    downtimes: [{ from: NOW - 3 * DAY_MS + 2 * H, to: NOW - 3 * DAY_MS + 5 * H }],
    start: 0,
    from,
    to,
    carry: null,
  }).totals;

test("summaries from rollups plus live history equal one fold over all raw history, for any window", async () => {
  const store = await openTestStore();
  const history = await seed(store, 12, 20);
  const job = new RollupJob({ store, now: () => NOW, logger: quiet });
  // from the first day with history to yesterday
  expect(await job.run()).toBe(20);
  expect(await rolledThrough(store)).toBe(Math.floor(NOW / DAY_MS) - 1);
  for (const [from, to] of [
    [NOW - DAY_MS, NOW],
    [NOW - 7 * DAY_MS, NOW],
    [NOW - 30 * DAY_MS, NOW],
    [NOW - 9.3 * DAY_MS, NOW - 2.1 * DAY_MS],
    [NOW - 2 * H, NOW],
  ] as const) {
    const got = await totalsOver(store, from, to);
    for (const { client, totals } of got)
      expect({ id: client.id, ...totals }).toEqual({
        id: client.id,
        ...truth(history.get(client.id) ?? [], from, to),
      });
  }
  await store.close();
});

test("the same holds before any rollup exists (everything from history)", async () => {
  const store = await openTestStore();
  const history = await seed(store, 5, 8, 99);
  const got = await totalsOver(store, NOW - 7 * DAY_MS, NOW);
  for (const { client, totals } of got)
    expect(totals).toEqual(truth(history.get(client.id) ?? [], NOW - 7 * DAY_MS, NOW));
  await store.close();
});

test("rollups outlive --retention: a 30-day summary after raw history older than 7 days was pruned", async () => {
  const store = await openTestStore();
  const history = await seed(store, 6, 40, 3);
  await new RollupJob({ store, now: () => NOW, logger: quiet, retentionMs: 7 * DAY_MS }).run();
  const before = await totalsOver(store, NOW - 30 * DAY_MS, NOW);
  await store.history.prune(NOW - 7 * DAY_MS);
  const after = await totalsOver(store, NOW - 30 * DAY_MS, NOW);
  // the window's first partial day is before the cut: whole days and recent time are intact
  const whole = Math.ceil((NOW - 30 * DAY_MS) / DAY_MS) * DAY_MS;
  for (const { client, totals } of after) {
    const expected = truth(history.get(client.id) ?? [], whole, NOW);
    expect(totals.knownMs).toBeGreaterThanOrEqual(expected.knownMs);
    expect(totals.dnsN).toBeGreaterThanOrEqual(expected.dnsN);
    expect(totals.knownMs).toBeLessThanOrEqual(
      before.find((b) => b.client.id === client.id)?.totals.knownMs as number,
    );
  }
  await store.close();
});

test("summarise: worst first, ratios over observed time, incidents by kind, MTTR, DNS leaks per week", async () => {
  const store = await openTestStore();
  for (const [id, name] of [
    ["a", "always-green"],
    ["b", "leaky"],
    ["n", "never-seen"],
  ] as const)
    await store.clients.create({ id, name, createdAt: 0, secretEnc: "x" });
  const r = (at: number, status: string, liveness: string, causes: string) => ({
    at,
    status,
    liveness,
    causes,
    exitIpv4: null,
    exitIpv6: null,
    resolvers: null,
  });
  // seen only for the last 12 h of the day: ratios are over those 12 h
  await store.history.record("a", r(NOW - 12 * H, "green", "online", ""));
  await store.history.record("b", r(NOW - 20 * H, "green", "online", ""));
  await store.history.record("b", r(NOW - 10 * H, "red", "online", "dns:leak"));
  await store.history.record("b", r(NOW - 9 * H, "green", "online", ""));
  await store.history.record("b", r(NOW - 4 * H, "red", "online", "dns:leak"));
  await store.history.record("b", r(NOW - 1 * H, "green", "online", ""));
  const s = await summarise(store, NOW - DAY_MS, NOW);
  expect(s.clients.map((c) => c.name)).toEqual(["leaky", "always-green", "never-seen"]);
  const [leaky, green, never] = s.clients;
  expect(green?.observed_s).toBe(12 * 3600);
  expect(green?.uptime).toBe(1);
  expect(green?.protected).toBe(1);
  expect(leaky?.incidents.dns).toEqual({ count: 2, duration_s: 4 * 3600 });
  expect(leaky?.mttr_s).toBe(2 * 3600);
  expect(leaky?.protected).toBeCloseTo(16 / 20);
  expect(leaky?.dns_leaks_per_week).toBeCloseTo((2 * 7 * 24) / 20);
  expect(never?.uptime).toBeNull();
  expect(never?.protected).toBeNull();
  expect(s.fleet.clients).toBe(3);
  expect(s.fleet.incidents.dns.count).toBe(2);
  await store.close();
});

test("a server without history rolls up no empty days; the first day with history is the first rolled", async () => {
  const store = await openTestStore();
  const job = new RollupJob({ store, now: () => NOW, logger: quiet });
  expect(await job.run()).toBe(0);
  expect(await rolledThrough(store)).toBeNull();
  await seed(store, 1, 2, 5);
  expect(await job.run()).toBe(2);
  expect(await rolledThrough(store)).toBe(Math.floor(NOW / DAY_MS) - 1);
  await store.close();
});
