import { describe, expect, test } from "bun:test";
import { Backoff, ProviderPool, parseRetryAfter } from "./backoff.ts";

describe("Backoff", () => {
  test("doubles from base up to the cap, and success resets it", () => {
    const b = new Backoff({ baseMs: 1000, maxMs: 60_000 });
    const delays = Array.from({ length: 9 }, () => b.fail(0));
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    expect(b.ready(59_999)).toBe(false);
    expect(b.ready(60_000)).toBe(true);
    b.succeed();
    expect(b.fail(0)).toBe(1000);
  });

  test("jitter only shortens the delay, by at most the given share", () => {
    const b = new Backoff({ baseMs: 10_000, maxMs: 60_000, jitter: 0.2 }, () => 1);
    expect(b.fail(0)).toBe(8000);
    const c = new Backoff({ baseMs: 10_000, maxMs: 60_000, jitter: 0.2 }, () => 0);
    expect(c.fail(0)).toBe(10_000);
  });

  test("Retry-After wins over the exponential delay and is clamped", () => {
    const b = new Backoff({ baseMs: 1000, maxMs: 60_000, maxRetryAfterMs: 600_000 });
    expect(b.fail(1000, 120_000)).toBe(120_000);
    expect(b.until).toBe(121_000);
    expect(b.reason).toBe("retry-after");
    expect(b.fail(0, 86_400_000)).toBe(600_000);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-11-01T12:00:00Z");
  test("seconds", () => expect(parseRetryAfter("120", now)).toBe(120_000));
  test("HTTP date", () => expect(parseRetryAfter("Sun, 01 Nov 2026 12:01:00 GMT", now)).toBe(60_000));
  test("date in the past means now", () =>
    expect(parseRetryAfter("Sun, 01 Nov 2026 11:00:00 GMT", now)).toBe(0));
  test("absent or garbage", () => {
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter("soon", now)).toBeNull();
  });
});

describe("ProviderPool", () => {
  test("each provider backs off on its own", () => {
    const pool = new ProviderPool({ baseMs: 1000, maxMs: 8000 });
    pool.failure("a", 0);
    pool.failure("a", 0);
    expect(pool.waitFor("a", 0)).toBe(2000);
    expect(pool.waitFor("b", 0)).toBe(0);
    pool.success("a");
    expect(pool.waitFor("a", 0)).toBe(0);
  });

  test("forgetFailures keeps a server's Retry-After", () => {
    const pool = new ProviderPool({ baseMs: 1000, maxMs: 8000 });
    pool.failure("flaky", 0);
    pool.failure("limited", 0, 300_000);
    pool.forgetFailures();
    expect(pool.waitFor("flaky", 0)).toBe(0);
    expect(pool.waitFor("limited", 0)).toBe(300_000);
    expect(pool.reasonFor("limited")).toBe("Retry-After");
  });
});
