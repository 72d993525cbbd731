import { describe, expect, test } from "bun:test";
import { validateReport } from "./report.ts";

const base = {
  v: 1,
  observed_at: "2026-11-26T10:00:00Z",
  interval_s: 30,
  ipv4: { ip: "198.51.100.7", consistent: true, answers: [] },
};
const lookup = { name: "AbC.leak.example.org", type: "A", via: "10.2.0.1", latency_ms: 3, error: null };

describe("report v1: the DNS oracle's fields", () => {
  test("dns_oracle is kept (names in lower case); a report without it stays without it", () => {
    const r = validateReport({ ...base, dns_oracle: [lookup, { ...lookup, type: "AAAA", via: undefined }] });
    expect(r.ok && r.report.dns_oracle).toEqual([
      { name: "abc.leak.example.org", type: "A", via: "10.2.0.1", latency_ms: 3, error: null },
      { name: "abc.leak.example.org", type: "AAAA", via: null, latency_ms: 3, error: null },
    ]);
    const without = validateReport(base);
    expect(without.ok && "dns_oracle" in without.report).toBe(false);
  });

  test("a client cannot send sightings: oracle_seen is the server's alone", () => {
    const forged = [
      { name: "abc.leak.example.org", qtype: "A", resolver: "198.51.100.53", transport: "udp", at: 1 },
    ];
    const r = validateReport({ ...base, dns_oracle: [lookup], oracle_seen: forged });
    expect(r.ok && "oracle_seen" in r.report).toBe(false);
  });

  test("bad lookups are refused with their paths", () => {
    const r = validateReport({
      ...base,
      dns_oracle: [{ ...lookup, type: "TXT" }, { ...lookup, name: 7 }, "x", lookup, lookup],
    });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors).toEqual([{ path: "/dns_oracle", message: "must have at most 4 items" }]);
    const fields = validateReport({
      ...base,
      dns_oracle: [{ ...lookup, type: "TXT" }, { ...lookup, name: 7 }, "x"],
    });
    expect(!fields.ok && fields.errors.map((e) => e.path)).toEqual([
      "/dns_oracle/0/type",
      "/dns_oracle/1/name",
      "/dns_oracle/2",
    ]);
  });
});
