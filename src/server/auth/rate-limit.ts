/**
 * A token bucket per key (address, client, user). Small and dependency-free: community
 * limiters key by server.requestIP, which is absent under app.handle in tests.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    /** tokens added per second */
    private readonly ratePerS: number,
    /** bucket size: how many requests may come at once */
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token. Returns 0 when allowed, else the seconds until a token is available. */
  take(key: string): number {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.ratePerS);
    b.at = t;
    if (this.buckets.size > 100_000) this.evictFull(t);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      this.buckets.set(key, b);
      return 0;
    }
    this.buckets.set(key, b);
    return (1 - b.tokens) / this.ratePerS;
  }

  /** Forget buckets that have refilled, so a scan of many addresses cannot grow memory forever. */
  private evictFull(t: number) {
    for (const [k, b] of this.buckets)
      if (b.tokens + ((t - b.at) / 1000) * this.ratePerS >= this.burst) this.buckets.delete(k);
  }
}
