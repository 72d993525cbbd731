/**
 * Anomaly flags that explain themselves: each compares a client with its own past and says
 * the numbers behind the flag. Pure: counts in, a verdict (or null) out.
 *
 * - Rates (leaks, flaps): the robust z-score of the last 7 days' count against the client's
 *   30-day baseline of 7-day counts: z = (count - median) / max(1.4826 × MAD, 1). Median and MAD
 *   shrug off the odd bad week in the baseline; the floor of 1 keeps a quiet baseline (median
 *   0, MAD 0) from flagging a single event. Flagged at z ≥ 3 with a minimum count.
 * - Report gaps: an exponentially weighted moving average of the gaps between reports, as a
 *   ratio to the interval. A client whose reports drift late (a slow link, a busy Pi) is
 *   flagged before it misses a deadline, and cleared when the average is back near 1.
 */
import { formatDuration } from "../../config/duration.ts";

export const RATE_WINDOW_DAYS = 7;
export const BASELINE_DAYS = 30;
/** at least this many of the baseline's days must have been observed */
export const MIN_BASELINE_DAYS = 14;
export const Z_THRESHOLD = 3;

export interface RobustScore {
  median: number;
  mad: number;
  z: number;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0
    ? 0
    : s.length % 2
      ? (s[mid] as number)
      : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

export function robustZ(value: number, baseline: readonly number[]): RobustScore {
  const m = median(baseline);
  const mad = median(baseline.map((x) => Math.abs(x - m)));
  return { median: m, mad, z: (value - m) / Math.max(1.4826 * mad, 1) };
}

export interface RateInput {
  /** daily counts, oldest first, ending with the day judged: BASELINE_DAYS + RATE_WINDOW_DAYS of them */
  counts: readonly number[];
  /** whether each of those days was observed (the client was seen and the server up) */
  observed: readonly boolean[];
  /** the smallest 7-day count worth a flag */
  minCount: number;
}

export interface RateAnomaly extends RobustScore {
  count: number;
  baselineDays: number;
}

/** The last 7 days against the 30 before them; null when normal or when the baseline is too thin. */
export function rateAnomaly({ counts, observed, minCount }: RateInput): RateAnomaly | null {
  const n = counts.length;
  if (n < RATE_WINDOW_DAYS + MIN_BASELINE_DAYS) return null;
  const sum = (from: number, to: number) => counts.slice(from, to).reduce((a, b) => a + b, 0);
  const count = sum(n - RATE_WINDOW_DAYS, n);
  const baselineStart = Math.max(0, n - RATE_WINDOW_DAYS - BASELINE_DAYS);
  const baselineEnd = n - RATE_WINDOW_DAYS;
  const baselineDays = observed.slice(baselineStart, baselineEnd).filter(Boolean).length;
  if (count < minCount || baselineDays < MIN_BASELINE_DAYS) return null;
  // every 7-day window that lies inside the baseline
  const weeks: number[] = [];
  for (let end = baselineStart + RATE_WINDOW_DAYS; end <= baselineEnd; end++)
    weeks.push(sum(end - RATE_WINDOW_DAYS, end));
  const score = robustZ(count, weeks);
  return score.z >= Z_THRESHOLD ? { ...score, count, baselineDays } : null;
}

const round = (x: number) => Math.round(x * 10) / 10;

/** "7 leaks (5 DNS, 2 bypass) in the last 7 days; its 30-day baseline: median 0.5 per week (robust z 6.2)." */
export function describeRate(what: string, a: RateAnomaly, detail = ""): string {
  return `${a.count} ${what}${detail} in the last ${RATE_WINDOW_DAYS} days; its ${a.baselineDays}-day baseline: median ${round(a.median)} per week, MAD ${round(a.mad)} (robust z ${round(a.z)}).`;
}

// ---- report gaps -----------------------------------------------------------------------------

export const GAP_ALPHA = 0.1;
/** gaps seen before the average is trusted */
export const GAP_MIN_SAMPLES = 20;
export const GAP_DRIFT_RATIO = 1.3;
export const GAP_CLEAR_RATIO = 1.1;

export interface GapState {
  /** EWMA of gap / interval */
  ewma: number;
  samples: number;
  drifting: boolean;
}

export const NO_GAPS: GapState = { ewma: 1, samples: 0, drifting: false };

export interface GapChange {
  state: GapState;
  /** set when the client starts or stops drifting */
  flip: { to: "drifting" | "normal"; reason: string; ewmaGapMs: number; intervalMs: number } | null;
}

/**
 * One more gap between two reports. Gaps beyond interval + grace are silences the offline
 * verdict already speaks for, and are left out, as are replayed reports (not told by the caller).
 */
export function observeGap(s: GapState, gapMs: number, intervalMs: number, graceMs: number): GapChange {
  if (gapMs <= 0 || intervalMs <= 0 || gapMs > intervalMs + graceMs) return { state: s, flip: null };
  const ewma =
    s.samples === 0 ? gapMs / intervalMs : GAP_ALPHA * (gapMs / intervalMs) + (1 - GAP_ALPHA) * s.ewma;
  const samples = s.samples + 1;
  const ewmaGapMs = Math.round(ewma * intervalMs);
  const every = `Reports arrive every ${formatDuration(ewmaGapMs)} on average (EWMA, α ${GAP_ALPHA}), expected every ${formatDuration(intervalMs)}`;
  if (!s.drifting && samples >= GAP_MIN_SAMPLES && ewma >= GAP_DRIFT_RATIO)
    return {
      state: { ewma, samples, drifting: true },
      flip: {
        to: "drifting",
        reason: `${every}: ${Math.round((ewma - 1) * 100)} % late, before any deadline is missed.`,
        ewmaGapMs,
        intervalMs,
      },
    };
  if (s.drifting && ewma <= GAP_CLEAR_RATIO)
    return {
      state: { ewma, samples, drifting: false },
      flip: { to: "normal", reason: `${every}: back on time.`, ewmaGapMs, intervalMs },
    };
  return { state: { ewma, samples, drifting: s.drifting }, flip: null };
}
