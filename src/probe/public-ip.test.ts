import { afterAll, describe, expect, test } from "bun:test";
import { startFakeEcho } from "../../test/fakes/echo.ts";
import { ProviderPool } from "./backoff.ts";
import { probePublicIp } from "./public-ip.ts";

const plain = startFakeEcho({ answer: "203.0.113.7" });
const json = startFakeEcho({ answer: "203.0.113.7", format: "json", jsonKey: "query" });
const other = startFakeEcho({ answer: "198.51.100.9", format: "json" });
const v6 = startFakeEcho({ answer: "2001:db8::7" });
const limited = startFakeEcho({ status: 429, retryAfter: "120" });
const broken = startFakeEcho({ status: 500 });
const slow = startFakeEcho({ answer: "203.0.113.7", delayMs: 1000 });
const caller = startFakeEcho({ answer: "caller", format: "json" });
// A port nothing listens on: connection refused.
const dead = "http://127.0.0.1:9";
afterAll(() => {
  for (const e of [plain, json, other, v6, limited, broken, slow, caller]) e.stop();
});

describe("probePublicIp", () => {
  test("plain and JSON providers agree", async () => {
    const r = await probePublicIp(4, [plain.url, json.url], { timeoutMs: 2000 });
    expect(r.ip).toBe("203.0.113.7");
    expect(r.consistent).toBe(true);
    expect(r.answers.map((a) => a.provider)).toEqual([plain.url, json.url]);
    for (const a of r.answers) expect(a.latency_ms).toBeGreaterThanOrEqual(0);
  });

  test("disagreement is kept and flagged", async () => {
    const r = await probePublicIp(4, [plain.url, other.url], { timeoutMs: 2000 });
    expect(r).toMatchObject({ ip: null, consistent: false });
    expect(r.answers.map((a) => a.ip)).toEqual(["203.0.113.7", "198.51.100.9"]);
  });

  test("an answer of the wrong family is an error for that provider", async () => {
    const r = await probePublicIp(4, [plain.url, v6.url], { timeoutMs: 2000 });
    expect(r.ip).toBe("203.0.113.7");
    expect(r.answers[1]).toMatchObject({
      ip: null,
      error: "answered an IPv6 address (2001:db8::7) to an IPv4 probe",
    });
  });

  test("a family-agnostic provider (server whoami) is left out of the family it does not fit", async () => {
    const r4 = await probePublicIp(4, [caller.url], { timeoutMs: 2000, anyFamily: [caller.url] });
    expect(r4.answers.map((a) => a.ip)).toEqual(["127.0.0.1"]);
    const r6 = await probePublicIp(6, [v6.url, caller.url], { timeoutMs: 2000, anyFamily: [caller.url] });
    expect(r6.answers.map((a) => a.provider)).toEqual([v6.url]);
    expect(r6.ip).toBe("2001:db8::7");
  });

  test("the server's whoami reached over loopback is evidence, not a disagreeing provider", async () => {
    const r = await probePublicIp(4, [plain.url, json.url, caller.url], {
      timeoutMs: 2000,
      anyFamily: [caller.url],
    });
    expect(r).toMatchObject({ ip: "203.0.113.7", consistent: true });
    expect(r.answers.map((a) => a.ip)).toEqual(["203.0.113.7", "203.0.113.7", "127.0.0.1"]);
    // alone it names no exit: a private path says nothing about where traffic leaves
    const alone = await probePublicIp(4, [caller.url], { timeoutMs: 2000, anyFamily: [caller.url] });
    expect(alone).toMatchObject({ ip: null, consistent: true });
  });

  test("timeouts, refused connections and HTTP errors are recorded per provider", async () => {
    const r = await probePublicIp(4, [plain.url, slow.url, dead, broken.url], { timeoutMs: 300 });
    expect(r.ip).toBe("203.0.113.7");
    expect(r.answers[1]?.error).toBe("timed out after 300 ms");
    expect(r.answers[2]?.error).toBeString();
    expect(r.answers[2]?.ip).toBeNull();
    expect(r.answers[3]?.error).toBe("HTTP 500");
  });

  test("429 with Retry-After backs that provider off; the others are still asked", async () => {
    let now = 1_000_000;
    const pool = new ProviderPool({ baseMs: 60_000, maxMs: 600_000 });
    const opts = { timeoutMs: 2000, pool, now: () => now };
    const first = await probePublicIp(4, [plain.url, limited.url], opts);
    expect(first.answers[1]?.error).toBe("HTTP 429 (Retry-After 120 s)");
    expect(limited.hits).toBe(1);
    now += 60_000;
    const second = await probePublicIp(4, [plain.url, limited.url], opts);
    expect(limited.hits).toBe(1); // not asked while backing off
    expect(second.answers[1]?.error).toBe("skipped: backing off for 60 s (Retry-After)");
    expect(second.ip).toBe("203.0.113.7");
    now += 60_001;
    await probePublicIp(4, [plain.url, limited.url], opts);
    expect(limited.hits).toBe(2);
  });

  test("a failing provider backs off exponentially while others answer", async () => {
    let now = 0;
    const pool = new ProviderPool({ baseMs: 1000, maxMs: 4000 });
    const opts = { timeoutMs: 2000, pool, now: () => now };
    await probePublicIp(4, [plain.url, broken.url], opts);
    expect(pool.waitFor(broken.url, now)).toBe(1000);
    now += 1000;
    await probePublicIp(4, [plain.url, broken.url], opts);
    expect(pool.waitFor(broken.url, now)).toBe(2000);
  });

  test("when nobody answers (our own network is down) no provider is backed off", async () => {
    const pool = new ProviderPool({ baseMs: 60_000, maxMs: 600_000 });
    const r = await probePublicIp(4, [dead, "http://127.0.0.1:7"], { timeoutMs: 1000, pool, now: () => 0 });
    expect(r).toMatchObject({ ip: null, consistent: true });
    expect(pool.waitFor(dead, 0)).toBe(0);
  });

  test("a round given up by the caller (a network change) backs no provider off", async () => {
    const pool = new ProviderPool({ baseMs: 60_000, maxMs: 600_000 });
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const r = await probePublicIp(4, [plain.url, slow.url], {
      timeoutMs: 2000,
      pool,
      now: () => 0,
      signal: abort.signal,
    });
    expect(r.answers[1]?.ip).toBeNull();
    expect(pool.waitFor(slow.url, 0)).toBe(0);
  });

  test("uses the injected fetch", async () => {
    const fake = (async () => new Response('{"ip":"192.0.2.5"}')) as unknown as typeof fetch;
    const r = await probePublicIp(4, ["http://provider.invalid"], { timeoutMs: 1000, fetch: fake });
    expect(r.ip).toBe("192.0.2.5");
  });
});
