/**
 * Back-off bookkeeping, kept free of timers so that callers decide when to act:
 * `Backoff` for one thing (the client's report sender), `ProviderPool` for many IP providers
 * (the client's probes and the server's home-identity probe share it).
 */

export interface BackoffOptions {
  /** First delay after a failure. */
  baseMs: number;
  /** Upper bound for the exponential delay (a server's Retry-After may go beyond it up to maxRetryAfterMs). */
  maxMs: number;
  /** Longest Retry-After honoured; a bigger one is clamped so a typo on the server cannot silence us for days. */
  maxRetryAfterMs?: number;
  /** Random spread 0..1 applied to the delay, so many clients do not retry in lock step. */
  jitter?: number;
}

export class Backoff {
  private failures = 0;
  /** Epoch ms before which no new attempt should be made. */
  until = 0;
  /** Why we are waiting: "retry-after" when the server asked for it. */
  reason: "failure" | "retry-after" | null = null;

  constructor(
    private readonly opts: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {}

  get failureCount(): number {
    return this.failures;
  }

  /** Records a failure at `now`; returns the delay until the next attempt. */
  fail(now: number, retryAfterMs?: number | null): number {
    this.failures++;
    let delay: number;
    if (retryAfterMs !== undefined && retryAfterMs !== null && retryAfterMs >= 0) {
      delay = Math.min(retryAfterMs, this.opts.maxRetryAfterMs ?? 3_600_000);
      this.reason = "retry-after";
    } else {
      const exp = Math.min(this.opts.maxMs, this.opts.baseMs * 2 ** (this.failures - 1));
      delay = Math.round(exp * (1 - (this.opts.jitter ?? 0) * this.random()));
      this.reason = "failure";
    }
    this.until = now + delay;
    return delay;
  }

  succeed(): void {
    this.failures = 0;
    this.until = 0;
    this.reason = null;
  }

  ready(now: number): boolean {
    return now >= this.until;
  }
}

/** Parses Retry-After (delta seconds or HTTP date) into ms from `now`; null when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

export const PROVIDER_BACKOFF: BackoffOptions = {
  baseMs: 60_000,
  maxMs: 15 * 60_000,
  maxRetryAfterMs: 3_600_000,
  jitter: 0.2,
};

/** Per-provider back-off state, keyed by provider URL. */
export class ProviderPool {
  private readonly states = new Map<string, Backoff>();

  constructor(
    private readonly opts: BackoffOptions = PROVIDER_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {}

  private state(provider: string): Backoff {
    let s = this.states.get(provider);
    if (!s) {
      s = new Backoff(this.opts, this.random);
      this.states.set(provider, s);
    }
    return s;
  }

  /** ms the provider still has to wait, 0 when it may be asked now. */
  waitFor(provider: string, now: number): number {
    const s = this.states.get(provider);
    return s ? Math.max(0, s.until - now) : 0;
  }

  /** Why the provider waits, for the report's error text. */
  reasonFor(provider: string): string {
    return this.states.get(provider)?.reason === "retry-after" ? "Retry-After" : "failures";
  }

  success(provider: string): void {
    this.states.get(provider)?.succeed();
  }

  failure(provider: string, now: number, retryAfterMs?: number | null): number {
    return this.state(provider).fail(now, retryAfterMs);
  }

  /**
   * Forgets exponential back-off (not a server's Retry-After): called when the network path
   * changed, because failures seen on the old path say nothing about the providers.
   */
  forgetFailures(): void {
    for (const [key, s] of this.states) if (s.reason !== "retry-after") this.states.delete(key);
  }
}
