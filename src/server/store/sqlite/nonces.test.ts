import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { openStore } from "../index.ts";
import { ExpiringHashSet } from "./nonces.ts";

const T = Date.parse("2026-11-26T00:00:00Z");
const EXP = T + 600_000;

const memory = () => openStore({ dataDir: ":memory:" });

test("a nonce is refused the second time, for that client only", async () => {
  const store = await memory();
  expect(await store.nonces.use("c1", "nonce-aaaaaaaaaaaa", EXP, T)).toBe(true);
  expect(await store.nonces.use("c1", "nonce-aaaaaaaaaaaa", EXP, T)).toBe(false);
  expect(await store.nonces.use("c2", "nonce-aaaaaaaaaaaa", EXP, T)).toBe(true);
});

test("what a committed transaction used is remembered after a restart; what rolled back is not", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sentinel-nonces-"));
  const before = await openStore({ dataDir: dir });
  await before.transaction(async (tx) => {
    for (let i = 0; i < 1000; i++) await tx.nonces.use("c1", `committed-${i}`, EXP, T);
  });
  await expect(
    before.transaction(async (tx) => {
      await tx.nonces.use("c1", "rolled-back", EXP, T);
      throw new Error("the report could not be stored");
    }),
  ).rejects.toThrow("could not be stored");
  // in this process too, the rolled-back nonce is free again
  expect(await before.nonces.use("c1", "rolled-back-2", EXP, T)).toBe(true);
  await before.close();

  const after = await openStore({ dataDir: dir });
  expect(await after.nonces.use("c1", "committed-0", EXP, T)).toBe(false);
  expect(await after.nonces.use("c1", "committed-999", EXP, T)).toBe(false);
  expect(await after.nonces.use("c1", "rolled-back", EXP, T)).toBe(true);
  expect(await after.nonces.use("c1", "rolled-back-2", EXP, T)).toBe(false); // used on the store: committed at once
  await after.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a nonce used inside a savepoint that rolls back is forgotten; the outer transaction's are kept", async () => {
  const store = await memory();
  await store.transaction(async (tx) => {
    await tx.nonces.use("c1", "outer", EXP, T);
    await expect(
      tx.transaction(async (inner) => {
        await inner.nonces.use("c1", "inner", EXP, T);
        throw new Error("inner failed");
      }),
    ).rejects.toThrow("inner failed");
  });
  expect(await store.nonces.use("c1", "outer", EXP, T)).toBe(false);
  expect(await store.nonces.use("c1", "inner", EXP, T)).toBe(true);
});

test("expired nonces leave memory and the log; live ones stay", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sentinel-nonces-"));
  const store = await openStore({ dataDir: dir });
  await store.transaction(async (tx) => {
    await tx.nonces.use("c1", "short", T + 1_000, T);
  });
  await store.transaction(async (tx) => {
    await tx.nonces.use("c1", "long", T + 600_000, T);
  });
  expect(await store.nonces.prune(T + 10_000)).toBe(1);
  await store.close();
  const reloaded = await openStore({ dataDir: dir });
  expect(await reloaded.nonces.use("c1", "long", T + 600_000, T + 10_000)).toBe(false);
  expect(await reloaded.nonces.use("c1", "short", T + 600_000, T + 10_000)).toBe(true);
  await reloaded.close();
  rmSync(dir, { recursive: true, force: true });
});

test("the hash set agrees with a Map through growth, deletes and prunes", async () => {
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

test("pruning a steady population reuses its table instead of allocating one per prune", () => {
  // 10,000 clients every 30 s: ~1,667 new nonces per 5-second prune, each kept 5 minutes
  const set = new ExpiringHashSet();
  let n = 0;
  for (let prune = 0; prune < 600; prune++) {
    const now = T + prune * 5_000;
    for (let i = 0; i < 1_667; i++) set.add(++n * 7_919, now + 300_000);
    set.prune(now);
  }
  expect(set.size).toBeGreaterThan(95_000);
  expect(set.size).toBeLessThan(105_000);
  // growing to 100,000 takes a few tables; 50 minutes of steady state a table per fill-up, not
  // 600 (one per prune)
  expect(set.rebuilds).toBeLessThan(20);
  for (let h = n - 1_000; h <= n; h++) expect(set.has(h * 7_919)).toBe(true);
  expect(set.has(7_919)).toBe(false); // expired long ago
});

test("after a burst has expired, pruning gives the table's memory back", () => {
  const set = new ExpiringHashSet();
  for (let i = 1; i <= 200_000; i++) set.add(i, T + 1_000);
  set.add(999_999_999, T + 600_000);
  const before = set.rebuilds;
  set.prune(T + 60_000);
  expect(set.size).toBe(1);
  expect(set.rebuilds).toBe(before + 1);
  expect(set.has(999_999_999)).toBe(true);
});
