/** createNotifications as the server wires it, option parsing, and docs/alerts.md kept in sync with the code. */
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createConsola } from "consola";
import { flagName, OptionError, resolveOptions } from "../src/config/options.ts";
import { KIND_TEXT } from "../src/protocol/event-text.ts";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { Broker } from "../src/server/broker.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { HOME, testGeo } from "../src/server/monitor/testing.ts";
import { createNotifications, notifySpecs, telegramToken } from "../src/server/notify/index.ts";
import { fakeNtfy } from "./fakes/notify-services.ts";
import { FAKE_BOT_INFO, FakeTelegram } from "./fakes/telegram.ts";
import { sampleReport, signedPost } from "./helpers/report.ts";
import { openServerStore, quietLogger, startTestServer, tempDir } from "./helpers/server.ts";

const TOKEN = "123456:TEST-token-for-the-fake-bot-api";
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("docs/alerts.md", () => {
  test("documents every message kind and every option", async () => {
    const doc = await Bun.file(join(import.meta.dir, "../docs/alerts.md")).text();
    for (const kind of Object.keys(KIND_TEXT)) expect(doc).toContain(`| \`${kind}\``);
    for (const key of Object.keys(notifySpecs)) expect(doc).toContain(`--${flagName(key)}`);
  });
});

describe("options", () => {
  test("defaults, env token, secrets hidden, bad values rejected", async () => {
    const { options } = resolveOptions(notifySpecs, { argv: [], env: {} });
    expect(options).toMatchObject({
      notifyResolved: true,
      notifyLate: false,
      reminderInterval: 21_600_000,
      digestThreshold: 5,
      digestWindow: 10_000,
    });
    const env = { SENTINEL_TELEGRAM_TOKEN: TOKEN, SENTINEL_TELEGRAM_CHAT: "111,-222:7" };
    const fromEnv = resolveOptions(notifySpecs, {
      argv: ["--reminder-interval", "0", "--maintenance-window", "sun 02:00-04:00"],
      env,
    }).options;
    expect(telegramToken(fromEnv)).toBe(TOKEN);
    expect(fromEnv.telegramChat).toEqual(["111", "-222:7"]);
    expect(fromEnv.reminderInterval).toBe(0);
    expect(() => resolveOptions(notifySpecs, { argv: ["--telegram-chat", "bob"], env: {} })).toThrow(
      OptionError,
    );
    expect(() =>
      resolveOptions(notifySpecs, { argv: ["--maintenance-window", "someday 1-2"], env: {} }),
    ).toThrow(OptionError);
    expect(() =>
      resolveOptions(notifySpecs, { argv: ["--notify-timezone", "Mars/Olympus"], env: {} }),
    ).toThrow(OptionError);
    const file = join(tempDir().path, "token");
    writeFileSync(file, `${TOKEN}\n`);
    expect(telegramToken({ telegramTokenFile: file })).toBe(TOKEN);
  });
});

