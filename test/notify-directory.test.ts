/**
 * The channel directory: channels stored in the database take effect in the running server
 * without a restart, however the change arrives (another process writing the SQLite file, or
 * "channels.changed" on the broker); an edit that fixes a stopped channel sends what waited at
 * once; a URL this server cannot open is shown with why; a channel with a connection of its own
 * (MQTT, a real Mosquitto) connects when added and disconnects when deleted. Real temp SQLite
 * files and local fake services.
 */
import { afterEach, expect, test } from "bun:test";
import { resolveOptions } from "../src/config/options.ts";
import { createKeyring, type Keyring, loadKeyring } from "../src/server/auth/keyring.ts";
import { Broker } from "../src/server/broker.ts";
import { createNotifications, notifySpecs } from "../src/server/notify/index.ts";
import type { Store } from "../src/server/store/index.ts";
import { recorder, startMosquitto } from "./fakes/mosquitto.ts";
import { fakeNtfy } from "./fakes/notify-services.ts";
import { openServerStore, quietLogger, tempDir } from "./helpers/server.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function running() {
  const dir = tempDir();
  const store = await openServerStore(dir.path);
  const keyring = loadKeyring(dir.path);
  const broker = new Broker(store.changes);
  // PostgreSQL: what another process announces before our LISTEN is acknowledged never arrives
  await (store.changes as { ready?: () => Promise<void> }).ready?.();
  const { options } = resolveOptions(notifySpecs, { argv: [], env: {} });
  const n = createNotifications({
    store,
    broker,
    now: Date.now,
    logger: quietLogger(),
    options: { ...options, digestThreshold: 0 },
    keyring,
    testing: { requestTimeoutMs: 2_000 },
  });
  await n.load();
  await n.start();
  cleanups.push(async () => {
    await n.stop();
    n.close();
    broker.close();
    await store.close();
    dir.remove();
  });
  await store.clients.create({ id: "c1", name: "laptop", createdAt: Date.now(), secretEnc: "x" });
  const flip = (kind = "bypass.started") =>
    store.transaction(async (tx) => {
      const e = {
        clientId: "c1",
        kind,
        from: null,
        to: null,
        evidence: {},
        at: Date.now(),
        suppressed: false,
      };
      return n.notifier.enqueue(tx, [{ ...e, id: await tx.events.append(e) }], { now: Date.now() });
    });
  return { dir: dir.path, store, keyring, broker, n, flip };
}

const row = (id: string, keyring: Keyring, url: string, display: string) => ({
  id,
  urlSealed: keyring.encrypt(url),
  display,
  createdAt: Date.now(),
  updatedAt: Date.now(),
});

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 5_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

test("a channel another process stores is in effect without a restart, and its alerts go out", async () => {
  const ntfy = fakeNtfy();
  cleanups.push(() => ntfy.stop());
  const r = await running();
  // another process (the CLI, an import, another replica) writes; nothing is published on our
  // broker, only on the store's change feed (SQLite's carries nothing: the file's change is seen)
  const other = await openServerStore(r.dir);
  await other.channels.create(
    row("ch_1", r.keyring, `ntfy://${ntfy.host}/alerts`, `ntfy://${ntfy.host}/alerts`),
  );
  other.changes.publish("channels.changed", { id: "ch_1" });
  await other.close();
  await until("the directory to load it", () =>
    r.n.directory.list().some((c) => c.name === `ntfy://${ntfy.host}/alerts`),
  );
  expect(await r.flip()).toBe(1);
  await ntfy.waitFor(() => ntfy.delivered().length === 1);
  expect(ntfy.delivered()[0]?.body).toMatchObject({ title: "🔴 laptop traffic bypasses the VPN" });
});

