/**
 * Scheduled reports through the real server: every channel gets the weekly report once per
 * period (Telegram, ntfy, email with an HTML and a plain-text part), a channel whose filter
 * keeps info out does not; a server that was down at the scheduled time sends it when it is back,
 * once; restarts never send a period twice; a newly configured schedule does not send a period
 * that ended before it existed.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { SMTPServer } from "smtp-server";

import { fakeNtfy } from "./fakes/notify-services.ts";
import { FakeTelegram } from "./fakes/telegram.ts";
import { H } from "./helpers/history.ts";
import { openServerStore, startTestServer, tempDir } from "./helpers/server.ts";

const SUNDAY = Date.parse("2026-11-22T10:00:00Z");
const MONDAY_8 = Date.parse("2026-11-23T07:00:00Z"); // 08:00 in Europe/Berlin (CET)
const dir = tempDir("sentinel-reports-");
const clock = { t: SUNDAY };
const telegram = FakeTelegram.start();
const ntfy = fakeNtfy();
const mails: string[] = [];
const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ["STARTTLS"],
  logger: false,
  onData(stream, _session, cb) {
    let raw = "";
    stream.on("data", (c: Buffer) => {
      raw += c.toString();
    });
    stream.on("end", () => {
      mails.push(raw);
      cb();
    });
  },
});
let smtpPort = 0;

const start = () =>
  startTestServer({
    dataDir: dir.path,
    now: () => clock.t,
    reportSchedule: ["mon 08:00"],
    notifyTimezone: "Europe/Berlin",
    historyEveryMs: 50,
    telegramToken: "123:test-token",
    telegramChat: ["42"],
    telegramApiRoot: telegram.url,
    telegramMode: "off",
    notify: [
      `ntfy://${ntfy.host}/reports`,
      `ntfy://${ntfy.host}/problems-only?min=red`,
      `smtp://127.0.0.1:${smtpPort}/?from=sentinel@example.org&to=me@example.org`,
    ],
  });

const reportsAt = (topic: string) =>
  ntfy.delivered().filter((r) => (r.body as { topic: string; tags: string[] }).topic === topic);

beforeAll(async () => {
  await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", () => resolve()));
  smtpPort = (smtp.server.address() as { port: number }).port;
  // a week of history: a client that leaked DNS for an hour, one that was fine
  const store = await openServerStore(dir.path);
  for (const [id, name] of [
    ["c1", "living-room-pi"],
    ["c2", "office-wg"],
  ] as const)
    await store.clients.create({ id, name, createdAt: 0, secretEnc: "x" });
  const row = (at: number, status: string, causes: string) => ({
    at,
    status,
    liveness: "online",
    causes,
    exitIpv4: null,
    exitIpv6: null,
    resolvers: null,
  });
  await store.history.record("c1", row(SUNDAY - 6 * 24 * H, "green", ""));
  await store.history.record("c1", row(SUNDAY - 2 * H, "red", "dns:leak"));
  await store.history.record("c1", row(SUNDAY - H, "green", ""));
  await store.history.record("c2", row(SUNDAY - 6 * 24 * H, "green", ""));
  await store.close();
});
afterAll(async () => {
  await telegram.stop();
  await ntfy.stop();
  await new Promise<void>((r) => smtp.close(() => r()));
  dir.remove();
});

async function until(cond: () => boolean, what: string, ms = 5_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await Bun.sleep(20);
  }
}

test("a new schedule waits for its first scheduled time, then every channel that takes it gets the report once", async () => {
  const server = await start();
  await Bun.sleep(400); // several ticks on Sunday: last Monday's period predates the schedule
  expect(reportsAt("reports")).toHaveLength(0);
  expect(telegram.delivered()).toHaveLength(0);

  clock.t = MONDAY_8 + 30_000;
  await until(
    () => reportsAt("reports").length === 1 && telegram.delivered().length === 1 && mails.length === 1,
    "reports delivered",
  );
  await Bun.sleep(300); // more ticks in the same period: nothing more
  expect(reportsAt("reports")).toHaveLength(1);
  expect(reportsAt("problems-only")).toHaveLength(0); // ?min=red keeps the (info) report out
  expect(telegram.delivered()).toHaveLength(1);
  expect(mails).toHaveLength(1);

  const text = String(telegram.delivered()[0]?.params.text);
  expect(text).toContain("VPN Sentinel report");
  expect(text).toContain("Weekly report (mon 08:00 Europe/Berlin)");
  expect(text).toContain("2026-11-16 08:00 – 2026-11-23 08:00 (Europe/Berlin)");
  expect(text).toContain(
    "1. living-room-pi: protected 99.3 %, up 100 %; 1 DNS leak; recovered in 1h on average",
  );
  expect(text).toContain("1 client fully protected, without an incident.");
  const body = String((reportsAt("reports")[0]?.body as { message?: string } | undefined)?.message);
  expect(body).toContain("Incidents: 1 DNS leak (1h).");

  // the email: multipart/alternative, a plain-text part and an HTML part with the table
  const mail = mails[0] as string;
  expect(mail).toMatch(/Content-Type: multipart\/alternative/i);
  expect(mail).toMatch(/Content-Type: text\/plain/i);
  expect(mail).toMatch(/Content-Type: text\/html/i);
  expect(mail).toContain("<table");
  expect(mail.replace(/=\r?\n/g, "")).toContain("living-room-pi</td>");
  await server.stop();
}, 20_000);

test("down at the scheduled time: the missed report goes out once when the server is back; restarts send nothing twice", async () => {
  // the server was down over the next Monday 08:00
  clock.t = MONDAY_8 + 7 * 24 * H + 2 * H;
  let server = await start();
  await until(() => reportsAt("reports").length === 2, "the missed report");
  await Bun.sleep(300);
  await server.stop();
  server = await start(); // same period, again
  await Bun.sleep(400);
  await server.stop();
  expect(reportsAt("reports")).toHaveLength(2);
  expect(telegram.delivered()).toHaveLength(2);
  expect(mails).toHaveLength(2);
  const store = await openServerStore(dir.path);
  const runs = await store.reportRuns.list(10);
  await store.close();
  expect(runs.map((r) => [r.status, r.queued, r.note])).toEqual([
    ["sent", 3, "late: the server was not running at the scheduled time"],
    ["sent", 3, null],
    ["skipped", 0, "before this schedule was configured"],
  ]);
}, 20_000);
