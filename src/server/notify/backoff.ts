/** Retry timing for failed deliveries: pure, so tests can pin the random source. */

export const RETRY_BASE_MS = 2_000;
export const RETRY_CAP_MS = 10 * 60_000;
/** A notification older than this is marked failed instead of being retried again. */
export const GIVE_UP_AFTER_MS = 24 * 3_600_000;

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so retries from
 * many rows spread out (no thundering herd after an outage) yet never retry immediately.
 * `attempt` counts failures so far (1 after the first failure).
 */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  const exp = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.max(0, attempt - 1));
  return Math.min(RETRY_CAP_MS, Math.round(exp / 2 + (exp / 2) * random()));
}

/** True when a row created at `createdAt` should not be tried again at `nextAt`. */
export function pastGiveUp(createdAt: number, nextAt: number, maxAgeMs = GIVE_UP_AFTER_MS): boolean {
  return nextAt - createdAt > maxAgeMs;
}
