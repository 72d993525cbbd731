import { describe, expect, test } from "bun:test";
import { MetricsRegistry } from "./registry.ts";

describe("MetricsRegistry", () => {
  test("renders counters, gauges and histograms in the text format with escaped labels", async () => {
    const r = new MetricsRegistry();
    const c = r.counter("x_total", "Things\nhappened");
    c.inc({ kind: 'a"b\\c' });
    c.inc({ kind: 'a"b\\c' }, 2);
    const g = r.gauge("y", "A level");
    g.set({}, 1.5);
    const h = r.histogram("z_seconds", "Latency", [0.1, 1]);
    h.observe(0.05);
    h.observe(0.5);
    h.observe(3);
    expect(await r.render()).toBe(
      [
        "# HELP x_total Things\\nhappened",
        "# TYPE x_total counter",
        'x_total{kind="a\\"b\\\\c"} 3',
        "# HELP y A level",
        "# TYPE y gauge",
        "y 1.5",
        "# HELP z_seconds Latency",
        "# TYPE z_seconds histogram",
        'z_seconds_bucket{le="0.1"} 1',
        'z_seconds_bucket{le="1"} 2',
        'z_seconds_bucket{le="+Inf"} 3',
        "z_seconds_sum 3.55",
        "z_seconds_count 3",
        "",
      ].join("\n"),
    );
  });

  test("label order does not split a series; gauges forget label sets on reset", async () => {
    const r = new MetricsRegistry();
    const c = r.counter("c_total", "c");
    c.inc({ a: "1", b: "2" });
    c.inc({ b: "2", a: "1" });
    expect(c.get({ a: "1", b: "2" })).toBe(2);
    const g = r.gauge("g", "g");
    g.set({ s: "red" }, 1);
    g.reset();
    g.set({ s: "green" }, 2);
    expect(await r.render()).not.toContain('s="red"');
  });

  test("refuses bad names, duplicates, falling counters and unsorted buckets", async () => {
    const r = new MetricsRegistry();
    expect(() => r.counter("bad-name", "x")).toThrow();
    r.counter("ok_total", "x");
    expect(() => r.gauge("ok_total", "x")).toThrow();
    expect(() => r.counter("neg_total", "x").inc({}, -1)).toThrow();
    expect(() => r.histogram("h", "x", [1, 0.5])).toThrow();
  });
});
