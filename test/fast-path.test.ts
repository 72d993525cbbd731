/**
 * The monitor skips re-judging a report that says exactly what the previous one said. This
 * property test runs random report sequences through two monitors, one with the shortcut and
 * one without, and demands the same statuses, verdicts and events, and the same deadlines once
 * the sweeper has written the shortcut's heartbeats.
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import { buildReport } from "../src/server/monitor/testing.ts";
import { oneClientMonitor } from "./helpers/monitor-world.ts";

/** The DNS oracle's evidence: fresh names every report, the same or another resolver behind them. */
const withOracle = (resolver: string) => () => {
  const name = (type: string) => `${crypto.randomUUID().slice(0, 8)}${type}.leak.example.org`;
  const lookups = (["A", "AAAA"] as const).map((type) => ({
    name: name(type),
    type,
    via: "10.2.0.1",
    latency_ms: 5,
    error: null,
  }));
  const seen = lookups.map((l) => ({
    name: l.name,
    qtype: l.type,
    resolver,
    transport: "udp" as const,
    client_subnet: null,
    at: 0,
  }));
  return { ...buildReport({}), dns_oracle: lookups, oracle_seen: seen };
};

const variants = [
  () => buildReport({}),
  () => buildReport({ v4: "203.0.113.7" }), // bypass
  () => buildReport({ resolvers: ["203.0.113.53"] }), // DNS via home
  () => buildReport({ noDns: true }),
  withOracle("198.51.100.53"), // the VPN's resolver, seen by the oracle
  withOracle("203.0.113.53"), // DNS via home, seen by the oracle
  () => buildReport({ v4: "198.51.100.200" }), // exit changed
  () =>
    buildReport({
      v4Answers: [
        ["a", "198.51.100.7"],
        ["b", "198.51.100.9"],
      ],
      v4Consistent: false,
    }),
];

const step = fc.oneof(
  fc.record({
    kind: fc.constant("report" as const),
    variant: fc.integer({ min: 0, max: variants.length - 1 }),
    gapS: fc.integer({ min: 1, max: 100 }),
    replayed: fc.boolean(),
  }),
  fc.record({ kind: fc.constant("sweep" as const), gapS: fc.integer({ min: 1, max: 200 }) }),
);

// SQLite in memory on both CI runs: 300 worlds would be 300 PostgreSQL databases; the
// shortcut's guard across replicas (the row's revision) is proven in test/replicas.test.ts
const world = (fastPath: boolean) => oneClientMonitor({ fastPath });

test("the unchanged-report shortcut agrees with full evaluation", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60 }), async (steps) => {
      const worlds = await Promise.all([world(true), world(false)]);
      for (const s of steps) {
        for (const w of worlds) {
          w.clock.t += s.gapS * 1000;
          if (s.kind === "sweep") await w.monitor.sweep();
          else {
            const report = {
              ...variants[s.variant]?.(),
              observed_at: new Date(w.clock.t).toISOString(),
              ...(s.replayed ? { replayed: true } : {}),
            };
            const client = await w.store.clients.get("c1");
            if (client)
              await w.store.transaction((tx) =>
                w.monitor.acceptReport(
                  { client, report: report as never, sourceIp: "192.0.2.250", receivedAt: w.clock.t },
                  tx,
                ),
              );
          }
        }
        // Heartbeats reach the database with a later sweep, so the liveness columns are
        // compared after sweeps, once the beats are written (the sweep itself ran without).
        const swept = s.kind === "sweep";
        const [fast, full] = await Promise.all(
          worlds.map(async (w) => {
            if (swept) await w.monitor.writeHeartbeats();
            const c = await w.store.clients.get("c1");
            const state = c ? w.monitor.stateOf(c) : null;
            return {
              status: c?.status,
              liveness: c?.liveness,
              lastReportAt: swept ? c?.lastReportAt : "after the next sweep",
              nextCheckAt: swept ? c?.nextCheckAt : "after the next sweep",
              verdicts: state?.verdicts
                ? Object.fromEntries(Object.entries(state.verdicts).map(([k, v]) => [k, v.status]))
                : null,
              events: (await w.store.events.query({ limit: 1000 })).map((e) => `${e.kind}:${e.suppressed}`),
            };
          }),
        );
        expect(fast).toEqual(full as never);
      }
    }),
    { numRuns: 150 },
  );
  // 150 sequences of up to 60 reports on two stores: about 2 s alone, longer on a busy machine
}, 30_000);

test("a sweep soon after the last heartbeat write does not judge a client by a deadline its unwritten heartbeat moved", async () => {
  const w = await world(true);
  const report = async (at: number) => {
    w.clock.t = at;
    const client = await w.store.clients.get("c1");
    if (client)
      await w.store.transaction((tx) =>
        w.monitor.acceptReport(
          {
            client,
            report: { ...buildReport({}), observed_at: new Date(at).toISOString() } as never,
            sourceIp: "192.0.2.250",
            receivedAt: at,
          },
          tx,
        ),
      );
  };
  await report(w.clock.t); // judged in full: its deadlines are stored
  const lateAt = (await w.store.clients.get("c1"))?.lateAt as number;
  w.clock.t = lateAt - 1_500;
  await w.monitor.sweep(); // nothing due; the heartbeat write time is now
  await report(lateAt - 1_000); // unchanged: a heartbeat, held in memory
  w.clock.t = lateAt + 200; // the stored deadline has passed, the last write was 1.7 s ago
  expect(await w.monitor.sweep()).toBe(0);
  const after = await w.store.clients.get("c1");
  expect(after?.liveness).toBe("online");
  expect(after?.lastReportAt).toBe(lateAt - 1_000);
});