test("an edit that fixes a stopped channel sends what waited at once (the dispatcher is woken)", async () => {
  const ntfy = fakeNtfy({ auth: "Bearer tk_right" });
  cleanups.push(() => ntfy.stop());
  const r = await running();
  const name = `ntfy://${ntfy.host}/alerts?token=***`;
  const publish = (tx: Parameters<Parameters<Store["transaction"]>[0]>[0], id: string) =>
    tx.afterCommit(() => r.broker.publish("channels.changed", { id }));
  await r.store.transaction(async (tx) => {
    await tx.channels.create(row("ch_1", r.keyring, `ntfy://${ntfy.host}/alerts?token=tk_wrong`, name));
    publish(tx, "ch_1");
  });
  await until("the directory to load it", () => r.n.directory.list().some((c) => c.name === name));
  await r.flip();
  await ntfy.waitFor(() => ntfy.requests.length === 1);
  await until("the channel to stop", async () =>
    (await r.n.channelStatus()).channels.some((c) => c.problems.some((p) => p.includes("stopped, ntfy 403"))),
  );
  // nothing else runs: the dispatcher sleeps its idle 30 s unless the fix wakes it
  const fixedAt = Date.now();
  await r.store.transaction(async (tx) => {
    await tx.channels.update("ch_1", {
      urlSealed: r.keyring.encrypt(`ntfy://${ntfy.host}/alerts?token=tk_right`),
      display: name,
      updatedAt: Date.now(),
    });
    publish(tx, "ch_1");
  });
  await ntfy.waitFor(() => ntfy.delivered().length === 1, 2_000);
  console.log(`stopped channel fixed -> the waiting alert delivered: ${Date.now() - fixedAt} ms`);
  await until(
    "the delivery to be recorded",
    async () => (await r.n.channelStatus()).channels[0]?.waiting === 0,
  );
  const [status] = (await r.n.channelStatus()).channels;
  expect(status).toMatchObject({ name, state: "working", waiting: 0, problems: [] });
});

test("a URL sealed with a key this server does not hold is listed as failing, with why, and gets nothing", async () => {
  const r = await running();
  const foreign = createKeyring([Buffer.alloc(32, 9)]);
  await r.store.transaction(async (tx) => {
    await tx.channels.create(
      row("ch_1", foreign, "gotifys://push.example.org/AppTok", "gotifys://push.example.org/***"),
    );
    tx.afterCommit(() => r.broker.publish("channels.changed", { id: "ch_1" }));
  });
  await until("the directory to load it", () => r.n.directory.list().length === 1);
  expect(await r.flip()).toBe(0);
  const [status] = (await r.n.channelStatus()).channels;
  expect(status).toMatchObject({
    name: "gotifys://push.example.org/***",
    state: "failing",
    lastError: `the channel URL is sealed with server key ${foreign.currentId}, which is not loaded`,
  });
});

test("an MQTT channel added while the server runs connects; deleted, it says offline and disconnects", async () => {
  const mqttDir = tempDir();
  const broker = await startMosquitto(mqttDir.path, { sentinel: "pw", ha: "ha" });
  cleanups.push(async () => {
    await broker.stop();
    mqttDir.remove();
  });
  const rec = await recorder(broker.url, { username: "ha", password: "ha" }, "lab/#");
  cleanups.push(() => rec.close());
  const r = await running();
  const url = `mqtt://sentinel:pw@127.0.0.1:${broker.port}/lab`;
  await r.store.transaction(async (tx) => {
    await tx.channels.create(row("ch_m", r.keyring, url, `mqtt://sentinel:***@127.0.0.1:${broker.port}/lab`));
    tx.afterCommit(() => r.broker.publish("channels.changed", { id: "ch_m" }));
  });
  await rec.waitFor(() => rec.last("lab/status")?.payload === "online");
  await rec.waitFor(() => rec.last("lab/clients/c1/state") !== undefined);
  await r.store.transaction(async (tx) => {
    await tx.channels.remove("ch_m");
    tx.afterCommit(() => r.broker.publish("channels.changed", { id: "ch_m" }));
  });
  await rec.waitFor(() => rec.last("lab/status")?.payload === "offline");
  expect(r.n.directory.list()).toEqual([]);
});
