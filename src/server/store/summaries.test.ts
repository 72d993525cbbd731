import { expect, test } from "bun:test";
import { openTestStore } from "../../../test/helpers/store.ts";
import { Broker } from "../broker.ts";
import { ClientMonitor } from "../monitor/service.ts";
import { buildReport, HOME, testGeo } from "../monitor/testing.ts";
import type { ClientRecord } from "./index.ts";

const T = Date.parse("2026-11-26T00:00:00Z");

async function world() {
  const store = await openTestStore();
  const monitor = new ClientMonitor({
    store,
    now: () => T,
    logger: { debug() {}, info() {}, warn() {}, error() {} } as never,
    geo: testGeo,
    broker: new Broker(),
    home: () => HOME,
  });
  const add = async (id: string, name: string) => {
    await store.clients.create({ id, name, createdAt: T, secretEnc: "v1:x:y" });
    return (await store.clients.get(id)) as ClientRecord;
  };
  return { store, monitor, add };
}

test("a judged report stores its exit as summary columns, with what geo knows", async () => {
  const { store, monitor, add } = await world();
  const client = await add("c1", "pi");
  await store.transaction((tx) =>
    monitor.acceptReport(
      { client, report: buildReport({ v4: "198.51.100.7" }), sourceIp: null, receivedAt: T },
      tx,
    ),
  );
  const [summary] = await store.clients.summaries();
  const judged = await store.clients.get("c1");
  expect(summary?.exit).toEqual(judged?.exit ?? null);
  expect(summary?.exit).toMatchObject({ ip: "198.51.100.7" });
  expect(summary?.exit?.asn).toBe(testGeo.lookup("198.51.100.7").asn);
  expect(summary).toMatchObject({ id: "c1", name: "pi", liveness: "online", lastReportAt: T });
});

test("summaries are every client by name; getMany returns the records asked for", async () => {
  const { store, add } = await world();
  for (const [id, name] of [
    ["c2", "b"],
    ["c1", "a"],
    ["c3", "c"],
  ] as const)
    await add(id, name);
  expect((await store.clients.summaries()).map((s) => s.name)).toEqual(["a", "b", "c"]);
  expect((await store.clients.summaries())[0]?.exit).toBeNull();
  const some = await store.clients.getMany(["c3", "c1", "missing"]);
  expect(some.map((c) => c.id).sort()).toEqual(["c1", "c3"]);
  expect(await store.clients.getMany([])).toEqual([]);
});