describe("createNotifications", () => {
  test("start, an alert through the monitor's path, a bot command, status, stop", async () => {
    const fake = FakeTelegram.start();
    const store = await openServerStore(tempDir().path);
    const broker = new Broker();
    const { options } = resolveOptions(notifySpecs, {
      argv: ["--telegram-chat", "111", "--telegram-api-root", fake.url],
      env: { SENTINEL_TELEGRAM_TOKEN: TOKEN },
    });
    const n = createNotifications({
      store,
      broker,
      now: Date.now,
      logger: quietLogger(),
      options: { ...options, publicUrl: "https://sentinel.example" },
      testing: { botInfo: FAKE_BOT_INFO },
    });
    cleanups.push(async () => {
      await n.stop();
      await store.close();
      await fake.stop();
    });
    await n.start();
    await store.clients.create({ id: "c1", name: "laptop", createdAt: Date.now(), secretEnc: "x" });
    const t0 = Date.now();
    await store.transaction(async (tx) => {
      const e = {
        clientId: "c1",
        kind: "bypass.started",
        from: "ok",
        to: "leak",
        evidence: { reason: "Traffic leaves through home." },
        at: t0,
        suppressed: false,
      };
      return n.notifier.enqueue(tx, [{ ...e, id: await tx.events.append(e) }], { now: t0 });
    });
    await fake.waitFor(() => fake.delivered(111).length === 1);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(String(fake.delivered(111)[0]?.params.text)).toContain(
      '<a href="https://sentinel.example/clients/c1">',
    );
    fake.pushMessage(111, "/ping");
    await fake.waitFor(() => fake.delivered(111).length === 2);
    expect(await n.channelStatus()).toMatchObject({
      channels: [{ name: "telegram", state: "working", waiting: 0 }],
      queue: { delivered: 1 },
    });
  });

  test("without a token there is no channel and no bot, and enqueue writes nothing", async () => {
    const store = await openServerStore(tempDir().path);
    const { options } = resolveOptions(notifySpecs, { argv: [], env: {} });
    const n = createNotifications({
      store,
      broker: new Broker(),
      now: Date.now,
      logger: quietLogger(),
      options,
    });
    cleanups.push(async () => {
      await n.stop();
      await store.close();
    });
    await n.start();
    expect(n.bot).toBeNull();
    expect(n.directory.list()).toHaveLength(0);
    expect(
      await store.transaction((tx) =>
        n.notifier.enqueue(
          tx,
          [
            {
              id: 1,
              clientId: null,
              kind: "uplink.down",
              from: null,
              to: null,
              evidence: {},
              at: 0,
              suppressed: false,
            },
          ],
          { now: 0 },
        ),
      ),
    ).toBe(0);
  });

  test("--notify: URL channels beside Telegram, tgram:// chats with their filters on the one bot", async () => {
    const fake = FakeTelegram.start();
    const ntfy = fakeNtfy();
    const store = await openServerStore(tempDir().path);
    const broker = new Broker();
    const { options } = resolveOptions(notifySpecs, {
      argv: [
        "--telegram-chat",
        "111",
        "--telegram-api-root",
        fake.url,
        "--notify",
        `tgram://${TOKEN}/222?min=red`,
        "--notify",
        `ntfy://${ntfy.host}/alerts?only=exit.*`,
      ],
      env: {},
    });
    const n = createNotifications({
      store,
      broker,
      now: Date.now,
      logger: quietLogger(),
      options: { ...options, telegramMode: "off" },
      testing: {
        botInfo: FAKE_BOT_INFO,
        pace: { privateChat: { minIntervalMs: 0 }, groupChat: { minIntervalMs: 0 } },
      },
    });
    cleanups.push(async () => {
      await n.stop();
      await store.close();
      await fake.stop();
      await ntfy.stop();
    });
    await n.start();
    expect(n.directory.list().map((c) => [c.name, c.targets()])).toEqual([
      ["telegram", ["111", "222"]],
      [`ntfy://${ntfy.host}/alerts`, [`ntfy://${ntfy.host}/alerts`]],
    ]);
    await store.clients.create({ id: "c1", name: "laptop", createdAt: Date.now(), secretEnc: "x" });
    const t0 = Date.now();
    for (const kind of ["exit.changed", "bypass.started"]) {
      const e = { clientId: "c1", kind, from: null, to: null, evidence: {}, at: t0, suppressed: false };
      await store.transaction(async (tx) =>
        n.notifier.enqueue(tx, [{ ...e, id: await tx.events.append(e) }], { now: t0 }),
      );
    }
    await fake.waitFor(() => fake.delivered(111).length === 2 && fake.delivered(222).length === 1);
    await ntfy.waitFor(() => ntfy.delivered().length === 1);
    console.log(
      `flip -> fake ntfy through the real dispatcher loop: ${(ntfy.delivered()[0]?.at ?? 0) - t0} ms`,
    );
    expect(String(fake.delivered(222)[0]?.params.text)).toContain("traffic bypasses the VPN");
    expect((ntfy.delivered()[0]?.body as { tags?: string[] } | undefined)?.tags).toEqual([
      "vpn-sentinel",
      "exit.changed",
    ]);
    expect((await n.channelStatus()).channels.map((c) => [c.name, c.state])).toEqual([
      ["telegram", "working"],
      [`ntfy://${ntfy.host}/alerts`, "working"],
    ]);
  });

  test("a tgram:// URL naming another bot than --telegram-token is refused", async () => {
    const { options } = resolveOptions(notifySpecs, {
      argv: ["--notify", "tgram://999:AAAAAAAAAAAAAAAAAAAAAAAAAA/1"],
      env: { SENTINEL_TELEGRAM_TOKEN: TOKEN },
    });
    const store = await openServerStore(tempDir().path);
    cleanups.push(() => store.close());
    expect(() =>
      createNotifications({ store, broker: new Broker(), now: Date.now, logger: quietLogger(), options }),
    ).toThrow("a tgram:// URL names another bot than --telegram-token");
  });
});

test("a server without any alert channel logs every event at info level: kind, client, reason", async () => {
  const dir = tempDir();
  const store = await openServerStore(dir.path);
  const cred = await enrollClient(store, loadKeyring(dir.path), "wg-pi", "http://x", Date.now());
  await store.close();
  const lines: string[] = [];
  const logger = createConsola({
    level: 3,
    reporters: [{ log: (o) => void lines.push(`${o.type} ${o.args.join(" ")}`) }],
  });
  const server = await startTestServer({
    dataDir: dir.path,
    logger,
    geo: testGeo,
    homeIp: HOME.addresses,
    homeAsn: HOME.asns,
  });
  cleanups.push(async () => {
    await server.stop();
    dir.remove();
  });
  // the exit is the home address: a bypass
  const home = HOME.addresses[0] as string;
  const body = sampleReport({
    ipv4: {
      ip: home,
      consistent: true,
      answers: [{ provider: "http://echo-a", ip: home, latency_ms: 1, error: null }],
    },
  });
  expect((await fetch(signedPost(server.url, cred, JSON.stringify(body)))).status).toBe(202);

  const events = lines.filter((l) => l.includes(" event "));
  expect(events.every((l) => l.startsWith("info "))).toBe(true);
  expect(events).toContainEqual(expect.stringMatching(/^info event server\.started: server: /));
  const bypass = events.find((l) => l.startsWith("info event bypass.started: wg-pi"));
  expect(bypass).toBeDefined();
  expect(bypass).toContain(home); // the reason names the home address
});
