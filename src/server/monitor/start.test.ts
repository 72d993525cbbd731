import { expect, test } from "bun:test";
import { quietLogger } from "../../../test/helpers/server.ts";
import { Broker } from "../broker.ts";
import { openStore } from "../store/index.ts";
import { ClientMonitor } from "./service.ts";
import { buildReport, HOME, testGeo } from "./testing.ts";

test("a restarted server moves every client's deadlines past its start, reading the clients a page at a time", async () => {
  const t0 = Date.parse("2026-11-26T00:00:00Z");
  const store = await openStore({ dataDir: ":memory:" });
  const monitor = (now: number) =>
    new ClientMonitor({
      store,
      now: () => now,
      logger: quietLogger(),
      geo: testGeo,
      broker: new Broker(),
      home: () => HOME,
    });
  const before = monitor(t0);
  // more than two pages, names in mixed letter case (pages follow the case-insensitive order)
  const n = 1_234;
  for (let i = 0; i < n; i++) {
    const id = `c${i}`;
    await store.clients.create({
      id,
      name: `${i % 2 ? "Box" : "box"}-${i}`,
      createdAt: t0,
      secretEnc: "v1:x:y",
    });
    const client = await store.clients.get(id);
    if (!client) throw new Error("not created");
    const report = { ...buildReport({}), observed_at: new Date(t0).toISOString() };
    await store.transaction((tx) =>
      before.acceptReport({ client, report, sourceIp: null, receivedAt: t0 }, tx),
    );
  }
  const startedAt = t0 + 3_600_000; // down for an hour: every deadline has passed
  await monitor(startedAt).start(startedAt, { restarted: true });
  const clients = await store.clients.list();
  expect(clients).toHaveLength(n);
  for (const c of clients) {
    expect(c.lateAt).toBeGreaterThan(startedAt);
    expect(c.offlineAt).toBeGreaterThan(startedAt);
  }
});
