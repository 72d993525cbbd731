/**
 * Could an address be someone's Internet-facing address at all? Shared by the client (a private
 * answer never counts toward the exit consensus) and the server (nor toward its judgment, and a
 * private source says nothing about where traffic goes). Light on purpose: the client imports it.
 */
import { type Cidr, maskIPv4, type ParsedIp, parseCidr, parseIp } from "./ip.ts";

/**
 * Ranges that can never be the Internet-facing address of a client. Documentation ranges
 * (192.0.2.0/24, 2001:db8::/32, ...) are deliberately absent: labs and tests use them as
 * stand-ins for public addresses. 198.18.0.0/15 is here because proxy tools (Clash, sing-box)
 * hand out "fake IP" answers from it.
 */
export const NON_PUBLIC_RANGES: readonly string[] = [
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
];
const NON_PUBLIC = NON_PUBLIC_RANGES.map((text) => parseCidr(text) as Cidr);

/** True when the address lies in the range; word by word, without allocating (reports call this per answer). */
function contains(range: Cidr, address: ParsedIp): boolean {
  if (range.family === 4) return address.family === 4 && maskIPv4(address.v4, range.prefix) === range.network;
  if (address.family !== 6) return false;
  for (let i = 0; i < 4; i++) {
    const bits = Math.min(32, Math.max(0, range.prefix - 32 * i));
    if (bits === 0) return true;
    if (maskIPv4(address.v6[i] as number, bits) !== range.network[i]) return false;
  }
  return true;
}

/**
 * True when `ip` could be a public Internet address: not private, loopback, CGNAT, link-local,
 * ULA, multicast or reserved. IPv4-mapped IPv6 is judged as the IPv4 it carries. Not an address
 * at all is not public.
 */
export function isPublicAddress(ip: string): boolean {
  const address = parseIp(ip.trim());
  if (address === null) return false;
  return !NON_PUBLIC.some((range) => contains(range, address));
}
