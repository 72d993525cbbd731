/**
 * Weekly maintenance windows ("sun 02:00-04:00", "mon-fri 23:30-00:15", "daily 03:00-03:10"),
 * judged in a configured IANA time zone. Pure: parse once, then ask `inWindow(windows, at, tz)`.
 */

const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;

export interface MaintenanceWindow {
  /** the text it was parsed from, shown in suppression reasons */
  text: string;
  /** days (0 = Sunday) on which the window starts */
  days: Set<number>;
  /** minutes after midnight */
  start: number;
  end: number;
}

const minutes = (hhmm: string): number | null => {
  const m = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
};

/** Parses one window; returns an error message for bad text. */
export function parseMaintenanceWindow(text: string): MaintenanceWindow | string {
  const m = /^\s*([a-z*]+(?:-[a-z]+)?)\s+(\d{1,2}:\d{2})-(\d{1,2}:\d{2})\s*$/i.exec(text);
  if (!m) return `"${text}" is not a window like "sun 02:00-04:00" or "daily 03:00-03:30"`;
  const dayText = (m[1] as string).toLowerCase();
  const start = minutes(m[2] as string);
  const end = minutes(m[3] as string);
  if (start === null || end === null || start === end) return `"${text}" has a bad time range`;
  const days = new Set<number>();
  if (dayText === "daily" || dayText === "*") for (let d = 0; d < 7; d++) days.add(d);
  else {
    const [a, b = a] = dayText.split("-");
    const from = DAYS.indexOf((a as string).slice(0, 3) as (typeof DAYS)[number]);
    const to = DAYS.indexOf((b as string).slice(0, 3) as (typeof DAYS)[number]);
    if (from < 0 || to < 0)
      return `"${text}" has an unknown day (use sun, mon, ..., sat, a range like mon-fri, or daily)`;
    for (let d = from; ; d = (d + 1) % 7) {
      days.add(d);
      if (d === to) break;
    }
  }
  return { text: text.trim(), days, start, end };
}

/** Day of week (0 = Sunday) and minute of day of `at` in time zone `tz`. */
export function localTime(at: number, tz: string): { day: number; minute: number } {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: tz,
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(new Date(at));
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  const day = DAYS.indexOf(get("weekday").toLowerCase().slice(0, 3) as (typeof DAYS)[number]);
  return { day, minute: Number(get("hour")) * 60 + Number(get("minute")) };
}

/** The window `at` falls in, or null. A window that crosses midnight continues into the next day. */
export function activeWindow(
  windows: readonly MaintenanceWindow[],
  at: number,
  tz: string,
): MaintenanceWindow | null {
  const { day, minute } = localTime(at, tz);
  for (const w of windows) {
    if (w.start < w.end) {
      if (w.days.has(day) && minute >= w.start && minute < w.end) return w;
    } else if ((w.days.has(day) && minute >= w.start) || (w.days.has((day + 6) % 7) && minute < w.end))
      return w;
  }
  return null;
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
