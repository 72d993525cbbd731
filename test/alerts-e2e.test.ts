/**
 * A flip travels the whole way: signed report → verdict → event + outbox row in one
 * transaction → dispatcher → (fake) Telegram, in well under a second, exactly once.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { HOME, testGeo } from "../src/server/monitor/testing.ts";
import { FAKE_BOT_INFO, FakeTelegram } from "./fakes/telegram.ts";
import { type Credentials, sampleReport, signedPost } from "./helpers/report.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";

const CHAT = 4242;
const dir = tempDir();
let telegram: FakeTelegram;
let server: Awaited<ReturnType<typeof startTestServer>>;
let cred: Credentials;

beforeAll(async () => {
  telegram = FakeTelegram.start();
  const store = await openServerStore(dir.path);
  cred = await enrollClient(store, loadKeyring(dir.path), "<b>wg & co</b>", "http://x", Date.now());
  await store.close();
  server = await startTestServer({
    dataDir: dir.path,
    geo: testGeo,
    homeIp: HOME.addresses,
    homeAsn: HOME.asns,
    telegramToken: `${FAKE_BOT_INFO.id}:fake-token`,
    telegramChat: [String(CHAT)],
    telegramApiRoot: telegram.url,
    telegramMode: "off", // send alerts, no long polling in this test
    publicUrl: "https://sentinel.example.org",
  });
});
afterAll(async () => {
  await server.stop();
  await telegram.stop();
  dir.remove();
});

const send = (over: Parameters<typeof sampleReport>[0] = {}) =>
  fetch(signedPost(server.url, cred, JSON.stringify(sampleReport(over))));
const waitFor = async (cond: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await Bun.sleep(10);
  return cond();
};

test("a bypass reaches Telegram in < 1 s, once, escaped, with a dashboard link", async () => {
  expect((await send()).status).toBe(202);
  await waitFor(() => telegram.delivered(CHAT).length >= 1, 2000); // first seen
  await Bun.sleep(1100); // Telegram pacing: at most one message a second per chat
  const before = telegram.delivered(CHAT).length;
  const t0 = Date.now();
  expect(
    (
      await send({
        ipv4: {
          ip: "203.0.113.7",
          consistent: true,
          answers: [{ provider: "p", ip: "203.0.113.7", latency_ms: 1, error: null }],
        },
      })
    ).status,
  ).toBe(202);
  expect(await waitFor(() => telegram.delivered(CHAT).length > before, 1000)).toBe(true);
  const latency = Date.now() - t0;
  console.log(`flip → fake Telegram: ${latency} ms`);
  const text = JSON.stringify(
    telegram
      .delivered(CHAT)
      .slice(before)
      .map((c) => c.params),
  );
  expect(text.toLowerCase()).toContain("bypass");
  expect(text).toContain("203.0.113.7");
  expect(text).toContain("&lt;b&gt;wg &amp; co&lt;/b&gt;");
  expect(text).toContain("https://sentinel.example.org/clients/");
  // the same state again: no second message
  await send({
    ipv4: {
      ip: "203.0.113.7",
      consistent: true,
      answers: [{ provider: "p", ip: "203.0.113.7", latency_ms: 1, error: null }],
    },
  });
  await Bun.sleep(300);
  expect(
    telegram.delivered(CHAT).filter((c) => JSON.stringify(c.params).toLowerCase().includes("bypass")),
  ).toHaveLength(1);
});
