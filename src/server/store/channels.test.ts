/** The store's alert channels (added on the dashboard): what every engine must give. */
import { expect, test } from "bun:test";
import { openTestStore } from "../../../test/helpers/store.ts";
import type { StoredChannel } from "./index.ts";

const channel = (id: string, at: number): StoredChannel => ({
  id,
  urlSealed: `v1:k1:${id}-sealed`,
  display: `ntfys://ntfy.sh/${id}`,
  createdAt: at,
  updatedAt: at,
});

test("create, list oldest first, get, update, remove, re-seal; in transactions too", async () => {
  const store = await openTestStore();
  await store.channels.create(channel("ch_b", 2));
  await store.channels.create(channel("ch_a", 1));
  await store.channels.create(channel("ch_c", 2));
  expect((await store.channels.list()).map((c) => c.id)).toEqual(["ch_a", "ch_b", "ch_c"]);
  expect(await store.channels.get("ch_b")).toEqual(channel("ch_b", 2));
  expect(await store.channels.get("ch_x")).toBeNull();

  const change = { urlSealed: "v1:k1:new", display: "ntfys://ntfy.sh/new", updatedAt: 9 };
  expect(await store.channels.update("ch_b", change)).toBe(true);
  expect(await store.channels.update("ch_x", change)).toBe(false);
  expect(await store.channels.get("ch_b")).toEqual({ ...channel("ch_b", 2), ...change });

  expect(await store.channels.reencrypt((s) => s.replace("v1:k1:", "v1:k2:"))).toBe(3);
  expect((await store.channels.list()).map((c) => c.urlSealed)).toEqual([
    "v1:k2:ch_a-sealed",
    "v1:k2:new",
    "v1:k2:ch_c-sealed",
  ]);

  // a change that rolls back leaves nothing behind
  await expect(
    store.transaction(async (tx) => {
      await tx.channels.remove("ch_a");
      await tx.channels.create(channel("ch_d", 3));
      throw new Error("no");
    }),
  ).rejects.toThrow("no");
  expect((await store.channels.list()).map((c) => c.id)).toEqual(["ch_a", "ch_b", "ch_c"]);
  expect(await store.transaction((tx) => tx.channels.remove("ch_a"))).toBe(true);
  expect(await store.channels.remove("ch_a")).toBe(false);
  expect((await store.channels.list()).map((c) => c.id)).toEqual(["ch_b", "ch_c"]);
  await store.close();
});
