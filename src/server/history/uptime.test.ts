import { describe, expect, test } from "bun:test";
import type { HistoryRow } from "../store/index.ts";
import { stretches, summariseUptime } from "./uptime.ts";

const row = (at: number, status: string, liveness: string, exitIpv4: string | null = null): HistoryRow => ({
  at,
  status,
  liveness,
  exitIpv4,
  exitIpv6: null,
  resolvers: null,
});

const H = 3_600_000;

describe("summariseUptime", () => {
  test("all green, online for the whole window", () => {
    const s = summariseUptime([row(-5 * H, "green", "online")], [], 0, 24 * H);
    expect(s.uptime).toBe(1);
    expect(s.protected).toBe(1);
    expect(s.unknown_ms).toBe(0);
  });

  test("offline and red stretches count against uptime and protected time", () => {
    const rows = [
      row(0, "green", "online"),
      row(6 * H, "red", "online"),
      row(12 * H, "red", "offline"),
      row(18 * H, "green", "online"),
    ];
    const s = summariseUptime(rows, [], 0, 24 * H);
    expect(s.uptime).toBeCloseTo(18 / 24);
    expect(s.protected).toBeCloseTo(12 / 24);
    expect(s.status_ms.red).toBe(12 * H);
  });

  test("before first seen is unknown, not down", () => {
    const s = summariseUptime([row(12 * H, "green", "online")], [], 0, 24 * H);
    expect(s.unknown_ms).toBe(12 * H);
    expect(s.uptime).toBe(1);
  });

  test("the server's own downtime is unknown, not client downtime", () => {
    const s = summariseUptime([row(0, "green", "online")], [{ from: 6 * H, to: 12 * H }], 0, 24 * H);
    expect(s.unknown_ms).toBe(6 * H);
    expect(s.uptime).toBe(1);
    expect(s.known_ms).toBe(18 * H);
  });

  test("no history at all: nothing known, ratios null (never green by default)", () => {
    const s = summariseUptime([], [], 0, H);
    expect(s.uptime).toBeNull();
    expect(s.protected).toBeNull();
  });
});

test("stretches of exits with durations, newest first", () => {
  const rows = [
    row(0, "green", "online", "203.0.113.1"),
    row(10, "green", "late", "203.0.113.1"),
    row(20, "green", "online", "203.0.113.2"),
  ];
  expect(stretches(rows, (r) => r.exitIpv4, 50)).toEqual([
    { value: "203.0.113.2", from: 20, to: 50, duration_ms: 30 },
    { value: "203.0.113.1", from: 0, to: 20, duration_ms: 20 },
  ]);
});
