/**
 * The outbox, notifier and dispatcher against a fake Telegram Bot API (a real local server) and
 * real temp SQLite files. Time-dependent cases drive an injected clock through `tick()`; the
 * latency, pacing and 429 cases run the real loop and measure wall-clock times.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { EventKind } from "../src/protocol/events.ts";
import { Broker } from "../src/server/broker.ts";
import { DEFAULT_SETTINGS } from "../src/server/monitor/settings.ts";
import { fixedChannels } from "../src/server/notify/channel.ts";
import { TelegramChannel } from "../src/server/notify/channels/telegram/channel.ts";
import { OutboxDispatcher } from "../src/server/notify/dispatcher.ts";
import { type DigestSettings, Notifier } from "../src/server/notify/notifier.ts";
import type { NoiseSettings } from "../src/server/notify/policy.ts";
import { type MaintenanceWindow, parseMaintenanceWindow } from "../src/server/notify/schedule.ts";
import type { ClientUpdate, Store } from "../src/server/store/index.ts";
import { FakeTelegram } from "./fakes/telegram.ts";
import { templates } from "./helpers/notify.ts";
import { testDatabaseFor } from "./helpers/postgres.ts";
import { openServerStore, quietLogger, tempDir } from "./helpers/server.ts";

const TOKEN = "123456:TEST-token-for-the-fake-bot-api";
const USER = 111; // a private chat
const GROUP = -222; // a group chat
const FAST = { privateChat: { minIntervalMs: 0 }, groupChat: { minIntervalMs: 0 } };
const T0 = Date.UTC(2026, 10, 18, 12, 0); // a Wednesday, noon UTC

interface Rig {
  store: Store;
  dir: string;
  fake: FakeTelegram;
  clock: { t: number };
  now: () => number;
  channel: TelegramChannel;
  notifier: Notifier;
  dispatcher: OutboxDispatcher;
  broker: Broker;
  flip(
    client: string,
    kind: EventKind,
    extra?: { evidence?: Record<string, unknown>; suppressed?: boolean; from?: string; to?: string },
  ): Promise<number>;
  /** ticks the dispatcher n times, moving the clock forward by stepMs before each */
  run(n: number, stepMs?: number): Promise<void>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function makeRig(
  opts: {
    chats?: string[];
    noise?: Partial<NoiseSettings>;
    digest?: Partial<DigestSettings>;
    reminderIntervalMs?: number;
    realClock?: boolean;
    pace?: typeof FAST | null;
    fake?: FakeTelegram;
    dir?: string;
    clients?: string[];
    leaseMs?: number;
  } = {},
): Promise<Rig> {
  const dir = opts.dir ?? tempDir().path;
  const store = await openServerStore(dir);
  const fake = opts.fake ?? FakeTelegram.start();
  const clock = { t: T0 };
  const now = opts.realClock ? Date.now : () => clock.t;
  const broker = new Broker();
  const channel = new TelegramChannel({
    token: TOKEN,
    chats: opts.chats ?? [String(USER), String(GROUP)],
    apiRoot: fake.url,
    templates: templates("https://sentinel.example"),
    requestTimeoutMs: 2_000,
    ...(opts.pace === null ? {} : { pace: opts.pace ?? FAST }),
  });
  const notifier = new Notifier({
    store,
    broker,
    channels: fixedChannels([channel]),
    noise: {
      resolved: true,
      late: false,
      serverStarted: false,
      maintenance: [],
      timeZone: "UTC",
      ...opts.noise,
    },
    digest: { threshold: 5, windowMs: 10_000, ...opts.digest },
    reminderIntervalMs: opts.reminderIntervalMs ?? 6 * 3_600_000,
    uplinkSettleMs: 60_000,
  });
  const dispatcher = new OutboxDispatcher({
    store,
    channels: fixedChannels([channel]),
    now,
    logger: quietLogger(),
    broker,
    random: () => 0.5,
    ...(opts.leaseMs ? { leaseMs: opts.leaseMs } : {}),
  });
  for (const name of opts.clients ?? ["alpha", "beta", "gamma"]) {
    if (!(await store.clients.getByName(name)))
      await store.clients.create({ id: `id-${name}`, name, createdAt: T0, secretEnc: "x" });
  }
  cleanups.push(async () => {
    await dispatcher.stop();
    try {
      await store.close();
    } catch {
      // closed already by the test (restart)
    }
    if (!opts.fake) await fake.stop();
  });
  const rig: Rig = {
    store,
    dir,
    fake,
    clock,
    now,
    channel,
    notifier,
    dispatcher,
    broker,
    async flip(client, kind, extra = {}) {
      const at = now();
      const event = {
        clientId: client.startsWith("id-") ? client : `id-${client}`,
        kind,
        from: extra.from ?? null,
        to: extra.to ?? null,
        evidence: extra.evidence ?? { reason: `${kind} on ${client}` },
        at,
        suppressed: extra.suppressed ?? false,
      };
      // what the monitor does: events and outbox rows in one transaction, then wake the dispatcher
      return await store.transaction(async (tx) => {
        const id = await tx.events.append(event);
        return notifier.enqueue(tx, [{ ...event, id }], { now: at });
      });
    },
    async run(n, stepMs = 0) {
      for (let i = 0; i < n; i++) {
        clock.t += stepMs;
        await dispatcher.tick();
      }
    },
  };
  return rig;
}

