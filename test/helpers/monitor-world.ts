/** One enrolled client ("c1") and a monitor judging its reports on SQLite in memory, on a clock the test moves. */

import { ClientCache } from "../../src/server/api/reports/client-cache.ts";
import { Broker } from "../../src/server/broker.ts";
import { ClientMonitor } from "../../src/server/monitor/service.ts";
import { HOME, testGeo } from "../../src/server/monitor/testing.ts";
import { openStore } from "../../src/server/store/index.ts";
import { quietLogger } from "./server.ts";

/** `writeBehind: false`: the client is read locked in each report's transaction (PostgreSQL's way). */
export async function oneClientMonitor({ fastPath = true, writeBehind = true } = {}) {
  const clock = { t: Date.parse("2026-11-26T00:00:00Z") };
  const store = await openStore({ dataDir: ":memory:" });
  const broker = new Broker();
  const cache = new ClientCache(broker);
  await store.clients.create({ id: "c1", name: "one", createdAt: clock.t, secretEnc: "v1:x:y" });
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
  return { clock, store, broker, cache, monitor };
}
