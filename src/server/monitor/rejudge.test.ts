/** ClientMonitor.rejudgeStale over a real SQLite store: every client, page by page, once more when home moves meanwhile. */
import { afterEach, expect, test } from "bun:test";
import { createConsola } from "consola";
import { tempDir } from "../../../test/helpers/server.ts";
import { Broker } from "../broker.ts";
import { openStore, type Store } from "../store/index.ts";
import { ClientMonitor } from "./service.ts";
import { buildReport, testGeo } from "./testing.ts";
import type { ClientState, HomeIdentity } from "./types.ts";

const NO_HOME: HomeIdentity = { addresses: [], asns: [], learn: true };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** `count` clients that reported the exit 203.0.113.7 while the server knew no home. */
async function fleet(count: number) {
  const dir = tempDir("sentinel-rejudge-");
  const store = await openStore({ dataDir: dir.path });
  cleanups.push(async () => {
    await store.close();
    dir.remove();
  });
  const world = { home: NO_HOME };
  const monitor = new ClientMonitor({
    store,
    now: Date.now,
    logger: createConsola({ level: -999 }),
    geo: testGeo,
    broker: new Broker(),
    home: () => world.home,
  });
  const report = buildReport({ v4: "203.0.113.7" }, Date.now());
  await store.transaction(async (tx) => {
    for (let i = 0; i < count; i++) {
      const id = `c_${i}`;
      await tx.clients.create({
        id,
        name: `client-${String(i).padStart(4, "0")}`,
        createdAt: 0,
        secretEnc: "x",
      });
      const client = await tx.clients.get(id);
      if (client) await monitor.acceptReport({ client, report, sourceIp: null, receivedAt: Date.now() }, tx);
    }
  });
  return { store, monitor, world };
}

const bypassOf = async (store: Store) =>
  (await store.clients.list()).map((c) => (c.state as ClientState).verdicts?.bypass.status);

test("every client is judged again, a page at a time, yielding to other work between pages", async () => {
  const { store, monitor, world } = await fleet(250);
  expect(new Set(await bypassOf(store))).toEqual(new Set(["unknown"]));
  world.home = { addresses: ["203.0.113.7"], asns: [], learn: true };
  let yielded = false;
  setImmediate(() => {
    yielded = true;
  });
  expect(await monitor.rejudgeStale()).toBe(250);
  expect(yielded).toBe(true);
  expect(new Set(await bypassOf(store))).toEqual(new Set(["leak"]));
  expect(await store.events.query({ kinds: ["bypass.started"], limit: 500 })).toHaveLength(250);
  // nothing is stale any more: a second pass judges no one
  expect(await monitor.rejudgeStale()).toBe(0);
});

test("a home change during a pass makes it go over the clients once more", async () => {
  const { store, monitor, world } = await fleet(250);
  world.home = { addresses: ["203.0.113.7"], asns: [], learn: true };
  const first = monitor.rejudgeStale();
  await new Promise((resolve) => setImmediate(resolve)); // the first page is done, the pass yields
  world.home = { addresses: ["198.51.100.200"], asns: [], learn: true }; // changes again meanwhile
  const second = monitor.rejudgeStale(); // joins the pass under way
  // the first page was judged against the first home before the change, then all against the second
  const total = await first;
  expect(total).toBeGreaterThan(250);
  expect(await second).toBe(total);
  const homes = (await store.clients.list()).map((c) =>
    (c.state as ClientState).verdicts?.bypass.evidence.home.addresses.join(),
  );
  expect(new Set(homes)).toEqual(new Set(["198.51.100.200"]));
  expect(new Set(await bypassOf(store))).toEqual(new Set(["ok"]));
});
