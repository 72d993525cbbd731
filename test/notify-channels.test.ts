/**
 * URL channels through the real notifier, outbox (temp SQLite) and dispatcher, against fake
 * services: routing filters, Retry-After, a channel disabled by 410, per-client limits folding
 * into a digest, the shared noise rules, and exactly-once delivery across a restart.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { EventKind } from "../src/protocol/events.ts";
import { DEFAULT_SETTINGS } from "../src/server/monitor/settings.ts";
import { fixedChannels } from "../src/server/notify/channel.ts";
import { buildUrlChannels } from "../src/server/notify/channels/registry.ts";
import { OutboxDispatcher } from "../src/server/notify/dispatcher.ts";
import { parseClientLimit } from "../src/server/notify/limit.ts";
import { Notifier } from "../src/server/notify/notifier.ts";
import type { ClientUpdate, Store } from "../src/server/store/index.ts";
import { type FakeService, fakeNtfy, fakeWebhookReceiver } from "./fakes/notify-services.ts";
import { NO_STATES, templates } from "./helpers/notify.ts";
import { openServerStore, quietLogger, tempDir } from "./helpers/server.ts";

const T0 = Date.UTC(2026, 10, 18, 12, 0);
const SECRET = `whsec_${Buffer.from("0123456789abcdef0123456789abcdef").toString("base64")}`;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rig(urls: string[], opts: { dir?: string; limit?: string; clients?: string[] } = {}) {
  const dir = opts.dir ?? tempDir().path;
  const store: Store = await openServerStore(dir);
  const clock = { t: T0 };
  const now = () => clock.t;
  const { channels } = buildUrlChannels(urls, {
    templates: templates(),
    publicUrl: "https://sentinel.example",
    logger: quietLogger(),
    states: NO_STATES,
    requestTimeoutMs: 2_000,
  });
  const limit = opts.limit ? parseClientLimit(opts.limit) : null;
  const notifier = new Notifier({
    store,
    channels: fixedChannels(channels),
    noise: { resolved: true, late: false, serverStarted: false, maintenance: [], timeZone: "UTC" },
    digest: { threshold: 0, windowMs: 10_000 },
    clientLimit: typeof limit === "string" ? null : limit,
    reminderIntervalMs: 6 * 3_600_000,
  });
  const dispatcher = new OutboxDispatcher({
    store,
    channels: fixedChannels(channels),
    now,
    logger: quietLogger(),
    random: () => 0.5,
  });
  for (const name of opts.clients ?? ["alpha", "beta"])
    if (!(await store.clients.getByName(name)))
      await store.clients.create({ id: `id-${name}`, name, createdAt: T0, secretEnc: "x" });
  cleanups.push(async () => {
    await dispatcher.stop();
    try {
      await store.close();
    } catch {
      // closed by the test already
    }
  });
  return {
    dir,
    store,
    clock,
    channels,
    notifier,
    dispatcher,
    async flip(client: string, kind: EventKind, extra: { from?: string; to?: string } = {}) {
      const event = {
        clientId: `id-${client}`,
        kind,
        from: extra.from ?? null,
        to: extra.to ?? null,
        evidence: { reason: `${kind} on ${client}` },
        at: clock.t,
        suppressed: false,
      };
      return store.transaction(async (tx) =>
        notifier.enqueue(tx, [{ ...event, id: await tx.events.append(event) }], { now: clock.t }),
      );
    },
    async run(n: number, stepMs = 1_000) {
      for (let i = 0; i < n; i++) {
        clock.t += stepMs;
        await dispatcher.tick();
      }
    },
  };
}

const topics = (fake: FakeService, topic: string) =>
  fake
    .delivered()
    .map((r) => r.body as { topic: string; title: string; tags: string[] })
    .filter((b) => b.topic === topic);

function started(fake: FakeService) {
  cleanups.push(() => fake.stop());
  return fake;
}

describe("routing", () => {
  test("?min, ?only with wildcards and ?clients pick the lanes; resolved messages follow their problem", async () => {
    const fake = started(fakeNtfy());
    const r = await rig([
      `ntfy://${fake.host}/all`,
      `ntfy://${fake.host}/red?min=red`,
      `ntfy://${fake.host}/alpha-starts?only=*.started,client.offline&clients=alpha`,
    ]);
    await r.flip("alpha", "bypass.started");
    await r.flip("beta", "dns_leak.started");
    await r.flip("alpha", "exit.changed");
    await r.flip("beta", "client.first_seen");
    await r.flip("alpha", "bypass.ended");
    await r.run(8);
    expect(topics(fake, "all")).toHaveLength(5);
    expect(topics(fake, "red").map((b) => b.tags[1])).toEqual([
      "bypass.started",
      "dns_leak.started",
      "bypass.ended",
    ]);
    expect(topics(fake, "alpha-starts").map((b) => b.tags[1])).toEqual(["bypass.started"]);
    // lanes the filter excludes never get a row, so nothing is "suppressed" for them either
    expect(await r.store.outbox.countByStatus()).toMatchObject({ delivered: 9, suppressed: 0, pending: 0 });
  });

  test("reminders and late announcements respect the filters too", async () => {
    const fake = started(fakeNtfy());
    const r = await rig([
      `ntfy://${fake.host}/leaks?only=dns_leak.*`,
      `ntfy://${fake.host}/bypass?only=bypass.*`,
    ]);
    await r.flip("alpha", "bypass.started");
    await r.store.clients.applyReport("id-alpha", redUpdate(r.clock.t));
    await r.run(2);
    r.clock.t += 7 * 3_600_000;
    expect(await r.notifier.sweep(r.clock.t)).toBe(1); // a reminder of a bypass is for the bypass lane only
    await r.run(3);
    expect(topics(fake, "leaks")).toHaveLength(0);
    expect(topics(fake, "bypass").map((b) => b.title)).toEqual([
      "🔴 alpha traffic bypasses the VPN",
      "⏰🔴 alpha is still red",
    ]);
  });
});

describe("delivery rules", () => {
  test("429 with Retry-After delays that channel by exactly that long; the other channel goes on", async () => {
    const fake = started(fakeNtfy());
    const other = started(fakeNtfy());
    const r = await rig([`ntfy://${fake.host}/a`, `ntfy://${other.host}/b`]);
    fake.script({
      status: 429,
      headers: { "retry-after": "120" },
      body: '{"code":42908,"error":"too many requests"}',
    });
    await r.flip("alpha", "client.offline");
    await r.run(1);
    expect(other.delivered()).toHaveLength(1);
    const row = (await r.store.outbox.list({ status: "pending", limit: 1 }))[0];
    expect(row?.nextAttemptAt).toBe(T0 + 1_000 + 120_000);
    expect(row?.lastError).toBe('ntfy 429: {"code":42908,"error":"too many requests"}');
    await r.run(100);
    expect(fake.delivered()).toHaveLength(0);
    await r.run(30);
    expect(fake.delivered()).toHaveLength(1);
  });

  test("410 Gone stops the channel with a clear status; its rows wait and go out after a restart", async () => {
    const hook = started(fakeWebhookReceiver(SECRET));
    const url = `webhook+http://${hook.host}/hook?secret=${SECRET}`;
    const first = await rig([url]);
    hook.always({ status: 410, body: "gone" });
    await first.flip("alpha", "bypass.started");
    await first.flip("beta", "bypass.started");
    await first.run(20, 60_000);
    expect(hook.requests).toHaveLength(1); // no retry storm
    const status = (await first.dispatcher.status())[0];
    expect(status?.state).toBe("failing");
    expect(status?.problems).toEqual([
      `webhook+http://${hook.host}/hook?secret=***: stopped, webhook 410: gone (fix the channel and restart)`,
    ]);
    expect(JSON.stringify(status)).not.toContain(SECRET);
    expect(await first.store.outbox.countByStatus()).toMatchObject({ pending: 2, failed: 0 });
    await first.dispatcher.stop();
    await first.store.close();

    hook.always(null); // the receiver is back
    const second = await rig([url], { dir: first.dir });
    second.clock.t = T0 + 30 * 60_000;
    await second.run(3);
    expect(
      hook.delivered().map((r) => (r.body as { data: { client: { id: string } } }).data.client.id),
    ).toEqual(["id-alpha", "id-beta"]);
    expect(await second.store.outbox.countByStatus()).toMatchObject({ delivered: 2, pending: 0 });
  });

  test("an outage across a restart: every alert delivered exactly once, webhook-ids stable", async () => {
    const hook = started(fakeWebhookReceiver(SECRET));
    const url = `webhook+http://${hook.host}/hook?secret=${SECRET}`;
    const first = await rig([url]);
    hook.always({ status: 503, body: "down" });
    for (const c of ["alpha", "beta"]) await first.flip(c, "client.offline");
    await first.run(3, 5_000);
    const triedIds = new Set(hook.requests.map((r) => r.headers.get("webhook-id")));
    await first.dispatcher.stop();
    await first.store.close();
    hook.always(null);
    const second = await rig([url], { dir: first.dir });
    second.clock.t = T0 + 10 * 60_000;
    await second.run(5);
    expect(hook.delivered()).toHaveLength(2);
    // the lane's head (alpha) was tried before the restart: the receiver sees the same id again
    expect(triedIds.size).toBe(1);
    expect(triedIds.has(hook.delivered()[0]?.headers.get("webhook-id") ?? null)).toBe(true);
    expect(hook.delivered()[1]?.headers.get("webhook-id")).not.toBe(
      hook.delivered()[0]?.headers.get("webhook-id") as string,
    );
  });

  test("a mute holds back URL channels the same way as Telegram (one policy for every lane)", async () => {
    const fake = started(fakeNtfy());
    const r = await rig([`ntfy://${fake.host}/a`]);
    await r.store.clients.updateSettings("id-beta", { ...DEFAULT_SETTINGS, muted_until: T0 + 3_600_000 });
    await r.flip("beta", "client.offline");
    await r.flip("alpha", "client.offline");
    await r.run(2);
    expect(topics(fake, "a").map((b) => b.title)).toEqual(["🔴 alpha is offline"]);
    expect((await r.store.outbox.list({ status: "suppressed", limit: 1 }))[0]?.lastError).toMatch(
      /^muted until /,
    );
  });
});

describe("per-client limit", () => {
  test("beyond N per period a client's alerts fold into one digest at the end of the period; others are not held", async () => {
    const fake = started(fakeNtfy());
    const r = await rig([`ntfy://${fake.host}/a`], { limit: "2/1h" });
    for (const kind of [
      "client.offline",
      "client.online",
      "client.offline",
      "client.online",
      "exit.changed",
    ] as const) {
      await r.flip("alpha", kind);
      r.clock.t += 60_000;
    }
    await r.flip("beta", "bypass.started");
    await r.run(5);
    expect(topics(fake, "a").map((b) => b.title)).toEqual([
      "🔴 alpha is offline",
      "✅ alpha is back online",
      "🔴 beta traffic bypasses the VPN",
    ]);
    // the period began with alpha's first alert: the digest goes out one hour after it
    r.clock.t = T0 + 3_600_000 - 1_000;
    await r.dispatcher.tick();
    expect(topics(fake, "a")).toHaveLength(3);
    await r.run(2);
    const digest = topics(fake, "a")[3] as { title: string; tags: string[] } & { message?: string };
    expect(digest.title).toBe("🔔 3 more alerts about alpha");
    const body = fake.delivered().at(-1)?.body as { message: string };
    expect(body.message).toContain("alpha is offline");
    expect(body.message).toContain("More than 2/1h alerts about this client");
    expect(await r.store.outbox.countByStatus()).toMatchObject({ pending: 0, delivered: 7 });
  });
});

function redUpdate(at: number): ClientUpdate {
  return {
    state: { status: "red", reason: "red now" } as unknown as ClientUpdate["state"],
    lastReport: {} as ClientUpdate["lastReport"],
    exit: null,
    lastSourceIp: null,
    lastReportAt: at,
    lastObservedAt: at,
    status: "red",
    liveness: "online",
    lateAt: null,
    offlineAt: null,
    nextCheckAt: null,
  };
}
