/** The Telegram bot's commands and buttons via a fake Bot API (real getUpdates long polling). */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Broker } from "../src/server/broker.ts";
import { DEFAULT_SETTINGS } from "../src/server/monitor/settings.ts";
import { parseMuteArgs, SentinelBot } from "../src/server/notify/channels/telegram/bot.ts";
import type { Store } from "../src/server/store/index.ts";
import { FAKE_BOT_INFO, FakeTelegram } from "./fakes/telegram.ts";
import { openServerStore, quietLogger, tempDir } from "./helpers/server.ts";

const ALLOWED = 111;
const GROUP = -555;
const STRANGER = 999;
const NOW = Date.UTC(2026, 10, 18, 12, 0);

let fake: FakeTelegram;
let store: Store;
let bot: SentinelBot;
let changed: string[];
let warnings: string[];

beforeEach(async () => {
  fake = FakeTelegram.start();
  store = await openServerStore(tempDir().path);
  await store.clients.create({ id: "id-laptop", name: "laptop", createdAt: NOW, secretEnc: "x" });
  await store.clients.create({ id: "id-nas", name: "<nas> & co", createdAt: NOW, secretEnc: "x" });
  await store.clients.applyReport("id-nas", {
    state: { status: "red", reason: "DNS leak: queries go to your ISP." } as never,
    lastReport: {} as never,
    exit: null,
    lastSourceIp: null,
    lastReportAt: NOW - 60_000,
    lastObservedAt: NOW - 60_000,
    status: "red",
    liveness: "online",
    lateAt: null,
    offlineAt: null,
    nextCheckAt: null,
  });
  const broker = new Broker();
  changed = [];
  broker.subscribe("client.changed", (m) => changed.push(m.clientId));
  warnings = [];
  const logger = quietLogger();
  logger.warn = ((msg: string) => warnings.push(msg)) as never;
  bot = new SentinelBot({
    token: "123456:TEST-token-for-the-fake-bot-api",
    apiRoot: fake.url,
    botInfo: FAKE_BOT_INFO,
    chats: [String(ALLOWED), `${GROUP}:7`],
    store,
    broker,
    now: () => NOW,
    logger,
    publicUrl: "https://sentinel.example",
    timeZone: "UTC",
  });
  bot.startPolling();
});

afterEach(async () => {
  await bot.stop();
  await store.close();
  await fake.stop();
});

const replies = (chat: number) => fake.delivered(chat).map((c) => String(c.params.text));
async function ask(chat: number, text: string, expected = 1): Promise<string> {
  const before = replies(chat).length;
  fake.pushMessage(chat, text);
  await fake.waitFor(() => replies(chat).length >= before + expected);
  return replies(chat).slice(before).join("\n");
}

describe("bot commands", () => {
  test("/start answers with the chat id and that it is allowed; /ping and /help answer", async () => {
    expect(await ask(ALLOWED, "/start")).toContain(`Chat id: <code>${ALLOWED}</code>`);
    expect(replies(ALLOWED)[0]).toContain("allowed");
    expect(await ask(ALLOWED, "/ping")).toContain("pong");
    expect(await ask(ALLOWED, "/help")).toContain("/mute NAME 2h");
  });

  test("a chat that is not allowed gets nothing, cannot act, and is logged once", async () => {
    fake.pushMessage(STRANGER, "/start");
    fake.pushMessage(STRANGER, "/mute laptop 2h");
    fake.pushMessage(STRANGER, "/status");
    await ask(ALLOWED, "/ping"); // processed after the stranger's updates
    expect(fake.sends(STRANGER)).toHaveLength(0);
    expect((await store.clients.get("id-laptop"))?.settings).toEqual(DEFAULT_SETTINGS);
    expect(warnings.filter((w) => w.includes(String(STRANGER)))).toHaveLength(1);
    expect(warnings[0]).toContain(`--telegram-chat ${STRANGER}`);
  });

  test("/status lists what is not green, escaped; /clients and /client NAME", async () => {
    const status = await ask(ALLOWED, "/status");
    expect(status).toContain("2 clients");
    expect(status).toContain("🔴 <b>&lt;nas&gt; &amp; co</b>: DNS leak: queries go to your ISP.");
    expect(await ask(ALLOWED, "/clients")).toContain("<b>laptop</b>: never, never seen");
    const one = await ask(ALLOWED, "/client <nas> & co");
    expect(one).toContain("red");
    expect(one).toContain('href="https://sentinel.example/clients/id-nas"');
    expect(await ask(ALLOWED, "/client nobody")).toContain("No client named <b>nobody</b>");
  });

  test("/mute, /unmute, /pause, /resume change the policy and publish client.changed; @botname works in groups", async () => {
    expect(await ask(GROUP, `/mute@${FAKE_BOT_INFO.username} laptop 2h`)).toContain("muted until");
    expect(fake.delivered(GROUP)[0]?.params.message_thread_id).toBeUndefined(); // the message came from no topic
    expect((await store.clients.get("id-laptop"))?.settings.muted_until).toBe(NOW + 2 * 3_600_000);
    await ask(ALLOWED, "/unmute laptop");
    expect((await store.clients.get("id-laptop"))?.settings.muted_until).toBeNull();
    await ask(ALLOWED, "/pause laptop");
    expect((await store.clients.get("id-laptop"))?.settings.paused).toBe(true);
    await ask(ALLOWED, "/resume laptop");
    expect((await store.clients.get("id-laptop"))?.settings.paused).toBe(false);
    expect(changed).toEqual(["id-laptop", "id-laptop", "id-laptop", "id-laptop"]);
    expect(await ask(ALLOWED, "/mute laptop forever")).toContain("No client named <b>laptop forever</b>");
  });

  test("the alert's mute button mutes through a callback query", async () => {
    fake.pushUpdate({
      callback_query: {
        id: "cb1",
        chat_instance: "x",
        from: { id: 1000, is_bot: false, first_name: "User" },
        data: "mute:id-nas:86400",
        message: {
          message_id: 1,
          date: 0,
          chat: { id: ALLOWED, type: "private", first_name: "User" },
          text: "alert",
        },
      },
    });
    await fake.waitFor(() => fake.calls.some((c) => c.method === "answerCallbackQuery"));
    await fake.waitFor(() => replies(ALLOWED).length === 1);
    expect((await store.clients.get("id-nas"))?.settings.muted_until).toBe(NOW + 86_400_000);
    expect(fake.calls.find((c) => c.method === "answerCallbackQuery")?.params.text).toContain("muted until");
  });
});

describe("parseMuteArgs", () => {
  test("name with spaces, default and bounded durations", async () => {
    expect(parseMuteArgs("laptop 2h")).toEqual({ name: "laptop", ms: 7_200_000 });
    expect(parseMuteArgs("my laptop 30m")).toEqual({ name: "my laptop", ms: 1_800_000 });
    expect(parseMuteArgs("laptop")).toEqual({ name: "laptop", ms: 3_600_000 });
    expect(typeof parseMuteArgs("")).toBe("string");
    expect(typeof parseMuteArgs("laptop 90d")).toBe("string");
  });
});
