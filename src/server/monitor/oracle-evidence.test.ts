/**
 * The DNS verdict on the oracle's evidence: the sightings the server attached to a report come
 * first; the "who is asking" probes are the fallback when there are none (no --dns-zone, an
 * older client, or the oracle saw nothing). Reasons and evidence say which source was used.
 */
import { describe, expect, test } from "bun:test";
import type { OracleLookup, OracleSighting, ReportV1 } from "../../protocol/report.ts";
import { DEFAULT_CLIENT_POLICY, judgeReport } from "./evaluate.ts";
import { buildReport, HOME, testGeo } from "./testing.ts";

const ZONE = "leak.example.org";
const lookups: OracleLookup[] = [
  { name: `aa.${ZONE}`, type: "A", via: "10.2.0.1", latency_ms: 9, error: null },
  { name: `bb.${ZONE}`, type: "AAAA", via: "10.2.0.1", latency_ms: 9, error: null },
];
const seen = (resolver: string, over: Partial<OracleSighting> = {}): OracleSighting[] => [
  { name: `aa.${ZONE}`, qtype: "A", resolver, transport: "udp", client_subnet: null, at: 1, ...over },
  { name: `bb.${ZONE}`, qtype: "AAAA", resolver, transport: "tcp", client_subnet: null, at: 2, ...over },
];

const judge = (report: ReportV1) =>
  judgeReport({ report, sourceIp: null, policy: DEFAULT_CLIENT_POLICY, home: HOME, geo: testGeo }).verdicts
    .dns;

describe("DNS verdict from the oracle", () => {
  test("the oracle's sightings come first: the probes' answers are not used when it saw the resolvers", () => {
    // the probes claim a home resolver; the oracle saw the VPN's: the server's own eyes win
    const dns = judge({
      ...buildReport({ resolvers: ["203.0.113.53"] }),
      dns_oracle: lookups,
      oracle_seen: seen("198.51.100.53"),
    });
    expect(dns.status).toBe("ok");
    expect(dns.reason).toBe(
      "DNS goes through 198.51.100.53 (AS64501 VPN Co São Paulo, BR), the VPN's network. Seen by this server's DNS oracle.",
    );
    expect(dns.evidence.source).toBe("oracle");
    expect(dns.evidence.oracle).toEqual({ lookups: 2, sightings: 2 });
    expect(dns.evidence.resolvers).toEqual([
      expect.objectContaining({
        ip: "198.51.100.53",
        source: "oracle",
        probes: ["oracle A", "oracle AAAA"],
        via: ["10.2.0.1"],
        transports: ["udp", "tcp"],
        judgement: "exit_network",
      }),
    ]);
  });

  test("a home resolver seen by the oracle is a leak, with its AS and country", () => {
    const dns = judge({ ...buildReport(), dns_oracle: lookups, oracle_seen: seen("203.0.113.53") });
    expect(dns.status).toBe("leak");
    expect(dns.reason).toBe(
      "DNS leaks: resolver 203.0.113.53 (AS64500 Home ISP Toruń, PL) is in the home network's AS64500. Seen by this server's DNS oracle.",
    );
  });

  test("a public resolver that forwards a home client subnet to the oracle is a leak", () => {
    const dns = judge({
      ...buildReport(),
      dns_oracle: lookups,
      oracle_seen: seen("192.0.2.1", { client_subnet: "203.0.113.0/24" }),
    });
    expect(dns.status).toBe("leak");
    expect(dns.reason).toContain("a resolver saw the query come from 203.0.113.0/24");
    // two sightings, one subnet
    expect(dns.evidence.client_subnets).toEqual([
      expect.objectContaining({ subnet: "203.0.113.0/24", probe: "oracle" }),
    ]);
  });

  test("an unexpected resolver seen by the oracle is suspect and says so", () => {
    const dns = judge({ ...buildReport(), dns_oracle: lookups, oracle_seen: seen("192.0.2.130") });
    expect(dns.status).toBe("suspect");
    expect(dns.reason).toEndWith("Seen by this server's DNS oracle.");
  });
});

describe("DNS verdict without the oracle's evidence: the probes", () => {
  test("no zone on the server (no lookups): the probes as before, and the reason says so", () => {
    const dns = judge(buildReport());
    expect(dns.status).toBe("ok");
    expect(dns.evidence.source).toBe("probes");
    expect(dns.evidence.oracle).toBeUndefined();
    expect(dns.reason).toEndWith("Named by the who-is-asking probes.");
  });

  test("the oracle saw none of the lookups: the probes decide, and the evidence keeps the count", () => {
    const dns = judge({
      ...buildReport({ resolvers: ["203.0.113.53"] }),
      dns_oracle: lookups,
      oracle_seen: [],
    });
    expect(dns.status).toBe("leak");
    expect(dns.evidence.source).toBe("probes");
    expect(dns.evidence.oracle).toEqual({ lookups: 2, sightings: 0 });
  });

  test("neither source saw a resolver: unknown, saying the oracle saw nothing and why a lookup failed", () => {
    const failed: OracleLookup[] = lookups.map((l) => ({ ...l, error: "ETIMEOUT: timed out" }));
    const dns = judge({ ...buildReport({ noDns: true }), dns_oracle: failed, oracle_seen: [] });
    expect(dns.status).toBe("unknown");
    expect(dns.reason).toBe(
      `No resolver was observed (this server's DNS oracle saw none of this report's lookups; oracle A aa.${ZONE}: ETIMEOUT: timed out), so a DNS leak cannot be ruled out.`,
    );
  });
});
