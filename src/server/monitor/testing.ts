/**
 * Test fixtures for the monitor: a GeoLookup over documentation ranges and a report builder.
 * Only tests import this; it lives here so every monitor test speaks the same small world.
 *
 *   192.0.2.0/26      AS13335 Cloudflare (stand-in for a public resolver)
 *   192.0.2.64/26     AS15169 Google
 *   192.0.2.128/26    AS64502 Other Net, DE (an unexpected resolver)
 *   192.0.2.192/26    AS64503 Nowhere Ltd, no country
 *   198.51.100.0/25   AS64501 VPN Co São Paulo, BR (the VPN)
 *   198.51.100.128/25 AS64504 Second VPN AB, SE
 *   203.0.113.0/25    AS64500 Home ISP Toruń, PL (the home line; 203.0.113.7 is home)
 *   203.0.113.128/25  nothing known
 *   2001:db8:1::/48   AS64500 home; 2001:db8:2::/48 AS64501 VPN
 */
import type { DnsObservation, ProviderAnswer, ReportV1 } from "../../protocol/report.ts";
import type { GeoLookup, IpInfo } from "../geo/types.ts";
import { cidrContains, parseCidr, parseIp } from "./cidr.ts";
import type { HomeIdentity } from "./types.ts";

const TABLE: [cidr: string, asn: number, org: string, country: string | null][] = [
  ["192.0.2.0/26", 13335, "Cloudflare, Inc.", "US"],
  ["192.0.2.64/26", 15169, "Google LLC", "US"],
  ["192.0.2.128/26", 64502, "Other Net", "DE"],
  ["192.0.2.192/26", 64503, "Nowhere Ltd", null],
  ["198.51.100.0/25", 64501, "VPN Co São Paulo", "BR"],
  ["198.51.100.128/25", 64504, "Second VPN AB", "SE"],
  ["203.0.113.0/25", 64500, "Home ISP Toruń", "PL"],
  ["2001:db8:1::/48", 64500, "Home ISP Toruń", "PL"],
  ["2001:db8:2::/48", 64501, "VPN Co São Paulo", "BR"],
];

export const testGeo: GeoLookup = {
  lookup(ip: string): IpInfo {
    const address = parseIp(ip);
    for (const [cidr, asn, org, country] of TABLE) {
      const range = parseCidr(cidr);
      if (address && range && cidrContains(range, address))
        return { ip, asn, org, country, source: "override" };
    }
    return { ip, asn: null, org: null, country: null, source: "none" };
  },
};

export const HOME: HomeIdentity = {
  addresses: ["203.0.113.7", "2001:db8:1::/48"],
  asns: [64500],
  learn: false,
};

export const VPN_EXIT = "198.51.100.7";
export const CLOUDFLARE_RESOLVER = "192.0.2.1";

export interface ReportSpec {
  /** IPv4 consensus; default VPN_EXIT */
  v4?: string | null;
  /** provider answers; default: two providers agreeing on v4 */
  v4Answers?: [provider: string, ip: string | null][];
  v4Consistent?: boolean;
  /** IPv6 consensus; absent = the family was not probed */
  v6?: string | null;
  v6Answers?: [provider: string, ip: string | null][];
  v6Consistent?: boolean;
  /** whoami-style A answers; default [CLOUDFLARE_RESOLVER]; [] = the probe answered nothing */
  resolvers?: string[];
  /** extra raw observations (TXT, AAAA, errors) */
  dns?: DnsObservation[];
  /** no DNS probe at all */
  noDns?: boolean;
  /** sent before the DNS probes finished (dns_pending, no observations) */
  dnsPending?: boolean;
  observedAt?: number;
  intervalS?: number;
}

const answers = (pairs: [string, string | null][]): ProviderAnswer[] =>
  pairs.map(([provider, ip]) => ({ provider, ip, latency_ms: 20, error: ip === null ? "timeout" : null }));

/** A valid v1 report; every field can be bent by the spec. */
export function buildReport(spec: ReportSpec = {}, defaultObservedAt = 0): ReportV1 {
  const v4 = spec.v4 === undefined ? VPN_EXIT : spec.v4;
  const v4Answers = spec.v4Answers ?? [
    ["ipify", v4],
    ["icanhazip", v4],
  ];
  const dns: DnsObservation[] =
    spec.noDns || spec.dnsPending
      ? []
      : [
          {
            probe: "whoami.akamai.net",
            type: "A",
            via: "10.2.0.1",
            answers: spec.resolvers ?? [CLOUDFLARE_RESOLVER],
            latency_ms: 12,
            error: null,
          },
          ...(spec.dns ?? []),
        ];
  return {
    v: 1,
    agent: { version: "0.1.0", os: "linux", arch: "x64", hostname: "pi" },
    observed_at: new Date(spec.observedAt ?? defaultObservedAt).toISOString(),
    interval_s: spec.intervalS ?? 30,
    ipv4: { ip: v4, consistent: spec.v4Consistent ?? true, answers: answers(v4Answers) },
    ...(spec.v6 === undefined
      ? {}
      : {
          ipv6: {
            ip: spec.v6,
            consistent: spec.v6Consistent ?? true,
            answers: answers(spec.v6Answers ?? [["ipify6", spec.v6]]),
          },
        }),
    dns,
    errors: [],
    ...(spec.dnsPending ? { dns_pending: true } : {}),
  };
}
