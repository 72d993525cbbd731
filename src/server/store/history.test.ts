/** The store's history, rollups, badges and report runs (what summaries and reports stand on). */
import { expect, test } from "bun:test";
import { openTestStore } from "../../../test/helpers/store.ts";
import { emptyTotals } from "../reports/fold.ts";
import type { ClientRecord, HistoryRow, Store } from "./index.ts";

const row = (at: number, status = "green", causes = ""): HistoryRow => ({
  at,
  status,
  liveness: "online",
  exitIpv4: "198.51.100.7",
  exitIpv6: null,
  resolvers: null,
  causes,
  detail: { exits: [{ ip: "198.51.100.7", country: "BR", asn: 64501, org: "VPN Co" }], resolvers: [] },
});

async function withClients(...ids: string[]): Promise<Store> {
  const store = await openTestStore();
  for (const id of ids) await store.clients.create({ id, name: `n-${id}`, createdAt: 0, secretEnc: "x" });
  return store;
}

test("history keeps causes and the country and AS of the time; a change of causes alone is a new row", async () => {
  const store = await withClients("a");
  expect(await store.history.record("a", row(10))).toBe(true);
  expect(await store.history.record("a", row(20))).toBe(false);
  expect(await store.history.record("a", row(30, "green", "dns:suspect"))).toBe(true);
  const rows = await store.history.range("a", 0, 100);
  expect(rows.map((r) => r.causes)).toEqual(["", "dns:suspect"]);
  expect(rows[0]?.detail?.exits[0]).toEqual({ ip: "198.51.100.7", country: "BR", asn: 64501, org: "VPN Co" });
  await store.close();
});

test("rangeMany: each client's row in force plus its rows in the window, by client then time", async () => {
  const store = await withClients("a", "b", "c");
  await store.history.record("a", row(5));
  await store.history.record("a", row(15, "red"));
  await store.history.record("a", row(25, "green"));
  await store.history.record("b", row(12, "red"));
  await store.history.record("c", row(1, "red"));
  await store.history.record("c", row(3, "green"));
  const all = await store.history.rangeMany(null, 10, 20);
  expect(all.map((r) => [r.clientId, r.at])).toEqual([
    ["a", 5],
    ["a", 15],
    ["b", 12],
    ["c", 3],
  ]);
  const some = await store.history.rangeMany(["b", "c", "nobody"], 10, 20);
  expect(some.map((r) => [r.clientId, r.at])).toEqual([
    ["b", 12],
    ["c", 3],
  ]);
  // a removed client's history is not read for "every client"
  await store.clients.remove("c");
  expect((await store.history.rangeMany(null, 10, 20)).map((r) => r.clientId)).toEqual(["a", "a", "b"]);
  await store.close();
});

test("rollups: latest row at or before a day per client, one client's days, the fleet's days, pruning", async () => {
  const store = await withClients("a", "b");
  const totals = (knownMs: number) => ({ ...emptyTotals(), knownMs, dnsN: 1 });
  const carry = { redSince: 7, open: { dns: 7 }, status: "red" };
  await store.rollups.writeDay(100, [{ clientId: "a", day: 100, running: totals(1), carry }], {
    day: 100,
    clients: 1,
    totals: totals(1),
  });
  await store.rollups.writeDay(
    102,
    [
      { clientId: "a", day: 102, running: totals(3), carry },
      { clientId: "b", day: 102, running: totals(5), carry },
    ],
    { day: 102, clients: 2, totals: totals(8) },
  );
  expect((await store.rollups.latest(101)).map((d) => [d.clientId, d.day, d.running.knownMs])).toEqual([
    ["a", 100, 1],
  ]);
  const at102 = await store.rollups.latest(105, ["b"]);
  expect(at102).toEqual([{ clientId: "b", day: 102, running: totals(5), carry }]);
  expect((await store.rollups.clientDays("a", 0, 200)).map((d) => d.day)).toEqual([100, 102]);
  expect((await store.rollups.fleetDays(101, 102)).map((d) => [d.day, d.clients, d.totals.knownMs])).toEqual([
    [102, 2, 8],
  ]);
  // writing a day again replaces it
  await store.rollups.writeDay(102, [], { day: 102, clients: 0, totals: emptyTotals() });
  expect((await store.rollups.clientDays("a", 0, 200)).map((d) => d.day)).toEqual([100]);
  expect(await store.rollups.prune(101)).toBe(2);
  expect(await store.rollups.clientDays("a", 0, 200)).toEqual([]);
  await store.close();
});

