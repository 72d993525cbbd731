/** One enrolled client ("c1") and a monitor judging its reports on SQLite in memory, on a clock the test moves. */

import { ClientCache } from "../../src/server/api/reports/client-cache.ts";
import { Broker } from "../../src/server/broker.ts";
import { ClientMonitor } from "../../src/server/monitor/service.ts";
import { HOME, testGeo } from "../../src/server/monitor/testing.ts";
import { openStore, type Store } from "../../src/server/store/index.ts";
import { quietLogger } from "./server.ts";

interface MonitorOptions {
  fastPath?: boolean;
  /** false: the client is read locked in each report's transaction (PostgreSQL's way) */
  writeBehind?: boolean;
}

/** A monitor with a report cache of its own on `store` (a second one is another replica). */
export function monitorOn(
  store: Store,
  clock: { t: number },
  { fastPath = true, writeBehind = true }: MonitorOptions = {},
) {
  const broker = new Broker();
  const cache = new ClientCache(broker);
  const monitor = new ClientMonitor({
    store,
    now: () => clock.t,
    logger: quietLogger(),
    geo: testGeo,
    broker,
    home: () => HOME,
    cache,
    fastPath,
    heartbeatsWriteBehind: writeBehind,
  });
  return { broker, cache, monitor };
}

export async function oneClientMonitor(options: MonitorOptions = {}) {
  const clock = { t: Date.parse("2026-11-26T00:00:00Z") };
  const store = await openStore({ dataDir: ":memory:" });
  await store.clients.create({ id: "c1", name: "one", createdAt: clock.t, secretEnc: "v1:x:y" });
  return { clock, store, ...monitorOn(store, clock, options) };
}
