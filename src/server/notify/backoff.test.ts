import { describe, expect, test } from "bun:test";
import { GIVE_UP_AFTER_MS, pastGiveUp, RETRY_CAP_MS, retryDelayMs } from "./backoff.ts";
import { Pacer } from "./pacing.ts";

describe("retryDelayMs", () => {
  test("doubles per attempt with jitter between half and all of it, capped at 10 min", () => {
    expect(retryDelayMs(1, () => 0)).toBe(1_000);
    expect(retryDelayMs(1, () => 1)).toBe(2_000);
    expect(retryDelayMs(4, () => 0.5)).toBe(12_000);
    for (let a = 1; a < 40; a++) expect(retryDelayMs(a, Math.random)).toBeLessThanOrEqual(RETRY_CAP_MS);
    expect(retryDelayMs(30, () => 1)).toBe(RETRY_CAP_MS);
    expect(retryDelayMs(30, () => 0)).toBe(RETRY_CAP_MS / 2);
  });
  test("gives up after 24 h", () => {
    expect(pastGiveUp(0, GIVE_UP_AFTER_MS)).toBe(false);
    expect(pastGiveUp(0, GIVE_UP_AFTER_MS + 1)).toBe(true);
  });
});

describe("Pacer", () => {
  test("1 message/s per chat", () => {
    const p = new Pacer(() => ({ minIntervalMs: 1000 }));
    expect(p.delay("a", 0)).toBe(0);
    p.record("a", 0);
    expect(p.delay("a", 400)).toBe(600);
    expect(p.delay("b", 400)).toBe(0); // another chat is not held back
    expect(p.delay("a", 1000)).toBe(0);
  });
  test("20 per minute per group, measured over a simulated minute", () => {
    const p = new Pacer(() => ({ minIntervalMs: 1000, perMinute: 20 }));
    const sent: number[] = [];
    for (let t = 0; t < 120_000; t += 250) {
      if (p.delay("g", t) === 0) {
        p.record("g", t);
        sent.push(t);
      }
    }
    for (let i = 20; i < sent.length; i++)
      expect((sent[i] as number) - (sent[i - 20] as number)).toBeGreaterThanOrEqual(60_000);
    expect(sent.filter((t) => t < 60_000)).toHaveLength(20);
    expect(sent.length).toBe(40);
  });
});
