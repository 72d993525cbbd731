import { expect, test } from "bun:test";
import { monitorOn, oneClientMonitor } from "../../../../test/helpers/monitor-world.ts";
import { buildReport, HOME } from "../../monitor/testing.ts";

async function world(options: { writeBehind?: boolean } = {}) {
  const { clock, store, cache, monitor } = await oneClientMonitor(options);
  const reportTo = async (
    to: { monitor: typeof monitor; cache: typeof cache },
    spec: Parameters<typeof buildReport>[0],
  ) => {
    clock.t += 30_000;
    const client = await to.cache.get("c1", store.clients);
    if (!client) throw new Error("no client");
    const r = { ...buildReport(spec), observed_at: new Date(clock.t).toISOString() };
    return store.transaction((tx) =>
      to.monitor.acceptReport({ client, report: r, sourceIp: "192.0.2.250", receivedAt: clock.t }, tx),
    );
  };
  const report = (spec: Parameters<typeof buildReport>[0]) => reportTo({ monitor, cache }, spec);
  return { clock, store, cache, monitor, report, reportTo };
}

test("the report cache keeps a client's gist: no last report, no evidence, no exits or resolvers", async () => {
  const { store, cache, report } = await world();
  await report({ v4: HOME.addresses[0] }); // the exit is home: red, with evidence
  const cached = await cache.get("c1", store.clients);
  expect(cached?.state?.status).toBe("red");
  expect(cached && "lastReport" in cached).toBe(false);
  expect(Object.keys(cached?.state ?? {})).not.toContain("exit");
  expect(Object.keys(cached?.state ?? {})).not.toContain("resolvers");
  expect(Object.keys(cached?.state ?? {})).not.toContain("agent");
  const verdicts = Object.values(cached?.state?.verdicts ?? {});
  for (const verdict of verdicts)
    expect(Object.keys(verdict).sort()).toEqual(["reason", "severity", "status"]);
  // a sentence is kept only where it can be a cause of the status
  expect(verdicts.filter((v) => v.severity === "red").every((v) => v.reason.length > 0)).toBe(true);
  const green = verdicts.filter((v) => v.severity === "green");
  expect(green.length).toBeGreaterThan(0);
  for (const verdict of green) expect(verdict.reason).toBe("");
  // the store keeps the whole state
  const stored = await store.clients.get("c1");
  expect(stored?.state?.verdicts?.bypass.evidence).toBeDefined();
  expect(stored?.lastReport).not.toBeNull();
});

test("an unchanged report is answered from the gist with the same reasons a full judgment gave", async () => {
  const { report } = await world();
  const judged = await report({ v4: HOME.addresses[0] });
  const unchanged = await report({ v4: HOME.addresses[0] });
  expect(judged.status).toBe("red");
  expect(unchanged).toEqual(judged);
});

test("a report that changes something is judged against the whole stored state, not the gist", async () => {
  const { store, cache, report } = await world();
  await report({});
  await report({}); // unchanged: the cache now holds the gist only
  expect(Object.keys((await cache.get("c1", store.clients))?.state ?? {})).not.toContain("exit");
  const changed = await report({ v4: HOME.addresses[0] });
  expect(changed.status).toBe("red");
  const stored = await store.clients.get("c1");
  // the new exit is judged against the old one (an exit change needs the previous evidence)
  expect(stored?.state?.exit.ipv4?.ip).toBe(HOME.addresses[0]);
  const kinds = (await store.events.query({ limit: 100 })).map((e) => e.kind);
  expect(kinds).toContain("exit.changed");
  expect(kinds).toContain("bypass.started");
});

test("a client removed while its report waited is refused as unknown, not judged against a gist", async () => {
  const { store, cache, monitor, report } = await world();
  await report({});
  const client = await cache.get("c1", store.clients);
  if (!client) throw new Error("no client");
  await store.clients.remove("c1");
  const t = Date.parse("2026-11-26T01:00:00Z");
  const changed = { ...buildReport({ v4: HOME.addresses[0] }), observed_at: new Date(t).toISOString() };
  await expect(
    store.transaction((tx) =>
      monitor.acceptReport({ client, report: changed, sourceIp: "192.0.2.250", receivedAt: t }, tx),
    ),
  ).rejects.toMatchObject({ status: 401 });
});

test("an unchanged report moves the cached gist's liveness in place instead of caching a new object", async () => {
  const { store, cache, report } = await world();
  await report({});
  const before = await cache.get("c1", store.clients);
  const lastReportAt = before?.lastReportAt;
  await report({}); // unchanged: a heartbeat
  const after = await cache.get("c1", store.clients);
  expect(after).toBe(before as never);
  expect(after?.lastReportAt).toBeGreaterThan(lastReportAt ?? Number.POSITIVE_INFINITY);
});

test("the gist a heartbeat moved in place says what the database says once the heartbeat is written", async () => {
  const { store, cache, monitor, report } = await world();
  await report({});
  await report({}); // unchanged: the heartbeat lives in memory
  await monitor.writeHeartbeats();
  const cached = await cache.get("c1", store.clients);
  const stored = await store.clients.get("c1");
  const liveness = (c: typeof cached) => ({
    lastSourceIp: c?.lastSourceIp,
    lastReportAt: c?.lastReportAt,
    lastObservedAt: c?.lastObservedAt,
    lateAt: c?.lateAt,
    offlineAt: c?.offlineAt,
    nextCheckAt: c?.nextCheckAt,
  });
  expect(liveness(cached)).toEqual(liveness(stored));
  expect(cached?.lateAt).toBeGreaterThan(stored?.lastReportAt ?? Number.POSITIVE_INFINITY);
});

test("locked reads (PostgreSQL's way): the cached state serves only its own revision", async () => {
  const { clock, store, cache, report, reportTo } = await world({ writeBehind: false });
  const judged = await report({});
  expect(await report({})).toEqual(judged); // unchanged: state from the cache, columns locked
  expect((await store.clients.get("c1"))?.lastReportAt).toBe(clock.t); // the heartbeat is written
  const cachedRevision = (await cache.get("c1", store.clients))?.revision;
  // another replica (its own monitor and cache, the same database) judges a bypass
  const replicaB = monitorOn(store, clock, { writeBehind: false });
  const bypass = await reportTo(replicaB, { v4: HOME.addresses[0] });
  expect(bypass.status).toBe("red");
  // this replica's cache still holds the green gist of the old revision: it must not be believed
  expect((await cache.get("c1", store.clients))?.revision).toBe(cachedRevision as number);
  expect((await report({})).status).toBe(judged.status);
  const kinds = (await store.events.query({ limit: 100 })).map((e) => e.kind);
  expect(kinds).toContain("bypass.started");
  expect(kinds).toContain("bypass.ended");
});
