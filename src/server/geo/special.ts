/**
 * Special-purpose ranges (IANA IPv4/IPv6 Special-Purpose Address Registries) that are never a
 * public Internet address. The databases are built from RIR allocations, some of which enclose
 * such blocks (the country data says 2001:db8::/32 is "JP"), so these are never looked up there:
 * claiming a country or AS for a private or documentation address would be evidence we do not have.
 * The non-public ranges come from protocol/public-address.ts; the documentation ranges, which it
 * counts as public (labs use them as stand-ins), are added here.
 */
import { parseCidr } from "../../protocol/ip.ts";
import { NON_PUBLIC_RANGES } from "../../protocol/public-address.ts";
import { PrefixTable } from "./prefix-table.ts";

const SPECIAL_PURPOSE = [
  ...NON_PUBLIC_RANGES, // private, loopback, CGNAT, link-local, ULA, multicast, reserved
  "192.0.0.0/24", // IETF protocol assignments
  "192.0.2.0/24", // documentation (TEST-NET-1)
  "198.51.100.0/24", // documentation (TEST-NET-2)
  "203.0.113.0/24", // documentation (TEST-NET-3)
  "64:ff9b:1::/48", // local-use NAT64 (RFC 8215)
  "100::/64", // discard-only (RFC 6666)
  "2001:db8::/32", // documentation
  "3fff::/20", // documentation (RFC 9637)
];

export const specialPurpose = new PrefixTable<true>();
for (const text of SPECIAL_PURPOSE) {
  const cidr = parseCidr(text);
  if (typeof cidr === "string") throw new Error(`special-purpose range ${text} ${cidr}`);
  specialPurpose.add(cidr, true);
}
