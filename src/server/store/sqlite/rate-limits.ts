/** Token buckets in memory: SQLite has one server process, so memory is the whole truth. */
import { RateLimiter } from "../../auth/rate-limit.ts";
import type { RateLimitRepository } from "../types.ts";
import type { Sync } from "./sync.ts";

export function memoryRateLimits(): Sync<RateLimitRepository> {
  const limiters = new Map<string, { limiter: RateLimiter; now: number }>();
  return {
    take(bucket, key, ratePerS, burst, now) {
      const id = `${bucket}\u0000${ratePerS}\u0000${burst}`;
      let entry = limiters.get(id);
      if (!entry) {
        const created = { now, limiter: null as unknown as RateLimiter };
        created.limiter = new RateLimiter(ratePerS, burst, () => created.now);
        limiters.set(id, created);
        entry = created;
      }
      entry.now = now;
      return entry.limiter.take(key);
    },
  };
}
