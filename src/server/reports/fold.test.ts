import { describe, expect, test } from "bun:test";
import type { HistoryRow } from "../store/index.ts";
import { addTotals, DAY_MS, emptyTotals, fold, subtractTotals, timeline } from "./fold.ts";

const H = 3_600_000;
const row = (at: number, status: string, liveness: string, causes: string | null = ""): HistoryRow => ({
  at,
  status,
  liveness,
  exitIpv4: null,
  exitIpv6: null,
  resolvers: null,
  causes,
});

describe("fold", () => {
  test("counts known time by status and liveness; server downtime and before first seen are unknown", () => {
    const rows = [row(2 * H, "green", "online"), row(10 * H, "red", "offline", "offline")];
    const { totals } = fold({
      rows,
      downtimes: [{ from: 4 * H, to: 6 * H }],
      start: 0,
      from: 0,
      to: 24 * H,
      carry: null,
    });
    expect(totals.knownMs).toBe(20 * H); // 22 h seen, 2 h of them the server was down
    expect(totals.greenMs).toBe(6 * H);
    expect(totals.redMs).toBe(14 * H);
    expect(totals.upMs).toBe(6 * H);
    expect(totals.offlineN).toBe(1);
    expect(totals.offlineMs).toBe(14 * H);
    expect(totals.changes).toBe(1);
  });

  test("one report that flips several verdicts starts one incident per kind, and one red stretch", () => {
    const rows = [
      row(0, "green", "online"),
      row(5 * H, "red", "online", "bypass:leak,dns:leak"),
      row(6 * H, "red", "online", "dns:leak"),
      row(8 * H, "green", "online"),
    ];
    const { totals, carry } = fold({ rows, downtimes: [], start: 0, from: 0, to: 12 * H, carry: null });
    expect([totals.bypassN, totals.bypassMs]).toEqual([1, H]);
    expect([totals.dnsN, totals.dnsMs]).toEqual([1, 3 * H]);
    expect([totals.recoveredN, totals.recoveredMs]).toEqual([1, 3 * H]);
    expect(totals.changes).toBe(2); // green → red → green; red → red is no change
    expect(carry).toEqual({
      redSince: null,
      open: {},
      status: "green",
      last: { at: 8 * H, status: "green", liveness: "online", causes: "" },
    });
  });

  test("an incident under way when the window opens keeps its true start (carry), and is not counted as begun", () => {
    const carry = { redSince: -30 * H, open: { bypass: -30 * H }, status: "red" };
    const rows = [row(-30 * H, "red", "online", "bypass:leak"), row(2 * H, "green", "online")];
    const { totals } = fold({ rows, downtimes: [], start: 0, from: 0, to: 24 * H, carry });
    expect(totals.bypassN).toBe(0);
    expect(totals.bypassMs).toBe(2 * H);
    expect(totals.recoveredMs).toBe(32 * H); // wall clock from turning red
  });

  test("a fold that reads from a day boundary counts only its window", () => {
    const rows = [row(1 * H, "red", "online", "dns:leak"), row(3 * H, "green", "online")];
    const { totals } = fold({ rows, downtimes: [], start: 0, from: 2 * H, to: 24 * H, carry: null });
    expect(totals.dnsN).toBe(0); // it began before the window
    expect(totals.dnsMs).toBe(H);
    expect(totals.recoveredN).toBe(1);
    expect(totals.recoveredMs).toBe(2 * H);
    expect(totals.knownMs).toBe(22 * H);
  });

  test("days folded one after the other with their carry add up to one fold over both", () => {
    const rows = [
      row(0, "green", "online"),
      row(20 * H, "red", "offline", "offline"),
      row(30 * H, "red", "online", "bypass:leak"),
      row(40 * H, "green", "online"),
    ];
    const whole = fold({ rows, downtimes: [], start: 0, from: 0, to: 2 * DAY_MS, carry: null }).totals;
    const day1 = fold({ rows, downtimes: [], start: 0, from: 0, to: DAY_MS, carry: null });
    const day2 = fold({
      rows,
      downtimes: [],
      start: DAY_MS,
      from: DAY_MS,
      to: 2 * DAY_MS,
      carry: day1.carry,
    });
    expect(addTotals(day1.totals, day2.totals)).toEqual(whole);
    expect(subtractTotals(whole, day1.totals)).toEqual(day2.totals);
    expect(whole.recoveredMs).toBe(20 * H);
  });

  test("rows from before causes were kept still count offline, and nothing else", () => {
    const rows = [row(0, "red", "offline", null), row(H, "red", "online", null)];
    const { totals } = fold({ rows, downtimes: [], start: 0, from: 0, to: 2 * H, carry: null });
    expect(totals.offlineMs).toBe(H);
    expect(totals.bypassMs + totals.dnsMs).toBe(0);
  });

  test("nothing known: all zero", () => {
    expect(fold({ rows: [], downtimes: [], start: 0, from: 0, to: H, carry: null }).totals).toEqual(
      emptyTotals(),
    );
  });
});

describe("timeline", () => {
  test("gap-free, merged where status and causes stay; unknown before first seen and while the server was down", () => {
    const rows = [
      { ...row(2 * H, "green", "online"), exitIpv4: "198.51.100.7" },
      { ...row(3 * H, "green", "online"), exitIpv4: "198.51.100.8" }, // exit moved: same segment
      row(5 * H, "red", "online", "dns:leak"),
      row(7 * H, "green", "online"),
    ];
    const segs = timeline(rows, [{ from: 8 * H, to: 9 * H }], 0, 10 * H);
    expect(segs).toEqual([
      { from: 0, to: 2 * H, status: "unknown", causes: ["not_seen"] },
      { from: 2 * H, to: 5 * H, status: "green", causes: [] },
      { from: 5 * H, to: 7 * H, status: "red", causes: ["dns:leak"] },
      { from: 7 * H, to: 8 * H, status: "green", causes: [] },
      { from: 8 * H, to: 9 * H, status: "unknown", causes: ["server_down"] },
      { from: 9 * H, to: 10 * H, status: "green", causes: [] },
    ]);
    // no gaps, no overlaps
    for (let i = 1; i < segs.length; i++) expect(segs[i]?.from).toBe(segs[i - 1]?.to as number);
  });

  test("a row in force before the window opens starts the first segment at `from`", () => {
    expect(timeline([row(-5 * H, "yellow", "late", "late")], [], 0, H)).toEqual([
      { from: 0, to: H, status: "yellow", causes: ["late"] },
    ]);
  });
});
