/**
 * The Alerts page and the overview tell the real state of an alert channel: a real server
 * whose Telegram channel talks to a fake Bot API (a local server) that fails, then works; the
 * pages are fetched as a signed-in admin and read like a browser shows them.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createUser } from "../src/server/auth/users.ts";
import type { RunningServer } from "../src/server/main.ts";
import { FakeTelegram } from "./fakes/telegram.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";
import { PASSWORD, postForm, type Session, signIn } from "./web-helpers.ts";

const CHAT = 111;
const dir = tempDir("sentinel-web-channels-");
const fake = FakeTelegram.start();
let server: RunningServer;
let admin: Session;

const handle = (path: string, init: RequestInit = {}) =>
  fetch(`${server.url}${path}`, { redirect: "manual", ...init });

const start = () =>
  startTestServer({
    dataDir: dir.path,
    telegramToken: "123456:TEST-token-for-the-fake-bot-api",
    telegramChat: [String(CHAT)],
    telegramApiRoot: fake.url,
    telegramMode: "off",
    homeIp: ["192.0.2.1"], // a known home: the only banner there may be is the channel's
  });

beforeAll(async () => {
  const store = await openServerStore(dir.path);
  await createUser(store, { name: "admin", role: "admin", password: PASSWORD }, Date.now());
  await store.close();
  server = await start();
  admin = await signIn(handle, "admin");
}, 30_000);
afterAll(async () => {
  await server.stop();
  await fake.stop();
  dir.remove();
});

/** The text a reader sees in the elements matching `selector`, one string per element. */
async function texts(html: string, selector: string): Promise<string[]> {
  const found: string[] = [];
  await new HTMLRewriter()
    .on(selector, {
      element() {
        found.push("");
      },
      text(t) {
        found[found.length - 1] += t.text;
      },
    })
    .transform(new Response(html))
    .text();
  return found.map((t) => t.replace(/\s+/g, " ").trim());
}

async function page(path: string): Promise<string> {
  const res = await handle(path, { headers: { cookie: admin.cookie } });
  expect(res.status).toBe(200);
  return res.text();
}

/** The channel card as a reader sees it: badge and each fact. */
async function telegramCard(html = ""): Promise<Record<string, string>> {
  const source = html || (await page("/channels"));
  const [badge] = await texts(source, "article.channel .badge");
  const terms = await texts(source, "article.channel dt");
  const values = await texts(source, "article.channel dd");
  return { badge: badge ?? "", ...Object.fromEntries(terms.map((t, i) => [t, values[i] ?? ""])) };
}

/** Three alerts, queued the way the monitor queues them (event and outbox rows in one transaction). */
async function queueAlerts() {
  for (const reason of ["first", "second", "third"])
    await server.monitor.recordServerEvent({
      kind: "home.changed",
      from: "198.51.100.1",
      to: "198.51.100.2",
      evidence: { reason },
      at: Date.now(),
    });
}

test("nothing sent yet is not green", async () => {
  const card = await telegramCard();
  expect(card.badge).toBe("Not tried yet");
  expect(card["Last message through"]).toBe("never");
  expect(await texts(await page("/"), ".banner")).toEqual([]);
}, 15_000);

test("deliveries failing, a failed test, messages waiting: Failing since T, the queue, a banner; still after a restart", async () => {
  fake.always(CHAT, { kind: "500" });
  await queueAlerts();
  await fake.waitFor(() => fake.sends(CHAT).length >= 1);
  await Bun.sleep(50);

  let card = await telegramCard();
  expect(card.badge).toBe("Failing");
  expect(card["Failing since"]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  expect(card.Waiting).toMatch(/^3 \(oldest (just now|\d+ s ago)\)$/);
  expect(card["Last error"]).toContain("telegram 500: Internal Server Error");

  const test = await postForm(handle, "/channels/telegram/test", admin, {});
  const testPage = await test.text();
  expect(await texts(testPage, ".notice-error")).toEqual([
    expect.stringContaining("telegram refused the test message"),
  ]);
  card = await telegramCard(testPage);
  expect(card.badge).toBe("Failing");
  expect(card["Last error"]).toContain("test message: telegram 500");

  const banners = await texts(await page("/"), ".banner");
  expect(banners).toEqual([
    expect.stringMatching(
      /^Alerts are not getting out: telegram is failing since .+ \(3 waiting\).*telegram 500/,
    ),
  ]);

  // a restart forgets nothing: the state comes from the database, not from this process
  await server.stop();
  server = await start();
  admin = await signIn(handle, "admin");
  card = await telegramCard();
  expect(card.badge).toBe("Failing");
  expect(card.Waiting).toStartWith("3 ");
  expect(await texts(await page("/"), ".banner")).toHaveLength(1);
}, 30_000);

test("a test that gets through sends what waits at once; the channel is Working and the banner is gone", async () => {
  fake.always(CHAT, null);
  const res = await postForm(handle, "/channels/telegram/test", admin, {});
  expect(await texts(await res.text(), ".notice-ok")).toEqual(["Test message sent through telegram."]);
  // the three queued alerts were waiting out a retry delay: they go now
  await fake.waitFor(() => fake.delivered(CHAT).length >= 4, 5_000);
  await Bun.sleep(50);
  const card = await telegramCard();
  expect(card.badge).toBe("Working");
  expect(card["Last message through"]).toMatch(/just now|\d+ s ago/);
  expect(card.Waiting).toBe("0");
  expect(card["Failing since"]).toBeUndefined();
  expect(await texts(await page("/"), ".banner")).toEqual([]);
}, 15_000);
