/** Small, pure formatting helpers for the dashboard (times, durations, countries). */
import { formatUtcTime } from "../../config/duration.ts";

/** "just now", "12 s ago", "5 min ago", "3 h ago", "2 d ago". */
export function ago(at: number | null, now: number): string {
  if (at === null) return "never";
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 2) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** "45 s", "12 min", "3 h 5 min", "2 d 4 h": two units at most, because more is noise. */
export function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** ISO time without milliseconds, for datetime attributes and tooltips. */
export const isoTime = (at: number) => new Date(at).toISOString().replace(/\.\d{3}Z$/, "Z");

/** "2026-11-03 14:05:09 UTC": the same words the monitor's reasons use. */
export const utcTime = formatUtcTime;

/** "14:05 UTC" on the same UTC day as `now`, else "2026-11-03 14:05 UTC": short enough for a table row. */
export function shortUtcTime(at: number, now: number): string {
  const full = utcTime(at);
  return full.slice(0, 10) === utcTime(now).slice(0, 10)
    ? `${full.slice(11, 16)} UTC`
    : `${full.slice(0, 16)} UTC`;
}

const regionNames = new Intl.DisplayNames(["en"], { type: "region" });

/** "Germany" for "DE"; the code itself when unknown. */
export function countryName(code: string | null | undefined): string | null {
  if (!code) return null;
  try {
    return regionNames.of(code.toUpperCase()) ?? code;
  } catch {
    return code;
  }
}

export const percent = (fraction: number | null) =>
  fraction === null
    ? "no data"
    : `${(Math.floor(fraction * 1000) / 10).toFixed(fraction >= 0.9995 ? 0 : 1)} %`;
