/**
 * Report schedules: "mon 08:00" (weekly), "daily 07:30", "monthly 09:00" (the 1st), judged in an
 * IANA time zone. A report covers the period between two scheduled times: the week from last
 * Monday 08:00 to this one. Pure: parse once, then ask for the latest scheduled time at or
 * before a moment; the one before it starts the period.
 */

const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
const FULL_DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"] as const;

export interface ReportSchedule {
  /** "mon 08:00 Europe/Berlin": the schedule and its zone, the key of its runs */
  key: string;
  every: "daily" | "weekly" | "monthly";
  /** weekly: 0 = Sunday */
  weekday: number | null;
  /** minutes after local midnight */
  minute: number;
  timeZone: string;
  /** "Weekly report" */
  title: string;
}

const TITLES = { daily: "Daily report", weekly: "Weekly report", monthly: "Monthly report" } as const;

/** Parses one schedule; returns a sentence saying what is wrong with bad text. */
export function parseReportSchedule(text: string, timeZone = "UTC"): ReportSchedule | string {
  const m = /^\s*([a-z]+)\s+([01]?\d|2[0-3]):([0-5]\d)\s*$/i.exec(text);
  const bad = `"${text}" is not a schedule like "mon 08:00" (weekly), "daily 07:30" or "monthly 09:00" (the 1st)`;
  if (!m) return bad;
  const word = (m[1] as string).toLowerCase();
  const minute = Number(m[2]) * 60 + Number(m[3]);
  const time = `${String(m[2]).padStart(2, "0")}:${m[3]}`;
  const day = DAYS.findIndex((d, i) => word === d || word === FULL_DAYS[i]);
  const every = word === "daily" ? "daily" : word === "monthly" ? "monthly" : day >= 0 ? "weekly" : null;
  if (every === null) return bad;
  const label = every === "weekly" ? DAYS[day] : every;
  return {
    key: `${label} ${time} ${timeZone}`,
    every,
    weekday: every === "weekly" ? day : null,
    minute,
    timeZone,
    title: TITLES[every],
  };
}

interface LocalDate {
  year: number;
  month: number;
  day: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function localParts(at: number, timeZone: string) {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      hourCycle: "h23",
    });
    formatters.set(timeZone, f);
  }
  const p = Object.fromEntries(f.formatToParts(new Date(at)).map((x) => [x.type, Number(x.value)]));
  return p as { year: number; month: number; day: number; hour: number; minute: number; second: number };
}

/** How far the zone's wall clock is ahead of UTC at `at` (ms). */
function offset(at: number, timeZone: string): number {
  const p = localParts(at, timeZone);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(at / 1000) * 1000;
}

/** The moment a local date and minute of the day happen in `timeZone` (DST-aware). */
export function zonedTime(date: LocalDate, minute: number, timeZone: string): number {
  const wall = Date.UTC(date.year, date.month - 1, date.day, 0, minute);
  const first = wall - offset(wall, timeZone);
  return wall - offset(first, timeZone);
}

/** The latest scheduled time at or before `at`. */
export function latestRun(s: ReportSchedule, at: number): number {
  const today = localParts(at, s.timeZone);
  for (let back = 0; ; back++) {
    const d = new Date(Date.UTC(today.year, today.month - 1, today.day - back));
    const date = { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
    if (s.every === "weekly" && d.getUTCDay() !== s.weekday) continue;
    if (s.every === "monthly" && date.day !== 1) continue;
    const t = zonedTime(date, s.minute, s.timeZone);
    if (t <= at) return t;
  }
}

/** The period a run at scheduled time `end` reports on: from the scheduled time before it. */
export function periodOf(s: ReportSchedule, end: number): { from: number; to: number } {
  return { from: latestRun(s, end - 1), to: end };
}
