/**
 * Special-purpose ranges (IANA IPv4/IPv6 Special-Purpose Address Registries) that are never a
 * public Internet address. The databases are built from RIR allocations, some of which enclose
 * such blocks (the country data says 2001:db8::/32 is "JP"), so these are never looked up there:
 * claiming a country or AS for a private or documentation address would be evidence we do not have.
 */
import { parseCidr } from "../../protocol/ip.ts";
import { PrefixTable } from "./prefix-table.ts";

const SPECIAL_PURPOSE = [
  "0.0.0.0/8", // "this network"
  "10.0.0.0/8", // private (RFC 1918)
  "100.64.0.0/10", // carrier-grade NAT (RFC 6598)
  "127.0.0.0/8", // loopback
  "169.254.0.0/16", // link-local
  "172.16.0.0/12", // private
  "192.0.0.0/24", // IETF protocol assignments
  "192.0.2.0/24", // documentation (TEST-NET-1)
  "192.168.0.0/16", // private
  "198.18.0.0/15", // benchmarking
  "198.51.100.0/24", // documentation (TEST-NET-2)
  "203.0.113.0/24", // documentation (TEST-NET-3)
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved, and the limited broadcast address
  "::/127", // unspecified and loopback
  "64:ff9b:1::/48", // local-use NAT64 (RFC 8215)
  "100::/64", // discard-only (RFC 6666)
  "2001:db8::/32", // documentation
  "3fff::/20", // documentation (RFC 9637)
  "fc00::/7", // unique local
  "fe80::/10", // link-local
  "ff00::/8", // multicast
];

export const specialPurpose = new PrefixTable<true>();
for (const text of SPECIAL_PURPOSE) {
  const cidr = parseCidr(text);
  if (typeof cidr === "string") throw new Error(`special-purpose range ${text} ${cidr}`);
  specialPurpose.add(cidr, true);
}