const texts = (fake: FakeTelegram, chat: number) => fake.delivered(chat).map((c) => String(c.params.text));

describe("delivery", () => {
  test("exactly one message per flip and chat; re-enqueueing an event adds nothing", async () => {
    const r = await makeRig();
    expect(await r.flip("alpha", "client.offline")).toBe(2);
    expect(await r.flip("beta", "dns_leak.started")).toBe(2);
    await r.run(3, 1_000);
    expect(texts(r.fake, USER)).toHaveLength(2);
    expect(texts(r.fake, GROUP)).toHaveLength(2);
    expect(texts(r.fake, USER)[0]).toContain("<b>alpha</b> is offline");
    // the same event again (e.g. a retried transaction): the idempotency key stops a second row
    const [event] = await r.store.events.query({ clientId: "id-alpha", limit: 1 });
    expect(
      await r.store.transaction((tx) => r.notifier.enqueue(tx, [event as never], { now: r.now() })),
    ).toBe(0);
    await r.run(3, 1_000);
    expect(r.fake.delivered()).toHaveLength(4);
    expect((await r.store.outbox.countByStatus()).delivered).toBe(4);
  });

  test("per-chat order holds through a failure; the other chat is not held back", async () => {
    const r = await makeRig({ digest: { threshold: 0 } });
    r.fake.script(USER, { kind: "500" }, { kind: "500" });
    for (const c of ["alpha", "beta", "gamma"]) await r.flip(c, "bypass.started");
    await r.run(1);
    expect(texts(r.fake, GROUP)).toHaveLength(1); // FAST pace with a frozen clock: one per tick per lane
    await r.run(4, 0);
    expect(texts(r.fake, GROUP).map((t) => /<b>(\w+)<\/b>/.exec(t)?.[1])).toEqual(["alpha", "beta", "gamma"]);
    expect(texts(r.fake, USER)).toHaveLength(0); // first row is waiting for its retry
    await r.run(10, 5_000);
    expect(texts(r.fake, USER).map((t) => /<b>(\w+)<\/b>/.exec(t)?.[1])).toEqual(["alpha", "beta", "gamma"]);
    expect(r.fake.sends(USER)).toHaveLength(5);
  });

  test("5xx retries with backoff, then gives up after 24 h keeping the error", async () => {
    const r = await makeRig({ chats: [String(USER)] });
    r.fake.always(USER, { kind: "500" });
    await r.flip("alpha", "client.offline");
    await r.run(1);
    const row = (await r.store.outbox.list({ limit: 1 }))[0];
    expect(row?.status).toBe("pending");
    expect(row?.attempts).toBe(1);
    expect(row?.nextAttemptAt).toBe(T0 + 1_500); // 2 s base, jitter 0.5
    await r.run(400, 5 * 60_000); // 33 h of simulated time
    const failed = await r.store.outbox.get(row?.id as number);
    expect(failed?.status).toBe("failed");
    expect(failed?.lastError).toContain("gave up after");
    expect(failed?.lastError).toContain("telegram 500");
    const calls = r.fake.sends(USER).map((c) => c.at);
    expect(calls.length).toBeGreaterThan(100); // 10 min cap: ~144 tries a day, not thousands
    expect(calls.length).toBeLessThan(300);
  });

  test("403 marks the chat refusing: the row fails, the lane pauses (no retry storm), the channel shows it", async () => {
    const r = await makeRig();
    r.fake.always(USER, { kind: "403" });
    await r.flip("alpha", "client.offline");
    await r.flip("beta", "client.offline");
    await r.run(20, 1_000);
    expect(r.fake.sends(USER)).toHaveLength(1);
    expect(r.fake.delivered(GROUP)).toHaveLength(2);
    const status = (await r.dispatcher.status())[0];
    expect(status).toMatchObject({ state: "failing", failingSince: T0 + 1_000 });
    expect(status?.lastError).toContain("111: telegram 403: Forbidden: bot was blocked");
    expect((await r.store.outbox.list({ status: "failed", limit: 5 }))[0]?.lastError).toBe(
      "telegram 403: Forbidden: bot was blocked by the user",
    );
    // unblocked: after the pause the queued message goes out and the channel is healthy again
    r.fake.always(USER, null);
    await r.run(2, 10 * 60_000);
    expect(texts(r.fake, USER)[0]).toContain("<b>beta</b>");
    expect((await r.dispatcher.status())[0]?.state).toBe("working");
  });

  test("a long 429 retry_after delays only that chat", async () => {
    const r = await makeRig();
    r.fake.script(USER, { kind: "429", retryAfter: 3_600 });
    await r.flip("alpha", "client.offline");
    await r.run(3, 1_000);
    expect(r.fake.delivered(GROUP)).toHaveLength(1);
    expect(r.fake.delivered(USER)).toHaveLength(0);
    const row = (await r.store.outbox.list({ status: "pending", limit: 1 }))[0];
    expect(row?.nextAttemptAt).toBe(T0 + 1_000 + 3_600_000);
    await r.flip("beta", "client.offline"); // queued behind it, in order
    await r.run(5, 60_000);
    expect(r.fake.delivered(USER)).toHaveLength(0);
    expect(r.fake.delivered(GROUP)).toHaveLength(2);
    await r.run(3, 3_600_000);
    expect(texts(r.fake, USER).map((t) => /<b>(\w+)<\/b>/.exec(t)?.[1])).toEqual(["alpha", "beta"]);
  });

  test("hostile names are escaped and a 5 KB name is split into well-formed messages, buttons on the last", async () => {
    const hostile = `<b>&amp;</code>🙂${"🙂x".repeat(1700)}`;
    const r = await makeRig({ chats: [String(USER)], clients: [] });
    await r.store.clients.create({ id: "id-evil", name: hostile, createdAt: T0, secretEnc: "x" });
    await r.flip("id-evil", "dns_leak.started", { evidence: { reason: "</code><i>resolver</i> & co" } });
    await r.run(4, 1_000);
    const parts = r.fake.delivered(USER);
    expect(parts.length).toBeGreaterThanOrEqual(2);
    for (const p of parts) {
      const text = String(p.params.text);
      expect(text.length).toBeLessThanOrEqual(4096);
      expect(p.params.parse_mode).toBe("HTML");
      // only our own tags: the name's "<b>" and "</code>" arrive escaped
      for (const [tag] of text.matchAll(/<\/?[a-z]+[^>]*>/g))
        expect(tag).toMatch(/^<\/?(b|i|code|a)( href="[^"]*")?>$/);
    }
    const all = parts.map((p) => String(p.params.text)).join("");
    expect(all).toContain("&lt;b&gt;&amp;amp;&lt;/code&gt;🙂");
    expect(all).toContain("&lt;/code&gt;&lt;i&gt;resolver&lt;/i&gt; &amp; co");
    expect(parts.at(-1)?.params.reply_markup).toBeDefined();
    expect(parts[0]?.params.reply_markup).toBeUndefined();
    expect((await r.store.outbox.list({ limit: 1 }))[0]?.partsSent).toBe(parts.length);
  });
});

describe("crashes and restarts", () => {
  test("a restart during an outage delivers everything once afterwards", async () => {
    const fake = FakeTelegram.start();
    cleanups.push(() => fake.stop());
    const first = await makeRig({ fake });
    fake.always(USER, { kind: "500" });
    fake.always(GROUP, { kind: "500" });
    for (const c of ["alpha", "beta", "gamma"]) await first.flip(c, "client.offline");
    await first.run(3, 3_000);
    expect(fake.delivered()).toHaveLength(0);
    expect(fake.sends()).toHaveLength(6); // per chat: a try at each tick, as backoff (1.5 s, then 3 s) allows
    await first.dispatcher.stop();
    await first.store.close();

    fake.always(USER, null);
    fake.always(GROUP, null);
    const second = await makeRig({ fake, dir: first.dir });
    second.clock.t = T0 + 10 * 60_000; // past every backoff and lease
    await second.run(10, 1_000);
    for (const chat of [USER, GROUP])
      expect(texts(fake, chat).map((t) => /<b>(\w+)<\/b>/.exec(t)?.[1])).toEqual(["alpha", "beta", "gamma"]);
    expect(await second.store.outbox.countByStatus()).toMatchObject({ delivered: 6, pending: 0, sending: 0 });
  });

  test("two dispatchers on one SQLite file never send a row twice", async () => {
    const fake = FakeTelegram.start();
    cleanups.push(() => fake.stop());
    const names = Array.from({ length: 12 }, (_, i) => `c${i}`);
    const a = await makeRig({ fake, realClock: true, clients: names, digest: { threshold: 0 } });
    const b = await makeRig({ fake, realClock: true, dir: a.dir, clients: names, digest: { threshold: 0 } });
    for (const n of names) await a.flip(n, "client.offline");
    await Promise.all([a.run(30), b.run(30), a.run(30), b.run(30)]);
    await fake.waitFor(() => fake.delivered().length >= 24);
    await Bun.sleep(50);
    for (const chat of [USER, GROUP])
      expect(texts(fake, chat).map((t) => /<b>(\w+)<\/b>/.exec(t)?.[1])).toEqual(names);
    expect(fake.sends()).toHaveLength(24);
  });

  test("a dispatcher killed mid-send (SIGKILL): the row is taken over after its lease and delivered once", async () => {
    const fake = FakeTelegram.start();
    cleanups.push(() => fake.stop());
    const r = await makeRig({ fake, realClock: true, chats: [String(USER)], leaseMs: 1_000 });
    await r.flip("alpha", "bypass.started");
    fake.script(USER, { kind: "hang" });
    const root = `${import.meta.dir}/..`;
    const database = await testDatabaseFor(r.dir); // the rig's database under SENTINEL_TEST_POSTGRES
    const child = Bun.spawn(
      [
        process.execPath,
        "-e",
        `import { openStore } from "${root}/src/server/store/index.ts";
         import { TelegramChannel } from "${root}/src/server/notify/channels/telegram/channel.ts";
         import { fixedChannels } from "${root}/src/server/notify/channel.ts";
         import { OutboxDispatcher } from "${root}/src/server/notify/dispatcher.ts";
         import { MessageTemplates } from "${root}/src/server/notify/templates.ts";
         import { createConsola } from "consola";
         const store = await openStore({ dataDir: ${JSON.stringify(r.dir)}${database ? `, database: ${JSON.stringify(database)}` : ""} });
         const channel = new TelegramChannel({ token: ${JSON.stringify(TOKEN)}, chats: ["${USER}"], apiRoot: ${JSON.stringify(fake.url)}, templates: MessageTemplates.load({ publicUrl: null, timeZone: "UTC" }, createConsola({ level: -999 })), requestTimeoutMs: 60000 });
         const d = new OutboxDispatcher({ store, channels: fixedChannels([channel]), now: Date.now, logger: createConsola({ level: -999 }), leaseMs: 1000 });
         await d.tick();`,
      ],
      { cwd: root, stdout: "ignore", stderr: "inherit" },
    );
    await fake.waitFor(() => fake.sends(USER).length === 1);
    expect((await r.store.outbox.list({ limit: 1 }))[0]?.status).toBe("sending");
    child.kill("SIGKILL");
    await child.exited;
    await r.dispatcher.tick(); // lease still held: nothing happens
    expect(fake.sends(USER)).toHaveLength(1);
    await Bun.sleep(1_050);
    await r.dispatcher.tick();
    expect(fake.delivered(USER)).toHaveLength(1);
    expect(fake.sends(USER)).toHaveLength(2);
    expect((await r.store.outbox.list({ limit: 1 }))[0]?.status).toBe("delivered");
  });
});

describe("stopping", () => {
  test("stop() with a delivery hung on the Bot API aborts it and gives the row back, due now, attempt not counted", async () => {
    const r = await makeRig({ realClock: true, chats: [String(USER)] });
    r.fake.always(USER, { kind: "hang" });
    r.dispatcher.start();
    await r.flip("alpha", "bypass.started");
    await r.fake.waitFor(() => r.fake.sends(USER).length === 1);
    const t0 = performance.now();
    await r.dispatcher.stop();
    // the channel's own timeout is 2 s here (30 s in production): stop() does not wait for it
    expect(performance.now() - t0).toBeLessThan(1_500);
    const row = (await r.store.outbox.list({ limit: 1 }))[0];
    expect(row).toMatchObject({ status: "pending", attempts: 0, claimedBy: null, lastError: null });
    expect(row?.nextAttemptAt).toBeLessThanOrEqual(Date.now());
    // a second dispatcher (the next start) takes it at once
    r.fake.always(USER, null);
    const next = await makeRig({ fake: r.fake, dir: r.dir, realClock: true, chats: [String(USER)] });
    await next.dispatcher.tick();
    expect(r.fake.delivered(USER)).toHaveLength(1);
  });
});

describe("real-time loop", () => {
  test("a flip reaches the fake Bot API in well under a second; retry_after delays only its chat", async () => {
    const r = await makeRig({ realClock: true });
    r.dispatcher.start();
    await Bun.sleep(20); // the loop is asleep, waiting for the broker
    const t0 = Date.now();
    await r.flip("alpha", "client.offline");
    await r.fake.waitFor(() => r.fake.delivered().length === 2);
    const latency = Math.max(...r.fake.delivered().map((c) => c.at)) - t0;
    console.log(`flip -> fake Telegram latency: ${latency} ms`);
    expect(latency).toBeLessThan(1_000);

    r.fake.script(USER, { kind: "429", retryAfter: 1 });
    const t1 = Date.now();
    await r.flip("beta", "client.offline");
    await r.fake.waitFor(() => r.fake.delivered(GROUP).length === 2);
    const otherChat = Date.now() - t1;
    await r.fake.waitFor(() => r.fake.delivered(USER).length === 2, 3_000);
    const throttled = (r.fake.delivered(USER)[1]?.at as number) - (r.fake.sends(USER)[1]?.at as number);
    console.log(
      `429 retry_after=1: other chat after ${otherChat} ms, throttled chat retried after ${throttled} ms`,
    );
    expect(otherChat).toBeLessThan(500);
    expect(throttled).toBeGreaterThanOrEqual(1_000);
  });

  test("pacing: at most one message per second to a chat, measured", async () => {
    const r = await makeRig({
      realClock: true,
      chats: [String(USER)],
      pace: null,
      clients: ["a1", "a2", "a3"],
    });
    r.dispatcher.start();
    for (const c of ["a1", "a2", "a3"]) await r.flip(c, "client.offline");
    await r.fake.waitFor(() => r.fake.delivered(USER).length === 3, 4_000);
    const at = r.fake.delivered(USER).map((c) => c.at);
    const gaps = at.slice(1).map((t, i) => t - (at[i] as number));
    console.log(`pacing gaps to one chat: ${gaps.join(", ")} ms`);
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(990);
    for (const g of gaps) expect(g).toBeLessThan(1_300);
  });

  test("group chats: at most 20 messages per minute (simulated clock)", async () => {
    const names = Array.from({ length: 25 }, (_, i) => `g${i}`);
    const r = await makeRig({ chats: [String(GROUP)], pace: null, clients: names, digest: { threshold: 0 } });
    for (const n of names) await r.flip(n, "client.offline");
    await r.run(60, 1_000); // one simulated minute
    expect(r.fake.delivered(GROUP)).toHaveLength(20);
    await r.run(10, 1_000);
    expect(r.fake.delivered(GROUP)).toHaveLength(25);
  });
});

describe("noise control", () => {
  test("digest: a burst of alerts across clients folds into one grouped message", async () => {
    const names = Array.from({ length: 8 }, (_, i) => `n${i}`);
    const r = await makeRig({ chats: [String(USER)], clients: names });
    for (const n of names) await r.flip(n, "exit.changed");
    await r.run(6, 1_000);
    expect(r.fake.delivered(USER)).toHaveLength(4); // below the threshold: sent at once
    await r.run(6, 1_000); // the digest window (10 s) ends
    const sent = texts(r.fake, USER);
    expect(sent).toHaveLength(5);
    expect(sent[4]).toContain("4 more alerts");
    for (const n of names.slice(4)) expect(sent[4]).toContain(`<b>${n}</b>`);
    expect(await r.store.outbox.countByStatus()).toMatchObject({ delivered: 9, pending: 0 });
  });

  test("uplink down: one message instead of an offline alert per client, one when it is back", async () => {
    const r = await makeRig({ chats: [String(USER)] });
    expect(
      await r.notifier.uplinkChanged({ down: true, at: r.now(), evidence: { reason: "home probes fail" } }),
    ).toBe(1);
    expect(await r.notifier.uplinkChanged({ down: true, at: r.now() })).toBe(0); // repeated: nothing new
    for (const c of ["alpha", "beta", "gamma"]) expect(await r.flip(c, "client.offline")).toBe(0);
    await r.run(3, 1_000);
    r.clock.t += 60_000;
    await r.notifier.uplinkChanged({ down: false, at: r.now() });
    expect(await r.flip("alpha", "client.online")).toBe(0); // its offline alert was held back
    for (const c of ["alpha", "beta", "gamma"])
      await r.store.clients.applyReport(`id-${c}`, clientUpdate(c === "alpha" ? "green" : "red", r.now()));
    await r.run(3, 1_000);
    let sent = texts(r.fake, USER);
    expect(sent).toHaveLength(2);
    expect(sent[0]).toContain("Server uplink down");
    expect(sent[1]).toContain("Server uplink back");
    expect(sent[1]).toContain("Offline alerts held back meanwhile: alpha, beta, gamma");
    // beta and gamma really are down: announced once the uplink has been back long enough
    await r.notifier.sweep(r.now());
    expect(r.fake.delivered(USER)).toHaveLength(2);
    r.clock.t += 60_000;
    expect(await r.notifier.sweep(r.now())).toBe(2);
    await r.run(3, 1_000);
    sent = texts(r.fake, USER);
    expect(sent.slice(2).map((t) => /<b>(\w+)<\/b>/.exec(t)?.[1])).toEqual(["beta", "gamma"]);
    expect(sent[2]).toContain("held back by server uplink down");
  });

  test("flapping: suppressed flips send nothing, the flapping event sends one message", async () => {
    const r = await makeRig({ chats: [String(USER)] });
    await r.flip("alpha", "client.offline");
    await r.flip("alpha", "client.flapping", {
      from: "stable",
      to: "flapping",
      evidence: { reason: "4 changes in 10 min" },
    });
    for (let i = 0; i < 6; i++)
      await r.flip("alpha", i % 2 ? "client.offline" : "client.online", { suppressed: true });
    await r.run(5, 1_000);
    const sent = texts(r.fake, USER);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toContain("<b>alpha</b> is flapping");
    await r.flip("alpha", "client.flapping", { from: "flapping", to: "stable" });
    await r.run(2, 1_000);
    expect(texts(r.fake, USER)[2]).toContain("<b>alpha</b> is stable again");
  });

  test("mute, maintenance window, resolved pairing and reminders", async () => {
    const window = parseMaintenanceWindow("wed 13:00-14:00") as MaintenanceWindow;
    const r = await makeRig({
      chats: [String(USER)],
      noise: { maintenance: [window] },
      reminderIntervalMs: 6 * 3_600_000,
    });
    await r.store.clients.updateSettings("id-beta", { ...DEFAULT_SETTINGS, muted_until: T0 + 3_600_000 });
    await r.flip("beta", "client.offline"); // muted
    await r.flip("alpha", "client.offline");
    await r.flip("alpha", "client.late"); // late is off by default
    await r.run(3, 1_000);
    expect(texts(r.fake, USER)).toHaveLength(1);
    const suppressed = await r.store.outbox.list({ status: "suppressed", limit: 5 });
    expect(suppressed[0]?.lastError).toMatch(/^muted until /);

    r.clock.t = T0 + 3_600_000 + 1; // 13:00: inside the maintenance window
    await r.flip("gamma", "dns_leak.started");
    await r.flip("beta", "client.online"); // its offline was muted: no "back online"
    await r.flip("alpha", "client.online"); // maintenance: held back
    await r.run(2, 1_000);
    expect(texts(r.fake, USER)).toHaveLength(1);
    expect((await r.store.outbox.list({ status: "suppressed", limit: 1 }))[0]?.lastError).toBe(
      "maintenance window wed 13:00-14:00",
    );

    r.clock.t = T0 + 2 * 3_600_000; // 14:00, after the window
    await r.flip("alpha", "client.offline");
    await r.store.clients.applyReport("id-alpha", clientUpdate("red", r.now()));
    await r.run(2, 1_000);
    await r.flip("alpha", "client.online");
    await r.run(2, 1_000);
    let sent = texts(r.fake, USER);
    expect(sent.at(-1)).toContain("<b>alpha</b> is back online");
    expect(sent.at(-1)).toContain("Lasted 2s.");

    // reminders while red: gamma's leak was held by maintenance, so it is announced first
    await r.store.clients.applyReport("id-alpha", clientUpdate("green", r.now()));
    await r.store.clients.applyReport("id-gamma", clientUpdate("red", r.now()));
    expect(await r.notifier.sweep(r.now())).toBe(1);
    await r.run(2, 1_000);
    sent = texts(r.fake, USER);
    expect(sent.at(-1)).toContain("<b>gamma</b> DNS leak");
    expect(sent.at(-1)).toContain("held back by maintenance window");
    const count = sent.length;
    r.clock.t += 3 * 3_600_000;
    expect(await r.notifier.sweep(r.now())).toBe(0);
    r.clock.t += 3 * 3_600_000;
    expect(await r.notifier.sweep(r.now())).toBe(1);
    expect(await r.notifier.sweep(r.now())).toBe(0);
    await r.run(2, 1_000);
    expect(texts(r.fake, USER)).toHaveLength(count + 1);
    expect(texts(r.fake, USER).at(-1)).toContain("⏰🔴 <b>gamma</b> is still red");
  });

  test("resolved messages can be turned off; reminders can be turned off", async () => {
    const r = await makeRig({ chats: [String(USER)], noise: { resolved: false }, reminderIntervalMs: 0 });
    await r.flip("alpha", "bypass.started");
    await r.flip("alpha", "bypass.ended");
    await r.store.clients.applyReport("id-beta", clientUpdate("red", r.now()));
    await r.flip("beta", "client.offline");
    await r.run(3, 1_000);
    expect(texts(r.fake, USER)).toHaveLength(2);
    r.clock.t += 48 * 3_600_000;
    expect(await r.notifier.sweep(r.now())).toBe(0);
  });
});

function clientUpdate(status: string, at: number): ClientUpdate {
  return {
    state: {
      status,
      reason: `${status} now`,
      exit: {
        ipv4: { ip: "203.0.113.9", country: "NL", asn: 64500, org: "Example VPN", source: "database" },
        ipv6: null,
      },
    } as unknown as ClientUpdate["state"],
    lastReport: {} as ClientUpdate["lastReport"],
    exit: { ip: "203.0.113.9", country: "NL", asn: 64500, org: "Example VPN" },
    lastSourceIp: null,
    lastReportAt: at,
    lastObservedAt: at,
    status,
    liveness: status === "red" ? "offline" : "online",
    lateAt: null,
    offlineAt: null,
    nextCheckAt: null,
  };
}
