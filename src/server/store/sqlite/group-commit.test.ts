import { expect, test } from "bun:test";
import { openStore } from "./store/index.ts";
import { WriteBatcher } from "./write-batcher.ts";

const setup = () => {
  const store = openStore(":memory:");
  let commits = 0;
  const transaction = store.transaction.bind(store);
  let depth = 0;
  // count outermost transactions only: savepoints inside do not commit
  (store as { transaction: typeof store.transaction }).transaction = (fn) =>
    transaction(() => {
      depth++;
      try {
        return fn();
      } finally {
        depth--;
        if (depth === 0) commits++;
      }
    });
  return { store, commits: () => commits };
};

/** A write that says whether the key was new, as a nonce check does. */
const claim = (store: ReturnType<typeof openStore>, key: string) => {
  if (store.meta.get(key) !== null) return false;
  store.meta.set(key, "1");
  return true;
};

test("writes in one event-loop turn share one commit; each gets its own result", async () => {
  const { store, commits } = setup();
  const batcher = new WriteBatcher(store);
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) => batcher.run(() => claim(store, `nonce-${i}`))),
  );
  expect(results.every(Boolean)).toBe(true);
  expect(commits()).toBe(1);
  // the same key twice in one batch: the second sees the first (same transaction)
  const [a, b] = await Promise.all([
    batcher.run(() => claim(store, "dup")),
    batcher.run(() => claim(store, "dup")),
  ]);
  expect([a, b]).toEqual([true, false]);
});

test("a unit that throws inside its own transaction rolls back alone; the others commit", async () => {
  const { store } = setup();
  const batcher = new WriteBatcher(store);
  const ok = batcher.run(() => claim(store, "kept"));
  const bad = batcher.run(() =>
    store.transaction(() => {
      claim(store, "rolled-back");
      throw new Error("boom");
    }),
  );
  expect(await ok).toBe(true);
  expect(bad).rejects.toThrow("boom");
  await Bun.sleep(0);
  expect(claim(store, "kept")).toBe(false);
  expect(claim(store, "rolled-back")).toBe(true);
});

test("a failed commit rejects every unit and tells the owner", async () => {
  const store = openStore(":memory:");
  const failures: unknown[] = [];
  const broken = {
    ...store,
    transaction: () => {
      throw Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR" });
    },
  };
  const batcher = new WriteBatcher(broken as typeof store, (e) => failures.push(e));
  const all = await Promise.allSettled([batcher.run(() => 1), batcher.run(() => 2)]);
  expect(all.map((r) => r.status)).toEqual(["rejected", "rejected"]);
  expect(failures).toHaveLength(1);
});
