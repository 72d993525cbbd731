import { expect, test } from "bun:test";
import fc from "fast-check";
import { openStore } from "../../store/index.ts";
import { ExpiringHashSet, ReplayGuard } from "./replay-guard.ts";

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

test("the hash set agrees with a Map through growth, deletes and prunes", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({
            op: fc.constant("add" as const),
            h: fc.integer({ min: 0, max: 5000 }),
            ttl: fc.nat(100),
          }),
          fc.record({ op: fc.constant("delete" as const), h: fc.integer({ min: 0, max: 5000 }) }),
          fc.record({ op: fc.constant("prune" as const), at: fc.nat(100) }),
        ),
        { maxLength: 3000 },
      ),
      (ops) => {
        const set = new ExpiringHashSet();
        const model = new Map<number, number>();
        for (const o of ops) {
          if (o.op === "add") {
            const hash = o.h * 2 ** 40 + o.h; // large keys, like 53-bit hashes
            if (model.has(hash)) continue; // the guard never adds a hash it has
            set.add(hash, T + o.ttl * 1000);
            model.set(hash, T + o.ttl * 1000);
          } else if (o.op === "delete") {
            const hash = o.h * 2 ** 40 + o.h;
            set.delete(hash);
            model.delete(hash);
          } else {
            set.prune(T + o.at * 1000);
            for (const [h, e] of model) if (e < T + o.at * 1000) model.delete(h);
          }
        }
        expect(set.size).toBe(model.size);
        for (let h = 0; h <= 5000; h++) expect(set.has(h * 2 ** 40 + h)).toBe(model.has(h * 2 ** 40 + h));
      },
    ),
    { numRuns: 40 },
  );
});
