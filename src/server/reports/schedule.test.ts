import { expect, test } from "bun:test";
import { latestRun, parseReportSchedule, periodOf, type ReportSchedule } from "./schedule.ts";

const parse = (text: string, tz = "UTC") => parseReportSchedule(text, tz) as ReportSchedule;

test("weekly, daily and monthly schedules; anything else is a sentence saying how to write one", () => {
  expect(parse("mon 08:00")).toMatchObject({
    every: "weekly",
    weekday: 1,
    minute: 480,
    key: "mon 08:00 UTC",
  });
  expect(parse("Friday 7:05", "Europe/Berlin")).toMatchObject({
    every: "weekly",
    weekday: 5,
    key: "fri 07:05 Europe/Berlin",
    title: "Weekly report",
  });
  expect(parse("daily 23:59")).toMatchObject({ every: "daily", weekday: null, minute: 1439 });
  expect(parse("monthly 09:00")).toMatchObject({ every: "monthly", title: "Monthly report" });
  for (const bad of ["mon", "mon 24:00", "someday 08:00", "mon 8", "weekly 08:00"])
    expect(parseReportSchedule(bad)).toContain('like "mon 08:00"');
});

test("the latest run at or before a moment, in the schedule's zone, and the period it covers", () => {
  const weekly = parse("mon 08:00", "Europe/Berlin");
  // Wednesday 2026-11-25 12:00 UTC: the last run was Monday the 23rd, 08:00 CET = 07:00 UTC
  const wed = Date.parse("2026-11-25T12:00:00Z");
  const end = latestRun(weekly, wed);
  expect(new Date(end).toISOString()).toBe("2026-11-23T07:00:00.000Z");
  expect(latestRun(weekly, end)).toBe(end);
  expect(new Date(latestRun(weekly, end - 1)).toISOString()).toBe("2026-11-16T07:00:00.000Z");
  expect(periodOf(weekly, end)).toEqual({ from: Date.parse("2026-11-16T07:00:00Z"), to: end });

  const daily = parse("daily 07:30");
  expect(new Date(latestRun(daily, Date.parse("2026-11-25T07:29:00Z"))).toISOString()).toBe(
    "2026-11-24T07:30:00.000Z",
  );
  const monthly = parse("monthly 09:00");
  expect(periodOf(monthly, latestRun(monthly, Date.parse("2026-11-25T00:00:00Z")))).toEqual({
    from: Date.parse("2026-10-01T09:00:00Z"),
    to: Date.parse("2026-11-01T09:00:00Z"),
  });
});

test("across a daylight-saving change the wall clock time holds", () => {
  const weekly = parse("sun 08:00", "Europe/Berlin");
  // 2026-10-25 is the last Sunday of October: clocks go back; 08:00 CET = 07:00 UTC
  const end = latestRun(weekly, Date.parse("2026-10-26T00:00:00Z"));
  expect(new Date(end).toISOString()).toBe("2026-10-25T07:00:00.000Z");
  // a week earlier it was CEST: 08:00 = 06:00 UTC; that period is 169 hours long
  const { from } = periodOf(weekly, end);
  expect(new Date(from).toISOString()).toBe("2026-10-18T06:00:00.000Z");
});
