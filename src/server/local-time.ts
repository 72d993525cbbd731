/** Times as people read them in messages and reports, in the configured IANA zone. Pure. */

/** "2026-11-20 14:03 UTC" in the configured zone ("2026-11-20 14:03" without its name). */
export function formatTime(at: number, timeZone: string, { zoneName = true } = {}): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    ...(zoneName ? { timeZoneName: "short" } : {}),
  }).formatToParts(new Date(at));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  const time = `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}`;
  return zoneName ? `${time} ${get("timeZoneName")}` : time;
}
