import { expect, test } from "bun:test";
import { createConsola } from "consola";
import { createKeyring } from "../../auth/keyring.ts";
import { Broker } from "../../broker.ts";
import { ClientMonitor } from "../../monitor/service.ts";
import { HOME, testGeo, VPN_EXIT } from "../../monitor/testing.ts";
import { type ClientRepository, openStore, type Store } from "../../store/index.ts";
import { ClientCache } from "../reports/client-cache.ts";
import { LegacyKeepaliveIngest } from "./service.ts";

/**
 * The store, with every client read and write counted, on the store itself and inside its
 * transactions (one transaction per keepalive here: the group commit is taken away so that
 * every transaction goes through the counting wrapper).
 */
async function countingStore(): Promise<{ store: Store; calls: Map<string, number> }> {
  const real = await openStore({ dataDir: ":memory:" });
  const calls = new Map<string, number>();
  const counted = (clients: ClientRepository) =>
    new Proxy(clients, {
      get(target, key) {
        const value = Reflect.get(target, key);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          calls.set(String(key), (calls.get(String(key)) ?? 0) + 1);
          return value.apply(target, args);
        };
      },
    });
  const store: Store = Object.assign(Object.create(real), {
    clients: counted(real.clients),
    sqlite: undefined,
    transaction: <T>(fn: Parameters<Store["transaction"]>[0]) =>
      real.transaction((tx) =>
        fn(Object.assign(Object.create(tx), { clients: counted(tx.clients) })),
      ) as Promise<T>,
  });
  return { store, calls };
}

test("an unchanged keepalive costs no database read or write: the name resolves in memory, the monitor's shortcut stores nothing", async () => {
  const { store, calls } = await countingStore();
  const broker = new Broker();
  const clock = { t: Date.parse("2026-11-30T10:00:00Z") };
  // one cache for the report path, as the server wires it (src/server/main.ts)
  const cache = new ClientCache(broker);
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
    accept: (r, tx) => monitor.acceptReport(r, tx),
    failures: { ratePerS: 5, burst: 50 },
  });
  const keepalive = JSON.stringify({ client_id: "old-router", public_ip: VPN_EXIT });
  // first contact creates the client and judges the keepalive in full
  await ingest.accept(keepalive, "192.0.2.9");
  clock.t += 60_000;
  calls.clear();
  for (let i = 0; i < 5; i++) {
    await ingest.accept(keepalive, "192.0.2.9");
    clock.t += 60_000;
  }
  expect(Object.fromEntries(calls)).toEqual({});
  // the heartbeats reach the database with the monitor's next write, all at once
  await monitor.writeHeartbeats();
  expect(Object.fromEntries(calls)).toEqual({ heartbeat: 1 });
  expect((await store.clients.getByName("old-router"))?.lastReportAt).toBe(clock.t - 60_000);
});
