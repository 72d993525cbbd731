/**
 * Uptime and protected time over a window, computed from the change-only history rows.
 * Pure: rows and the server's own downtime come in, durations come out.
 *
 * - up: the client was online or late (it kept reporting, maybe a bit slowly)
 * - protected: the overall status was green (every verdict positively ok)
 * - unknown: before the client was first seen, and while the server itself was down;
 *   ratios are taken over the known time only, so server downtime is never client downtime.
 */
import type { HistoryRow } from "../store/index.ts";

export interface UptimeSummary {
  from: number;
  to: number;
  known_ms: number;
  unknown_ms: number;
  up_ms: number;
  offline_ms: number;
  status_ms: Record<"green" | "yellow" | "red" | "grey", number>;
  /** up / known, null when nothing is known */
  uptime: number | null;
  /** green / known, null when nothing is known */
  protected: number | null;
}

export interface Segment {
  from: number;
  to: number;
  row: HistoryRow | null;
}

/** Cuts [from, to] into segments, each with the history row in force (null = unknown). */
export function segments(rows: HistoryRow[], from: number, to: number): Segment[] {
  const sorted = [...rows].sort((a, b) => a.at - b.at);
  const out: Segment[] = [];
  let cursor = from;
  let current: HistoryRow | null = null;
  for (const row of sorted) {
    if (row.at <= from) {
      current = row;
      continue;
    }
    if (row.at >= to) break;
    out.push({ from: cursor, to: row.at, row: current });
    cursor = row.at;
    current = row;
  }
  out.push({ from: cursor, to, row: current });
  return out.filter((s) => s.to > s.from);
}

function overlap(a: { from: number; to: number }, b: { from: number; to: number }): number {
  return Math.max(0, Math.min(a.to, b.to) - Math.max(a.from, b.from));
}

export function summariseUptime(
  rows: HistoryRow[],
  downtimes: { from: number; to: number }[],
  from: number,
  to: number,
): UptimeSummary {
  const status_ms = { green: 0, yellow: 0, red: 0, grey: 0 };
  let known = 0;
  let up = 0;
  let offline = 0;
  for (const seg of segments(rows, from, to)) {
    const length = seg.to - seg.from;
    const down = downtimes.reduce((sum, d) => sum + overlap(seg, d), 0);
    const k = seg.row && seg.row.liveness !== "never" ? length - down : 0;
    if (!seg.row || k <= 0) continue;
    known += k;
    if (seg.row.liveness === "online" || seg.row.liveness === "late") up += k;
    if (seg.row.liveness === "offline") offline += k;
    const s = seg.row.status as keyof typeof status_ms;
    if (s in status_ms) status_ms[s] += k;
  }
  return {
    from,
    to,
    known_ms: known,
    unknown_ms: to - from - known,
    up_ms: up,
    offline_ms: offline,
    status_ms,
    uptime: known ? up / known : null,
    protected: known ? status_ms.green / known : null,
  };
}

/** Consecutive stretches of one exit (or resolver set), with durations, newest first. */
export function stretches(rows: HistoryRow[], key: (r: HistoryRow) => string | null, now: number) {
  const sorted = [...rows].sort((a, b) => a.at - b.at);
  const out: { value: string; from: number; to: number; duration_ms: number }[] = [];
  for (const row of sorted) {
    const value = key(row);
    const last = out.at(-1);
    if (last && last.value === value) continue;
    if (last) {
      last.to = row.at;
      last.duration_ms = row.at - last.from;
    }
    if (value !== null) out.push({ value, from: row.at, to: now, duration_ms: now - row.at });
    else if (last) out.push({ value: "", from: row.at, to: now, duration_ms: now - row.at });
  }
  return out.filter((s) => s.value !== "").reverse();
}
