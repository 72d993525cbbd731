import { expect, test } from "bun:test";
import { openStore, type Store, type Transaction } from "../index.ts";
import { SqliteGroupCommit } from "./group-commit.ts";

// A commit that fails (a read-only or full disk) is proven end to end in test/backup-storage.test.ts.

const groupOf = (store: Store) => {
  if (!store.sqlite) throw new Error("SQLite only");
  return store.sqlite.groupCommit;
};

/** A write that says whether the key was new, as a nonce check does. */
const claim = async (tx: Pick<Transaction, "meta">, key: string) => {
  if ((await tx.meta.get(key)) !== null) return false;
  await tx.meta.set(key, "1");
  return true;
};

test("writes in one event-loop turn share one commit; each gets its own result", async () => {
  const store = await openStore({ dataDir: ":memory:" });
  const group = groupOf(store);
  let commits = 0;
  const unit = (key: string) =>
    group.run(async (tx) => {
      tx.afterCommit(() => commits++);
      return claim(tx, key);
    });
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => unit(`nonce-${i}`)));
  expect(results.every(Boolean)).toBe(true);
  expect(commits).toBe(50); // every unit's afterCommit ran, after the one commit
  // the same key twice in one batch: the second sees the first (same transaction)
  const [a, b] = await Promise.all([unit("dup"), unit("dup")]);
  expect([a, b]).toEqual([true, false]);
});

test("a unit that throws inside its own savepoint rolls back alone; the others commit", async () => {
  const store = await openStore({ dataDir: ":memory:" });
  const group = groupOf(store);
  const ok = group.run((tx) => claim(tx, "kept"));
  const bad = group.run((tx) =>
    tx.transaction(async (inner) => {
      await claim(inner, "rolled-back");
      throw new Error("boom");
    }),
  );
  expect(await ok).toBe(true);
  await expect(bad).rejects.toThrow("boom");
  expect(await claim(store, "kept")).toBe(false);
  expect(await claim(store, "rolled-back")).toBe(true);
});

test("a failed unit's nonces and afterCommit callbacks are forgotten; the others' are kept", async () => {
  const store = await openStore({ dataDir: ":memory:" });
  const group = groupOf(store);
  const announced: string[] = [];
  const unit = (nonce: string, fail: boolean) =>
    group.run(async (tx) => {
      await tx.nonces.use("c1", nonce, Date.now() + 60_000, Date.now());
      tx.afterCommit(() => announced.push(nonce));
      if (fail) throw new Error(`${nonce} failed`);
      return nonce;
    });
  const results = await Promise.allSettled([unit("a", false), unit("b", true), unit("c", false)]);
  expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
  expect(announced).toEqual(["a", "c"]);
  expect(await store.nonces.use("c1", "b", Date.now() + 60_000, Date.now())).toBe(true);
  expect(await store.nonces.use("c1", "a", Date.now() + 60_000, Date.now())).toBe(false);
});

test("reports that arrive while a group's fsync runs wait for it and then share one commit", async () => {
  const store = await openStore({ dataDir: ":memory:" });
  let commits = 0;
  let releaseFirstSync = () => {};
  // a commit whose fsync (the first one) takes until the test says so
  const transaction = async <T>(fn: (tx: Transaction) => Promise<T>): Promise<T> => {
    const result = await store.transaction(fn);
    if (++commits === 1) await new Promise<void>((resolve) => (releaseFirstSync = resolve));
    return result;
  };
  const group = new SqliteGroupCommit(transaction, {
    mark: () => ({ nonces: 0, callbacks: 0 }),
    rollbackTo() {},
  });
  const first = group.run((tx) => claim(tx, "first"));
  while (commits === 0) await Bun.sleep(1);
  const later: Promise<boolean>[] = [];
  for (const key of ["a", "b", "c"]) {
    later.push(group.run((tx) => claim(tx, key)));
    await Bun.sleep(2); // separate event-loop turns: each would have been its own group
  }
  expect(commits).toBe(1);
  releaseFirstSync();
  expect(await first).toBe(true);
  expect(await Promise.all(later)).toEqual([true, true, true]);
  expect(commits).toBe(2);
});
