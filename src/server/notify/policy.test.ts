import { describe, expect, test } from "bun:test";
import { DEFAULT_SETTINGS } from "../monitor/settings.ts";
import { type DecisionInput, decide, type NoiseSettings } from "./policy.ts";
import { type MaintenanceWindow, parseMaintenanceWindow } from "./schedule.ts";

const noise: NoiseSettings = {
  resolved: true,
  late: false,
  serverStarted: false,
  maintenance: [],
  timeZone: "UTC",
};
const NOW = Date.UTC(2026, 10, 18, 12, 0); // a Wednesday
const input = (over: Partial<DecisionInput>): DecisionInput => ({
  kind: "client.offline",
  monitorSuppressed: false,
  now: NOW,
  settings: DEFAULT_SETTINGS,
  uplinkDown: false,
  lastRelated: null,
  ...over,
});

describe("decide", () => {
  const cases: [string, Partial<DecisionInput>, Partial<NoiseSettings>, string][] = [
    ["a problem is sent", {}, {}, "send"],
    ["monitor-suppressed (flapping) is skipped", { monitorSuppressed: true }, {}, "skip"],
    ["late is off by default", { kind: "client.late" }, {}, "skip"],
    ["late when enabled", { kind: "client.late" }, { late: true }, "send"],
    ["server start off by default", { kind: "server.started", settings: null }, {}, "skip"],
    [
      "server start when enabled",
      { kind: "server.started", settings: null },
      { serverStarted: true },
      "send",
    ],
    ["muted client", { settings: { ...DEFAULT_SETTINGS, muted_until: NOW + 1 } }, {}, "suppress"],
    ["mute expired", { settings: { ...DEFAULT_SETTINGS, muted_until: NOW - 1 } }, {}, "send"],
    ["paused client", { settings: { ...DEFAULT_SETTINGS, paused: true } }, {}, "suppress"],
    ["offline while the uplink is down", { uplinkDown: true }, {}, "suppress"],
    [
      "a leak while the uplink is down still alerts",
      { kind: "dns_leak.started", uplinkDown: true },
      {},
      "send",
    ],
    [
      "resolved after an announced problem",
      { kind: "client.online", lastRelated: { kind: "client.offline", status: "delivered" } },
      {},
      "send",
    ],
    [
      "resolved after a failed problem delivery",
      { kind: "bypass.ended", lastRelated: { kind: "bypass.started", status: "failed" } },
      {},
      "send",
    ],
    [
      "resolved off",
      { kind: "client.online", lastRelated: { kind: "client.offline", status: "delivered" } },
      { resolved: false },
      "skip",
    ],
    [
      "resolved after a held-back problem",
      { kind: "client.online", lastRelated: { kind: "client.offline", status: "suppressed" } },
      {},
      "suppress",
    ],
    ["resolved with no problem announced", { kind: "client.online", lastRelated: null }, {}, "suppress"],
    [
      "second resolved in a row",
      { kind: "client.online", lastRelated: { kind: "client.online", status: "delivered" } },
      {},
      "suppress",
    ],
  ];
  for (const [name, over, settings, want] of cases) {
    test(name, async () => expect(decide(input(over), { ...noise, ...settings }).action).toBe(want as never));
  }

  test("maintenance window suppresses with the window in the reason", async () => {
    const w = parseMaintenanceWindow("wed 11:30-12:30") as MaintenanceWindow;
    const d = decide(input({}), { ...noise, maintenance: [w] });
    expect(d).toEqual({ action: "suppress", reason: "maintenance window wed 11:30-12:30" });
  });
});
