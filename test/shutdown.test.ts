/**
 * Stopping the server: requests in flight are answered, none with a 5xx; and one SIGTERM ends
 * the real `sentinel server` process within 5 s whatever state the Telegram Bot API is in,
 * with no ERROR line and the outbox claims given back, so the next start delivers at once.
 */
import { describe, expect, test } from "bun:test";
import { loadKeyring } from "../src/server/auth/keyring.ts";
import { enrollClient } from "../src/server/enrollment.ts";
import { BOT_API_STATES, type BotApiInState, startBotApi } from "./fakes/bot-api-states.ts";
import { startServerProcess } from "./helpers/process-server.ts";
import { sampleReport, signedPost } from "./helpers/report.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";

test("stop() during a burst of reports: every answered request is a 202, none a 5xx", async () => {
  const dir = tempDir();
  const store = await openServerStore(dir.path);
  const creds = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      enrollClient(store, loadKeyring(dir.path), `c${i}`, "http://x", Date.now()),
    ),
  );
  await store.close();
  const server = await startTestServer({ dataDir: dir.path });
  const statuses: number[] = [];
  const shed: string[] = [];
  const inflight = creds.flatMap((c) =>
    Array.from({ length: 10 }, () =>
      fetch(signedPost(server.url, c, JSON.stringify(sampleReport())))
        .then(async (r) => {
          const body = await r.text();
          // PostgreSQL's admission control turns a burst beyond its queue away at the door
          // (503 + Retry-After, nothing acknowledged): load shedding, not the stop
          if (r.status === 503 && body.includes("the database is overloaded") && r.headers.get("retry-after"))
            shed.push(body);
          else statuses.push(r.status);
        })
        .catch(() => statuses.push(0)),
    ),
  );
  // stop once the first answer is out, with the rest of the burst still in flight
  for (let waited = 0; !statuses.includes(202) && waited < 10_000; waited += 1) await Bun.sleep(1);
  await server.stop();
  await Promise.all(inflight);
  expect(statuses.filter((s) => s >= 500)).toEqual([]);
  if (!process.env.SENTINEL_TEST_POSTGRES) expect(shed).toEqual([]);
  expect(statuses.filter((s) => s === 202).length).toBeGreaterThan(0);
  dir.remove();
});

const TOKEN = "123456:TEST-token-for-the-shutdown-test";
const CHAT = "111";

/** `sentinel server` with Telegram pointed at `api`, announcing its start (one outbox row). */
const startWithTelegram = (dataDir: string, api: { url: string }) =>
  startServerProcess(
    [
      "--data-dir",
      dataDir,
      "--telegram-chat",
      CHAT,
      "--telegram-api-root",
      api.url,
      "--notify-server-started",
      "--log-format",
      "json",
    ],
    { SENTINEL_TELEGRAM_TOKEN: TOKEN },
  );

async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

const errorLines = (log: string) =>
  log.split("\n").filter((l) => l.includes('"level":"error"') || l.includes('"level":"fatal"'));

describe("SIGTERM stops `sentinel server` within 5 s whatever the Bot API does", () => {
  for (const state of BOT_API_STATES) {
    test(`Bot API ${state}`, async () => {
      const dir = tempDir();
      const api: BotApiInState = await startBotApi(state);
      try {
        const server = await startWithTelegram(dir.path, api);
        // the bot polls (or tries to) and the server.started alert is on its way (or stuck)
        if (state === "refusing") await Bun.sleep(1_500);
        else await until("the bot and the outbox to reach the Bot API", () => api.seen() >= 2);
        await Bun.sleep(300);
        const t0 = performance.now();
        server.proc.kill("SIGTERM");
        const exited = await Promise.race([server.proc.exited, Bun.sleep(15_000).then(() => null)]);
        const ms = performance.now() - t0;
        if (exited === null) server.proc.kill("SIGKILL");
        await server.proc.exited;
        const log = server.log();
        expect(exited, log).toBe(0);
        expect(ms, log).toBeLessThan(5_000);
        expect(errorLines(log)).toEqual([]);
        const store = await openServerStore(dir.path);
        const rows = await store.outbox.list({ limit: 10 });
        await store.close();
        expect(rows.map((r) => r.kind)).toEqual(["server.started"]);
        // no claim outlives the process
        expect(rows.filter((r) => r.status === "sending" || r.claimedBy !== null)).toEqual([]);
      } finally {
        await api.stop();
        dir.remove();
      }
    }, 30_000);
  }

  test("an alert stuck on a black-holed Bot API goes out at once after a restart", async () => {
    const dir = tempDir();
    const hole = await startBotApi("black-holed");
    const answering = await startBotApi("answering");
    try {
      const first = await startWithTelegram(dir.path, hole);
      await until("a delivery to hang", () => hole.seen() >= 2);
      await Bun.sleep(300);
      await first.stop();
      const store = await openServerStore(dir.path);
      const [row] = await store.outbox.list({ limit: 1 });
      await store.close();
      // given back without counting a failed attempt, due now (not after a 2-minute lease or a backoff)
      expect(row).toMatchObject({ kind: "server.started", status: "pending", attempts: 0 });
      expect(row?.nextAttemptAt).toBeLessThanOrEqual(Date.now());

      const t0 = Date.now();
      const second = await startWithTelegram(dir.path, answering);
      await until("both start messages to be delivered", () => answering.seen("sendMessage") >= 2);
      expect(Date.now() - t0).toBeLessThan(5_000);
      const log = await second.stop();
      expect(errorLines(log)).toEqual([]);
    } finally {
      await hole.stop();
      await answering.stop();
      dir.remove();
    }
  }, 30_000);
});
