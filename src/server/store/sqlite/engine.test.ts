/** The SQLite engine's connection discipline: transactions across awaits on one connection. */
import { expect, test } from "bun:test";
import { openStore } from "../index.ts";
import { TransactionMisuse } from "./engine.ts";

const memory = () => openStore({ dataDir: ":memory:" });

test("transactions that await in the middle never interleave: a read-modify-write counter stays exact", async () => {
  const store = await memory();
  await store.meta.set("n", "0");
  const bump = () =>
    store.transaction(async (tx) => {
      const n = Number(await tx.meta.get("n"));
      await Bun.sleep(0); // another transaction would slip in here without the mutex
      await tx.meta.set("n", String(n + 1));
    });
  await Promise.all(Array.from({ length: 50 }, bump));
  expect(await store.meta.get("n")).toBe("50");
});

test("the store's own repositories wait for an open transaction and see only what it committed", async () => {
  const store = await memory();
  await store.meta.set("k", "before");
  let release!: () => void;
  const held = new Promise<void>((r) => {
    release = r;
  });
  const tx = store.transaction(async (t) => {
    await t.meta.set("k", "during");
    await held;
  });
  const read = store.meta.get("k");
  let readDone = false;
  void read.then(() => {
    readDone = true;
  });
  await Bun.sleep(10);
  expect(readDone).toBe(false); // waits: the uncommitted "during" is not visible
  release();
  await tx;
  expect(await read).toBe("during");
});

test("using the store instead of tx inside a transaction is refused at once, not a deadlock", async () => {
  const store = await memory();
  await expect(
    store.transaction(async () => {
      await store.meta.get("k");
    }),
  ).rejects.toBeInstanceOf(TransactionMisuse);
  await expect(store.transaction(() => store.transaction(async () => 1))).rejects.toBeInstanceOf(
    TransactionMisuse,
  );
  // and the store still works afterwards
  await store.meta.set("k", "v");
  expect(await store.meta.get("k")).toBe("v");
});

test("a transaction's repositories are refused after it ended", async () => {
  const store = await memory();
  let leaked: Parameters<Parameters<typeof store.transaction>[0]>[0] | undefined;
  await store.transaction(async (tx) => {
    leaked = tx;
  });
  await expect((leaked as NonNullable<typeof leaked>).meta.get("k")).rejects.toBeInstanceOf(
    TransactionMisuse,
  );
});

test("afterCommit runs after the commit, in order; never for a rollback or a rolled-back savepoint", async () => {
  const store = await memory();
  const ran: string[] = [];
  await store.transaction(async (tx) => {
    tx.afterCommit(() => ran.push("a"));
    await tx
      .transaction(async (inner) => {
        inner.afterCommit(() => ran.push("rolled back"));
        throw new Error("inner");
      })
      .catch(() => {});
    tx.afterCommit(() => ran.push("b"));
    expect(ran).toEqual([]); // nothing before the commit
  });
  expect(ran).toEqual(["a", "b"]);
  await store
    .transaction(async (tx) => {
      tx.afterCommit(() => ran.push("never"));
      throw new Error("outer");
    })
    .catch(() => {});
  expect(ran).toEqual(["a", "b"]);
});

test("a savepoint that fails rolls back only its own writes", async () => {
  const store = await memory();
  await store.transaction(async (tx) => {
    await tx.meta.set("outer", "1");
    await tx
      .transaction(async (inner) => {
        await inner.meta.set("inner", "1");
        throw new Error("inner");
      })
      .catch(() => {});
  });
  expect(await store.meta.get("outer")).toBe("1");
  expect(await store.meta.get("inner")).toBeNull();
});

test("a rolled-back transaction tells the caches (store.external) to drop what they hold", async () => {
  const store = await memory();
  const seen: string[] = [];
  const stop = store.changes.subscribe((topic) => seen.push(topic));
  await store
    .transaction(async (tx) => {
      await tx.meta.set("k", "v");
      throw new Error("rolled back");
    })
    .catch(() => {});
  stop();
  expect(seen).toEqual(["store.external"]);
});
