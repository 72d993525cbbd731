import { expect, test } from "bun:test";
import { openStore } from "../../store/index.ts";
import { ReplayGuard } from "./replay-guard.ts";

const T = Date.parse("2026-11-26T00:00:00Z");

test("a nonce is refused the second time, for that client only", () => {
  const guard = new ReplayGuard(openStore(":memory:").nonces);
  expect(guard.use("c1", "nonce-aaaaaaaaaaaa", T + 600_000, T)).toBe(true);
  expect(guard.use("c1", "nonce-aaaaaaaaaaaa", T + 600_000, T)).toBe(false);
  expect(guard.use("c2", "nonce-aaaaaaaaaaaa", T + 600_000, T)).toBe(true);
});

test("what was persisted is remembered by a new guard (a restart); what was not, is not", () => {
  const store = openStore(":memory:");
  const before = new ReplayGuard(store.nonces);
  store.transaction(() => {
    for (let i = 0; i < 1000; i++) before.use("c1", `persisted-${i}`, T + 600_000, T);
    before.persist();
  });
  before.use("c1", "never-persisted", T + 600_000, T);
  const after = new ReplayGuard(store.nonces);
  after.load(T);
  expect(after.size).toBe(1000);
  expect(after.use("c1", "persisted-0", T + 600_000, T)).toBe(false);
  expect(after.use("c1", "persisted-999", T + 600_000, T)).toBe(false);
  expect(after.use("c1", "never-persisted", T + 600_000, T)).toBe(true);
});

test("a forgotten nonce (its write failed) can be used again and is not persisted", () => {
  const store = openStore(":memory:");
  const guard = new ReplayGuard(store.nonces);
  guard.use("c1", "failed-write", T + 600_000, T);
  guard.forget("c1", "failed-write");
  store.transaction(() => guard.persist());
  expect(store.nonces.live(T)).toEqual([]);
  expect(guard.use("c1", "failed-write", T + 600_000, T)).toBe(true);
});

test("expired nonces leave memory and the log; live ones stay", () => {
  const store = openStore(":memory:");
  const guard = new ReplayGuard(store.nonces);
  store.transaction(() => {
    guard.use("c1", "short", T + 1_000, T);
    guard.persist();
  });
  store.transaction(() => {
    guard.use("c1", "long", T + 600_000, T);
    guard.persist();
  });
  expect(store.nonces.prune(T + 10_000)).toBe(1);
  guard.use("c1", "trigger-prune", T + 600_000, T + 10_000);
  expect(guard.size).toBe(2); // "long" and the new one
  const reloaded = new ReplayGuard(store.nonces);
  reloaded.load(T + 10_000);
  expect(reloaded.use("c1", "long", T + 600_000, T + 10_000)).toBe(false);
  expect(reloaded.use("c1", "short", T + 600_000, T + 10_000)).toBe(true);
});
