import { expect, test } from "bun:test";
import { createConsola } from "consola";
import { createKeyring } from "../../auth/keyring.ts";
import { RateLimiter } from "../../auth/rate-limit.ts";
import { Broker } from "../../broker.ts";
import { ClientCache } from "../../client-cache.ts";
import { ClientMonitor } from "../../monitor/service.ts";
import { HOME, testGeo, VPN_EXIT } from "../../monitor/testing.ts";
import { openStore, type Store } from "../../store/index.ts";
import { LegacyKeepaliveIngest } from "./service.ts";

/** The store, with every client read and write counted. */
function countingStore(): { store: Store; calls: Map<string, number> } {
  const store = openStore(":memory:");
  const calls = new Map<string, number>();
  const clients = new Proxy(store.clients, {
    get(target, key) {
      const value = Reflect.get(target, key);
      if (typeof value !== "function" || key === "externalChangeCounter") return value;
      return (...args: unknown[]) => {
        calls.set(String(key), (calls.get(String(key)) ?? 0) + 1);
        return value.apply(target, args);
      };
    },
  });
  return { store: Object.assign(Object.create(store), { clients }) as Store, calls };
}

test("an unchanged keepalive costs no database read or write: the name resolves in memory, the monitor's shortcut stores nothing", () => {
  const { store, calls } = countingStore();
  const broker = new Broker();
  const clock = { t: Date.parse("2026-11-30T10:00:00Z") };
  // one cache for the report path, as the server wires it (src/server/main.ts)
  const cache = new ClientCache(store, broker);
  const monitor = new ClientMonitor({
    store,
    now: () => clock.t,
    logger: createConsola({ level: -999 }),
    geo: testGeo,
    broker,
    home: () => HOME,
    cache,
  });
  const ingest = new LegacyKeepaliveIngest({
    apiKey: "k",
    intervalS: 300,
    store,
    keyring: createKeyring([Buffer.alloc(32, 7)]),
    clients: cache,
    now: () => clock.t,
    accept: (client, report, sourceIp) => monitor.acceptServerBuiltReport(client, report, sourceIp),
    failureLimiter: new RateLimiter(5, 50, () => clock.t),
  });
  const keepalive = JSON.stringify({ client_id: "old-router", public_ip: VPN_EXIT });
  // first contact creates the client and judges the keepalive in full
  ingest.accept(keepalive, "192.0.2.9");
  clock.t += 60_000;
  calls.clear();
  for (let i = 0; i < 5; i++) {
    ingest.accept(keepalive, "192.0.2.9");
    clock.t += 60_000;
  }
  expect(Object.fromEntries(calls)).toEqual({});
  // the heartbeats reach the database with the monitor's next write, all at once
  monitor.writeHeartbeats();
  expect(Object.fromEntries(calls)).toEqual({ heartbeat: 1 });
  expect(store.clients.getByName("old-router")?.lastReportAt).toBe(clock.t - 60_000);
});
