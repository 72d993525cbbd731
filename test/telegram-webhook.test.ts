/** Webhook mode through the real server: Telegram's secret token header is required. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { FAKE_BOT_INFO, FakeTelegram } from "./fakes/telegram.ts";
import { startTestServer } from "./helpers/server.ts";

const CHAT = 777;
const SECRET = "webhook-secret-token_123";
let telegram: FakeTelegram;
let server: Awaited<ReturnType<typeof startTestServer>>;

beforeAll(async () => {
  telegram = FakeTelegram.start();
  server = await startTestServer({
    telegramToken: `${FAKE_BOT_INFO.id}:fake-token`,
    telegramChat: [String(CHAT)],
    telegramApiRoot: telegram.url,
    telegramMode: "webhook",
    telegramWebhookSecret: SECRET,
    publicUrl: "https://sentinel.example.org",
  });
});
afterAll(async () => {
  await server.stop();
  await telegram.stop();
});

const update = (text: string) => ({
  update_id: 1,
  message: {
    message_id: 1,
    date: Math.floor(Date.now() / 1000),
    chat: { id: CHAT, type: "private" },
    from: { id: 1000, is_bot: false, first_name: "U" },
    text,
    entities: [{ type: "bot_command", offset: 0, length: text.length }],
  },
});
const post = (secret: string | null) =>
  fetch(`${server.url}/telegram/webhook`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(secret ? { "X-Telegram-Bot-Api-Secret-Token": secret } : {}),
    },
    body: JSON.stringify(update("/ping")),
  });

test("the server registers its webhook URL with Telegram", () => {
  const call = telegram.calls.find((c) => c.method === "setWebhook");
  expect(call?.params.url).toBe("https://sentinel.example.org/telegram/webhook");
});

test("an update with the secret token is handled; without it, refused", async () => {
  expect((await post(null)).status).toBe(401);
  expect((await post("wrong")).status).toBe(401);
  const ok = await post(SECRET);
  expect(ok.status).toBe(200);
  const end = Date.now() + 2000;
  while (telegram.delivered(CHAT).length === 0 && Date.now() < end) await Bun.sleep(10);
  expect(JSON.stringify(telegram.delivered(CHAT).map((c) => c.params)).toLowerCase()).toContain("pong");
});
