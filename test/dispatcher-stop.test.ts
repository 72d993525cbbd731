/** stop() ends the dispatcher's loop at once, also when it comes while a round waits on the database. */
import { expect, test } from "bun:test";
import { fixedChannels } from "../src/server/notify/channel.ts";
import { OutboxDispatcher } from "../src/server/notify/dispatcher.ts";
import { openStore, type Store } from "../src/server/store/index.ts";
import { quietLogger } from "./helpers/server.ts";

test("stop() during a slow database round does not wait for the idle sleep", async () => {
  const store = await openStore({ dataDir: ":memory:" });
  // a database that takes 100 ms per outbox read, as a remote PostgreSQL under load may
  const slowOutbox = new Proxy(store.outbox, {
    get: (target, name) => {
      const v = Reflect.get(target, name);
      return typeof v === "function"
        ? async (...args: unknown[]) => {
            await Bun.sleep(100);
            return v.apply(target, args);
          }
        : v;
    },
  });
  const slow = new Proxy(store, {
    get: (t, n) => (n === "outbox" ? slowOutbox : Reflect.get(t, n)),
  }) as Store;
  const d = new OutboxDispatcher({
    store: slow,
    channels: fixedChannels([]),
    now: Date.now,
    logger: quietLogger(),
    idleMs: 30_000,
  });
  d.start();
  await Bun.sleep(20); // inside the first round's database read
  const started = Date.now();
  await d.stop();
  expect(Date.now() - started).toBeLessThan(1_000);
  await store.close();
});
