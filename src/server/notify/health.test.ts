import { describe, expect, test } from "bun:test";
import type { LaneRecord } from "../store/index.ts";
import { channelHealth } from "./health.ts";

const lane = (target: string, l: Partial<LaneRecord>): LaneRecord => ({
  channel: "telegram",
  target,
  lastOkAt: null,
  failingSince: null,
  lastError: null,
  lastErrorAt: null,
  ...l,
});
const health = (lanes: LaneRecord[], o: { problems?: string[]; targets?: string[] } = {}) =>
  channelHealth({
    name: "telegram",
    problems: o.problems ?? [],
    targets: o.targets ?? ["1", "2"],
    lanes,
    queue: { waiting: 88, oldestWaitingAt: 5, failed: 2 },
  });

describe("channelHealth", () => {
  test("nothing sent: untried, not working", () => {
    expect(health([])).toMatchObject({ state: "untried", lastOkAt: null, waiting: 88, failed: 2 });
  });

  test("every lane's last message got through: working, an old error kept for reference", () => {
    const h = health([
      lane("1", { lastOkAt: 100, lastError: "telegram 500", lastErrorAt: 50 }),
      lane("2", { lastOkAt: 90 }),
    ]);
    expect(h).toMatchObject({ state: "working", lastOkAt: 100, failingSince: null, lastErrorAt: 50 });
    expect(h.lastError).toBe("1: telegram 500");
  });

  test("one lane failing makes the channel failing, since its first failure, with the latest error", () => {
    const h = health([
      lane("1", { lastOkAt: 100 }),
      lane("2", {
        lastOkAt: 10,
        failingSince: 20,
        lastError: "test message: telegram 401",
        lastErrorAt: 120,
      }),
    ]);
    expect(h).toMatchObject({ state: "failing", failingSince: 20, lastOkAt: 100, lastErrorAt: 120 });
    expect(h.lastError).toBe("2: test message: telegram 401");
  });

  test("a configuration problem is failing whatever the lanes say; lanes of other targets do not count", () => {
    expect(health([lane("1", { lastOkAt: 100 })], { problems: ["no chat configured"] })).toMatchObject({
      state: "failing",
      failingSince: null,
      lastError: "no chat configured",
    });
    expect(
      health([lane("9", { failingSince: 1, lastError: "x", lastErrorAt: 1 })], { targets: ["1"] }),
    ).toMatchObject({
      state: "untried",
      lastError: null,
    });
  });
});
