/** --notify-client-limit N/PERIOD: at most N alerts per client and channel target in PERIOD. */
import { formatDuration, parseDuration } from "../../config/duration.ts";

export interface ClientLimit {
  count: number;
  periodMs: number;
  /** as the user wrote it, normalized ("6/1h") */
  text: string;
}

export function parseClientLimit(text: string): ClientLimit | string {
  const m = /^\s*(\d{1,6})\s*\/\s*(\S+)\s*$/.exec(text);
  if (!m) return "must look like N/PERIOD, e.g. 6/1h";
  const count = Number(m[1]);
  const periodMs = parseDuration(m[2] as string);
  if (count < 1) return "N must be at least 1";
  if (periodMs === null || periodMs < 60_000 || periodMs > 7 * 86_400_000)
    return "PERIOD must be a duration between 1m and 7d (e.g. 1h)";
  return { count, periodMs, text: `${count}/${formatDuration(periodMs)}` };
}
