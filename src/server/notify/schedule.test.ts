import { describe, expect, test } from "bun:test";
import { activeWindow, type MaintenanceWindow, parseMaintenanceWindow } from "./schedule.ts";

const w = (t: string) => parseMaintenanceWindow(t) as MaintenanceWindow;
// 2026-11-22 is a Sunday
const at = (day: number, h: number, m: number) => Date.UTC(2026, 10, 22 + day, h, m);

describe("maintenance windows", () => {
  test("parses days, ranges and daily; rejects nonsense", () => {
    expect([...w("sun 02:00-04:00").days]).toEqual([0]);
    expect([...w("mon-fri 23:30-00:30").days]).toEqual([1, 2, 3, 4, 5]);
    expect(w("daily 03:00-03:10").days.size).toBe(7);
    expect([...w("fri-mon 01:00-02:00").days].sort()).toEqual([0, 1, 5, 6]);
    for (const bad of ["sun", "sun 25:00-26:00", "someday 01:00-02:00", "sun 02:00-02:00"])
      expect(typeof parseMaintenanceWindow(bad)).toBe("string");
  });

  test("inside, outside, across midnight, in a time zone", () => {
    const sun = [w("sun 02:00-04:00")];
    expect(activeWindow(sun, at(0, 2, 0), "UTC")?.text).toBe("sun 02:00-04:00");
    expect(activeWindow(sun, at(0, 4, 0), "UTC")).toBeNull();
    expect(activeWindow(sun, at(1, 3, 0), "UTC")).toBeNull();
    const night = [w("sat 23:00-01:00")];
    expect(activeWindow(night, at(-1, 23, 30), "UTC")).not.toBeNull();
    expect(activeWindow(night, at(0, 0, 30), "UTC")).not.toBeNull(); // Sunday 00:30 belongs to Saturday's window
    expect(activeWindow(night, at(0, 1, 0), "UTC")).toBeNull();
    // 02:30 in Berlin (UTC+1 in November) is 01:30 UTC
    expect(activeWindow(sun, at(0, 1, 30), "Europe/Berlin")).not.toBeNull();
    expect(activeWindow(sun, at(0, 1, 30), "UTC")).toBeNull();
  });
});
