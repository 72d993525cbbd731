import { expect, test } from "bun:test";
import { Broker } from "../broker.ts";
import { ClientMonitor } from "../monitor/service.ts";
import { buildReport, HOME, testGeo } from "../monitor/testing.ts";
import { openStore } from "./index.ts";

const T = Date.parse("2026-11-26T00:00:00Z");

function world() {
  const store = openStore(":memory:");
  const monitor = new ClientMonitor({
    store,
    now: () => T,
    logger: { debug() {}, info() {}, warn() {}, error() {} } as never,
    geo: testGeo,
    broker: new Broker(),
    home: () => HOME,
  });
  const add = (id: string, name: string) => {
    store.clients.create({ id, name, createdAt: T, secretEnc: "v1:x:y" });
    return store.clients.get(id) as NonNullable<ReturnType<typeof store.clients.get>>;
  };
  return { store, monitor, add };
}

test("a judged report stores its exit as summary columns, with what geo knows", () => {
  const { store, monitor, add } = world();
  const client = add("c1", "pi");
  monitor.acceptReport({
    client,
    report: buildReport({ v4: "198.51.100.7" }),
    sourceIp: null,
    receivedAt: T,
  });
  const [summary] = store.clients.summaries();
  const judged = store.clients.get("c1");
  expect(summary?.exit).toEqual(judged?.exit ?? null);
  expect(summary?.exit).toMatchObject({ ip: "198.51.100.7" });
  expect(summary?.exit?.asn).toBe(testGeo.lookup("198.51.100.7").asn);
  expect(summary).toMatchObject({ id: "c1", name: "pi", liveness: "online", lastReportAt: T });
});

test("summaries are every client by name; getMany returns the records asked for", () => {
  const { store, add } = world();
  for (const [id, name] of [
    ["c2", "b"],
    ["c1", "a"],
    ["c3", "c"],
  ] as const)
    add(id, name);
  expect(store.clients.summaries().map((s) => s.name)).toEqual(["a", "b", "c"]);
  expect(store.clients.summaries()[0]?.exit).toBeNull();
  const some = store.clients.getMany(["c3", "c1", "missing"]);
  expect(some.map((c) => c.id).sort()).toEqual(["c1", "c3"]);
  expect(store.clients.getMany([])).toEqual([]);
});