test("badges: found by hash while active, revoked once, gone with their client", async () => {
  const store = await withClients("a");
  const badge = {
    id: "b1",
    clientId: "a",
    kind: "status" as const,
    tokenHash: "h1",
    label: "README",
    createdAt: 1,
    lastUsedAt: null,
    revokedAt: null,
  };
  await store.badges.create(badge);
  expect(await store.badges.findActiveByHash("h1")).toEqual(badge);
  await store.badges.touch("b1", 5);
  expect((await store.badges.list("a"))[0]?.lastUsedAt).toBe(5);
  expect(await store.badges.revoke("b1", 9)).toBe(true);
  expect(await store.badges.revoke("b1", 10)).toBe(false);
  expect(await store.badges.findActiveByHash("h1")).toBeNull();
  await store.clients.remove("a");
  expect(await store.badges.list("a")).toEqual([]);
  await store.close();
});

test("report runs: one claim per schedule and period, whoever asks", async () => {
  const store = await openTestStore();
  const run = {
    schedule: "mon 08:00 UTC",
    periodStart: 0,
    periodEnd: 7,
    status: "sent" as const,
    queued: 2,
    createdAt: 8,
    note: null,
  };
  expect(await store.reportRuns.claim(run)).toBe(true);
  expect(await store.reportRuns.claim({ ...run, queued: 5 })).toBe(false);
  expect(await store.reportRuns.claim({ ...run, periodStart: 7, periodEnd: 14, createdAt: 15 })).toBe(true);
  expect((await store.reportRuns.last("mon 08:00 UTC"))?.periodEnd).toBe(14);
  expect((await store.reportRuns.list(10)).map((r) => r.periodEnd)).toEqual([14, 7]);
  // a claim rolled back with its transaction is forgotten
  await expect(
    store.transaction(async (tx) => {
      await tx.reportRuns.claim({ ...run, periodEnd: 21 });
      throw new Error("boom");
    }),
  ).rejects.toThrow("boom");
  expect(await store.reportRuns.claim({ ...run, periodEnd: 21 })).toBe(true);
  await store.close();
});

test("event search: the reason's text (no wildcards), or the clients and kinds named", async () => {
  const store = await withClients("a", "b");
  const add = (clientId: string, kind: string, reason: string) =>
    store.events.append({
      clientId,
      kind,
      from: null,
      to: null,
      evidence: { reason },
      at: 1,
      suppressed: false,
    });
  await add("a", "dns_leak.started", "DNS leaks: resolver 203.0.113.9 is home");
  await add("b", "client.offline", "No report for 3 min");
  await add("b", "bypass.started", "100% through home");
  const search = (text: string, clientIds: string[] = [], kinds: string[] = []) =>
    store.events.query({ search: { text, clientIds, kinds }, limit: 10 }).then((e) => e.map((x) => x.kind));
  expect(await search("RESOLVER")).toEqual(["dns_leak.started"]);
  expect(await search("%")).toEqual(["bypass.started"]);
  expect(await search("zzz", ["b"])).toEqual(["bypass.started", "client.offline"]);
  expect(await search("zzz", [], ["dns_leak.started"])).toEqual(["dns_leak.started"]);
  await store.close();
});

test("summaries carry causes and since when the status holds; paused and muted clients are found by their settings", async () => {
  const store = await withClients("a");
  const update = (status: string, at: number, causes: string[]) => ({
    state: { status } as never,
    lastReport: {} as never,
    exit: null,
    lastSourceIp: null,
    lastReportAt: at,
    lastObservedAt: at,
    status,
    liveness: "online",
    lateAt: null,
    offlineAt: null,
    nextCheckAt: null,
    causes,
  });
  await store.clients.applyReport("a", update("red", 100, ["bypass:leak"]));
  await store.clients.applyReport("a", update("red", 200, ["bypass:leak", "dns:leak"]));
  const { settings } = (await store.clients.get("a")) as ClientRecord;
  await store.clients.updateSettings("a", { ...settings, paused: true, muted_until: 999 });
  let [s] = await store.clients.summaries();
  expect(s).toMatchObject({ statusSince: 100, causes: ["bypass:leak", "dns:leak"] });
  expect(await store.clients.withFlag("paused", 0)).toEqual(["a"]);
  expect(await store.clients.withFlag("muted", 998)).toEqual(["a"]);
  expect(await store.clients.withFlag("muted", 999)).toEqual([]);
  await store.clients.updateSettings("a", { ...settings, paused: false, muted_until: null });
  expect(await store.clients.withFlag("paused", 0)).toEqual([]);
  expect(await store.clients.withFlag("muted", 0)).toEqual([]);
  const won = await store.clients.casState(
    "a",
    { liveness: "online", lastReportAt: 200 },
    {
      state: null,
      status: "green",
      liveness: "online",
      lateAt: null,
      offlineAt: null,
      nextCheckAt: null,
      causes: [],
      at: 300,
    },
  );
  expect(won).toBe(true);
  [s] = await store.clients.summaries();
  expect(s).toMatchObject({ status: "green", statusSince: 300, causes: [] });
  expect(await store.clients.get("a")).toMatchObject({ statusSince: 300 });
  await store.close();
});
