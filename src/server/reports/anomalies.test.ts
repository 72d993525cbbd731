import { describe, expect, test } from "bun:test";
import { describeRate, GAP_MIN_SAMPLES, NO_GAPS, observeGap, rateAnomaly, robustZ } from "./anomalies.ts";

const days = (n: number, v = 0) => Array.from({ length: n }, () => v);

describe("leak and flap rates: robust z-score against the client's own 30 days", () => {
  test("a quiet client that leaks 7 times this week is flagged, with the numbers", () => {
    const counts = [...days(30), 1, 0, 2, 1, 0, 2, 1];
    const a = rateAnomaly({ counts, observed: days(37, 1).map(Boolean), minCount: 3 });
    expect(a).toMatchObject({ count: 7, median: 0, mad: 0, z: 7, baselineDays: 30 });
    expect(describeRate("DNS leaks", a as NonNullable<typeof a>)).toBe(
      "7 DNS leaks in the last 7 days; its 30-day baseline: median 0 per week, MAD 0 (robust z 7).",
    );
  });

  test("a client that always leaks about this much is not unusual", () => {
    const weekly = [1, 0, 1, 1, 0, 1, 0]; // 4 a week, every week
    const counts = [...weekly, ...weekly, ...weekly, ...weekly, 1, 0, ...weekly];
    expect(rateAnomaly({ counts, observed: days(37, 1).map(Boolean), minCount: 3 })).toBeNull();
  });

  test("below the minimum count, or with less than 14 observed baseline days: no flag", () => {
    const counts = [...days(30), 0, 0, 0, 0, 0, 1, 1];
    expect(rateAnomaly({ counts, observed: days(37, 1).map(Boolean), minCount: 3 })).toBeNull();
    const busy = [...days(30), 3, 3, 3, 3, 3, 3, 3];
    const young = [...days(20, 0), ...days(17, 1)].map(Boolean);
    expect(rateAnomaly({ counts: busy, observed: young, minCount: 3 })).toBeNull();
  });

  test("median and MAD shrug off one bad week in the baseline", () => {
    expect(robustZ(10, [0, 0, 0, 30, 0, 0, 1])).toEqual({ median: 0, mad: 0, z: 10 });
  });
});

describe("report gaps: EWMA against the interval", () => {
  const interval = 30_000;
  const grace = 60_000;
  const feed = (gaps: number[]) => {
    let s = NO_GAPS;
    const flips = [];
    for (const g of gaps) {
      const r = observeGap(s, g, interval, grace);
      s = r.state;
      if (r.flip) flips.push(r.flip);
    }
    return { s, flips };
  };

  test("on-time reports never flag", () => {
    expect(feed(days(200, 30_500)).flips).toEqual([]);
  });

  test("reports drifting to every 42 s are flagged once, and cleared once back on time", () => {
    const { flips, s } = feed([...days(GAP_MIN_SAMPLES + 10, 42_000), ...days(60, 30_000)]);
    expect(flips.map((f) => f.to)).toEqual(["drifting", "normal"]);
    expect(flips[0]?.reason).toContain("expected every 30s");
    expect(flips[0]?.reason).toContain("40 % late");
    expect(s.drifting).toBe(false);
  });

  test("a silence long enough to be offline is not a gap (the offline verdict says it)", () => {
    expect(feed([...days(GAP_MIN_SAMPLES, 30_000), ...days(10, 10 * 60_000)]).flips).toEqual([]);
  });
});
