/**
 * Pure questions about addresses: does it belong to home, and could it be a public Internet
 * source at all. Learning the home identity (probing, refreshing) lives elsewhere.
 */
import type { IpInfo } from "../geo/types.ts";
import { type Cidr, cidrContains, parseCidr, parseIp } from "./cidr.ts";
import type { HomeIdentity, HomeMatch } from "./types.ts";

/**
 * The home entry ("203.0.113.0/24", "2001:db8:1::7") that contains `ip`, or null. Entries that
 * do not parse are skipped: configuration validates them (see parseCidr) before they get here.
 */
export function matchHomeAddress(ip: string, home: HomeIdentity): string | null {
  const address = parseIp(ip);
  if (address === null) return null;
  for (const entry of home.addresses) {
    const range = parseCidr(entry);
    if (range !== null && cidrContains(range, address)) return entry;
  }
  return null;
}

/** True when `ip` is one of the home addresses or inside a home range. */
export function isHomeAddress(ip: string, home: HomeIdentity): boolean {
  return matchHomeAddress(ip, home) !== null;
}

/**
 * How an address with its lookup belongs to home: by address first (the stronger evidence),
 * then by ASN. A missing ASN never matches, so a gap in the database never makes a leak.
 */
export function matchHome(info: IpInfo, home: HomeIdentity): HomeMatch | null {
  const entry = matchHomeAddress(info.ip, home);
  if (entry !== null) return { kind: "address", entry };
  if (info.asn !== null && home.asns.includes(info.asn)) return { kind: "asn", asn: info.asn };
  return null;
}

/**
 * Ranges that can never be the Internet-facing address of a client. Documentation ranges
 * (192.0.2.0/24, 2001:db8::/32, ...) are deliberately absent: labs and tests use them as
 * stand-ins for public addresses. 198.18.0.0/15 is here because proxy tools (Clash, sing-box)
 * hand out "fake IP" answers from it.
 */
const NON_PUBLIC: readonly Cidr[] = [
  "0.0.0.0/8", // "this network"
  "10.0.0.0/8", // private
  "100.64.0.0/10", // carrier-grade NAT
  "127.0.0.0/8", // loopback
  "169.254.0.0/16", // link-local
  "172.16.0.0/12", // private
  "192.168.0.0/16", // private
  "198.18.0.0/15", // benchmarking, fake-IP DNS
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved and broadcast
  "::/128", // unspecified
  "::1/128", // loopback
  "fc00::/7", // unique local (ULA)
  "fe80::/10", // link-local
  "ff00::/8", // multicast
].map((text) => parseCidr(text) as Cidr);

/**
 * True when `ip` could be a public Internet address: not private, loopback, CGNAT, link-local,
 * ULA, multicast or reserved. IPv4-mapped IPv6 is judged as the IPv4 it carries. Not an address
 * at all is not public.
 */
export function isPublicAddress(ip: string): boolean {
  const address = parseIp(ip);
  if (address === null) return false;
  return !NON_PUBLIC.some((range) => cidrContains(range, address));
}
