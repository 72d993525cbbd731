/**
 * Anomaly flags end to end: history written by the real monitor, rolled up by day, judged
 * against each client's own past; report gaps watched as reports arrive.
 */
import { afterAll, expect, test } from "bun:test";
import { fixedChannels } from "../src/server/notify/channel.ts";
import { AnomalyJob } from "../src/server/reports/anomaly-job.ts";
import { DAY_MS, dayOf } from "../src/server/reports/fold.ts";
import { RollupJob } from "../src/server/reports/rollup.ts";
import { parseReportSchedule, type ReportSchedule } from "../src/server/reports/schedule.ts";
import { ReportScheduler } from "../src/server/reports/scheduler.ts";
import { DNS_LEAK, H, historyWorld } from "./helpers/history.ts";
import { quietLogger } from "./helpers/server.ts";
import { signIn } from "./web-helpers.ts";

const DAY0 = dayOf(Date.parse("2026-10-01T00:00:00Z"));
const worlds: { w: { close(): Promise<void> } }[] = [];
afterAll(async () => {
  for (const w of worlds) await w.w.close();
});

test("a client that starts leaking every day is flagged once, with the numbers, on the analytics page and in the weekly report; one that always leaks is not", async () => {
  const world = await historyWorld(DAY0 * DAY_MS);
  worlds.push(world);
  for (const name of ["leaky", "steady", "always-leaky"]) await world.add(name);
  for (let d = 0; d < 40; d++) {
    const noon = (DAY0 + d) * DAY_MS + 12 * H;
    await world.report("steady", noon);
    await world.report("leaky", noon - 2 * H, d >= 33 ? DNS_LEAK : {});
    await world.report("leaky", noon);
    await world.report("always-leaky", noon - 2 * H, DNS_LEAK);
    await world.report("always-leaky", noon);
  }
  const now = () => (DAY0 + 40) * DAY_MS + H;
  const anomalies = new AnomalyJob({
    store: world.w.store,
    monitor: world.w.monitor,
    now,
    logger: quietLogger(),
    alert: false,
  });
  const rollups = new RollupJob({
    store: world.w.store,
    now,
    logger: quietLogger(),
    onDay: async (day) => void (await anomalies.judgeDay(day)),
  });
  await rollups.run();
  const flags = await world.w.store.events.query({
    kinds: ["anomaly.leak_rate", "anomaly.flap_rate"],
    limit: 50,
  });
  // leaking twice a day also changed its status 14 times a week, against none before: both flags
  expect(flags.map((e) => [e.clientId, e.kind]).sort()).toEqual([
    [world.id("leaky"), "anomaly.flap_rate"],
    [world.id("leaky"), "anomaly.leak_rate"],
  ]);
  const flag = flags.find((e) => e.kind === "anomaly.leak_rate");
  expect(flag?.suppressed).toBe(true); // off for alerts by default
  expect(flag?.evidence).toMatchObject({ count: 7, dns: 7, baseline_median_per_week: 0, window_days: 7 });
  expect(String(flag?.evidence.reason)).toStartWith(
    "7 leaks (7 DNS) in the last 7 days; its 30-day baseline",
  );
  // shown on the dashboard (viewers too) and in the weekly report, numbers and all
  const viewer = await signIn(world.w.handle, "viewer");
  const analytics = await (
    await world.w.handle("/analytics?period=7d", { headers: { cookie: viewer.cookie } })
  ).text();
  const listed = analytics.slice(analytics.indexOf('id="anom-title"'));
  expect(listed).toContain("Unusual leak rate");
  expect(listed).toContain("7 leaks (7 DNS) in the last 7 days");
  const weekly = parseReportSchedule("mon 08:00") as ReportSchedule;
  const report = new ReportScheduler({
    store: world.w.store,
    channels: fixedChannels([]),
    schedules: [weekly],
    now,
    logger: quietLogger(),
  });
  const digest = await report.digest(weekly, now() - 7 * DAY_MS, now() + H);
  expect(digest.anomalies.map((a) => [a.client, a.title])).toEqual(
    [
      ["leaky", "Unusual flap rate"],
      ["leaky", "Unusual leak rate"],
    ].sort(),
  );
  // the same unusual week judged again: not news
  expect(await anomalies.judgeDay(DAY0 + 39)).toBe(0);
  // and a catch-up of old days judges none of them
  expect(await anomalies.judgeDay(DAY0 + 38)).toBe(0);
}, 30_000);

test("reports drifting late are flagged as they arrive (also on the unchanged-report fast path), and cleared", async () => {
  const world = await historyWorld(DAY0 * DAY_MS);
  worlds.push(world);
  await world.add("slow");
  let t = DAY0 * DAY_MS;
  const every = async (gap: number, times: number) => {
    for (let i = 0; i < times; i++) {
      t += gap;
      await world.report("slow", t);
    }
  };
  await every(42_000, 40); // interval 30 s
  await every(30_000, 60);
  const events = await world.w.store.events.query({ kinds: ["anomaly.report_gaps"], limit: 10 });
  expect(events.map((e) => [e.from, e.to])).toEqual([
    ["drifting", "normal"],
    ["normal", "drifting"],
  ]);
  expect(String(events[1]?.evidence.reason)).toContain("expected every 30s");
  expect(events[1]?.evidence).toMatchObject({ interval_s: 30 });
  expect(events.every((e) => e.suppressed)).toBe(true);
  // the drift was news; the reports themselves changed nothing: one history row
  expect(await world.w.store.history.range(world.id("slow"), 0, t)).toHaveLength(1);
});
