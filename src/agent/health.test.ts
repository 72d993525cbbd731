import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ReportV1 } from "../protocol/report.ts";
import type { CycleInfo } from "./agent.ts";
import {
  ClientHealthFile,
  type ClientHealthStatus,
  defaultMaxAgeMs,
  healthFilePath,
  judgeClientHealth,
  readClientHealth,
} from "./health.ts";

let dir = "";
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const fresh = () => {
  dir = mkdtempSync(join(tmpdir(), "sentinel-health-"));
  return join(dir, "status.json");
};

const cycle = (over: Partial<CycleInfo> = {}): CycleInfo => ({
  report: { interval_s: 30 } as ReportV1,
  reason: "timer",
  delivered: true,
  verdict: null,
  problem: null,
  queued: 0,
  sendError: null,
  ...over,
});

const T0 = Date.parse("2026-11-30T12:00:00Z");
const status = (over: Partial<ClientHealthStatus> = {}): ClientHealthStatus => ({
  v: 1,
  pid: 1,
  round_at: new Date(T0).toISOString(),
  reason: "timer",
  interval_s: 30,
  delivered: true,
  last_delivered_at: new Date(T0).toISOString(),
  queued: 0,
  send_error: null,
  ...over,
});

describe("judgeClientHealth", () => {
  test("healthy while rounds run and reports arrive, with the evidence", () => {
    const v = judgeClientHealth(status(), T0 + 12_000);
    expect(v).toEqual({
      healthy: true,
      detail: "last report delivered 12s ago; last round 12s ago (timer); 0 queued",
    });
  });

  test("the default allowance is two intervals plus the server's default grace", () => {
    expect(defaultMaxAgeMs(30)).toBe(120_000);
    expect(judgeClientHealth(status(), T0 + 120_000).healthy).toBe(true);
    expect(judgeClientHealth(status(), T0 + 120_001).healthy).toBe(false);
    // the interval the server set is the one that counts
    expect(judgeClientHealth(status({ interval_s: 300 }), T0 + 600_000).healthy).toBe(true);
  });

  test("rounds that run but do not deliver: unhealthy, says why and what waits", () => {
    const v = judgeClientHealth(
      status({
        round_at: new Date(T0 + 150_000).toISOString(),
        delivered: false,
        queued: 5,
        send_error: "ECONNREFUSED: Unable to connect",
      }),
      T0 + 151_000,
    );
    expect(v.healthy).toBe(false);
    expect(v.detail).toBe(
      "no report delivered for more than 2m; last report delivered 2m31s ago; last round 1s ago (timer); 5 queued; last upload error: ECONNREFUSED: Unable to connect",
    );
  });

  test("never delivered is unhealthy however fresh the round", () => {
    const v = judgeClientHealth(status({ last_delivered_at: null, delivered: false, reason: "start" }), T0);
    expect(v.healthy).toBe(false);
    expect(v.detail).toStartWith(
      "no report delivered for more than 2m; no report delivered yet; last round just now (start)",
    );
  });

  test("a stuck loop (no round) is unhealthy even when the last round delivered", () => {
    const v = judgeClientHealth(status(), T0 + 10_000, 5_000);
    expect(v.healthy).toBe(false);
    expect(v.detail).toStartWith("no probe round for more than 5s; no report delivered for more than 5s;");
  });

  test("an unreadable time is not healthy", () => {
    expect(judgeClientHealth(status({ round_at: "yesterday" }), T0).healthy).toBe(false);
    expect(judgeClientHealth(status({ last_delivered_at: "soon" }), T0).healthy).toBe(false);
  });
});

describe("ClientHealthFile", () => {
  test("writes the round and remembers the last delivery across undelivered rounds", () => {
    const path = fresh();
    let now = T0;
    const file = new ClientHealthFile(path, { now: () => now });
    file.record(cycle({ reason: "start" }));
    now += 30_000;
    file.record(cycle({ delivered: false, queued: 1, sendError: "HTTP 503" }));
    const s = readClientHealth(path);
    expect(s).toEqual({
      v: 1,
      pid: process.pid,
      round_at: new Date(T0 + 30_000).toISOString(),
      reason: "timer",
      interval_s: 30,
      delivered: false,
      last_delivered_at: new Date(T0).toISOString(),
      queued: 1,
      send_error: "HTTP 503",
    });
    // replaced atomically: no temp file stays behind
    expect(readdirSync(dir)).toEqual(["status.json"]);
  });

  test("a directory that cannot be written is reported once, and again after it recovered and failed anew", () => {
    fresh();
    const path = join(dir, "missing", "status.json");
    const errors: string[] = [];
    const file = new ClientHealthFile(path, {
      onError: (e) => errors.push((e as { code?: string }).code ?? ""),
    });
    file.record(cycle());
    file.record(cycle());
    expect(errors).toEqual(["ENOENT"]);
    mkdirSync(join(dir, "missing"));
    file.record(cycle());
    expect(readClientHealth(path).delivered).toBe(true);
    rmSync(join(dir, "missing"), { recursive: true });
    file.record(cycle());
    expect(errors).toEqual(["ENOENT", "ENOENT"]);
  });
});

test("the status file sits beside the client's spool directory, not in it (that holds only reports)", () => {
  expect(healthFilePath("/data/spool/c_1")).toBe("/data/spool/c_1.status.json");
  expect(healthFilePath("/data/spool/c_1/")).toBe("/data/spool/c_1.status.json");
});

describe("readClientHealth", () => {
  test("says what is wrong with a missing, broken or foreign file", () => {
    const path = fresh();
    expect(() => readClientHealth(path)).toThrow(
      `no status file at ${path} (the client has not finished a round yet)`,
    );
    writeFileSync(path, "{");
    expect(() => readClientHealth(path)).toThrow(`${path} is not JSON`);
    writeFileSync(path, JSON.stringify({ v: 2 }));
    expect(() => readClientHealth(path)).toThrow(`${path} is not a client status file (v1)`);
    writeFileSync(path, JSON.stringify(status()));
    expect(readClientHealth(path)).toEqual(status());
  });
});
