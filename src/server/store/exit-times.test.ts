import { expect, test } from "bun:test";
import { openTestStore } from "../../../test/helpers/store.ts";
import type { HistoryRow } from "./index.ts";

const H = 3_600_000;
const T = Date.parse("2026-11-26T00:00:00Z");

const row = (
  at: number,
  exitIpv4: string | null,
  liveness = "online",
  exitIpv6: string | null = null,
): HistoryRow => ({
  at,
  status: "green",
  liveness,
  exitIpv4,
  exitIpv6,
  resolvers: null,
});

test("exitTimes sums each exit's stretches inside the window, from the row that opened it, while reporting", async () => {
  const store = await openTestStore();
  await store.clients.create({ id: "c1", name: "pi", createdAt: T, secretEnc: "v1:x:y" });
  await store.clients.create({ id: "c2", name: "other", createdAt: T, secretEnc: "v1:x:y" });
  for (const r of [
    row(T - 10 * H, "198.51.100.1"), // before the window: only its part inside counts
    row(T + 2 * H, "198.51.100.2"),
    row(T + 3 * H, "198.51.100.2", "offline"), // silent: says nothing about the exit
    row(T + 5 * H, "198.51.100.1"),
    row(T + 6 * H, null, "online", "2001:db8::1"), // no IPv4 exit: the IPv6 one
    row(T + 7 * H, "198.51.100.1", "late"),
  ])
    await store.history.record("c1", r);
  await store.history.record("c2", row(T, "192.0.2.99"));

  // window [T, T + 8 h]
  expect(await store.history.exitTimes("c1", T, T + 8 * H)).toEqual([
    { ip: "198.51.100.1", ms: 2 * H + H + H }, // T..T+2h, T+5h..T+6h, T+7h..T+8h
    { ip: "198.51.100.2", ms: H },
    { ip: "2001:db8::1", ms: H },
  ]);
  // a window inside one stretch
  expect(await store.history.exitTimes("c1", T + 30 * 60_000, T + 90 * 60_000)).toEqual([
    { ip: "198.51.100.1", ms: H },
  ]);
  // nothing before the client's first row counts
  expect(await store.history.exitTimes("c1", T - 20 * H, T - 10 * H)).toEqual([]);
  expect(await store.history.exitTimes("nobody", T, T + H)).toEqual([]);
  await store.close();
});

test("rows at the same time before the window open it once", async () => {
  const store = await openTestStore();
  await store.clients.create({ id: "c1", name: "pi", createdAt: T, secretEnc: "v1:x:y" });
  await store.history.record("c1", row(T - H, "198.51.100.1"));
  await store.history.record("c1", row(T - H, "198.51.100.2"));
  expect(await store.history.exitTimes("c1", T, T + H)).toEqual([{ ip: "198.51.100.2", ms: H }]);
  await store.close();
});
