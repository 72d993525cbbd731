/**
 * Pure questions about home: is it known at all, and does an address belong to it. Learning the
 * home identity (probing, refreshing) lives in server/home-identity.ts; whether an address could
 * be public at all, in protocol/public-address.ts (the client asks that too).
 */
import type { IpInfo } from "../geo/types.ts";
import type { ServerWarning } from "../warnings.ts";
import { cidrContains, parseCidr, parseIp } from "./cidr.ts";
import type { HomeIdentity, HomeMatch } from "./types.ts";

/** True when the server knows some home address, range or ASN: without one, nothing can be home. */
export function isHomeKnown(home: HomeIdentity): boolean {
  return home.addresses.length > 0 || home.asns.length > 0;
}

/** The title of every notice that says home is unknown (dashboard banner, API warning). */
const HOME_UNKNOWN_TITLE = "Home address unknown: bypass cannot be checked";

/**
 * Why home is unknown and how to fix it, for verdict reasons, the dashboard banner and the API;
 * null when home is known.
 */
export function homeUnknownReason(home: HomeIdentity): string | null {
  if (isHomeKnown(home)) return null;
  return home.learn
    ? "learning it has not succeeded yet (no IP provider has answered the server). Check that the server itself reaches the Internet outside the VPN, or set --home-ip / --home-asn."
    : "learning it is off (--no-home-learn) and neither --home-ip nor --home-asn is set. Set --home-ip / --home-asn, or drop --no-home-learn.";
}

/** The dashboard banner and API warning while home is unknown; null once it is known. */
export function homeWarning(home: HomeIdentity): ServerWarning | null {
  const reason = homeUnknownReason(home);
  if (reason === null) return null;
  return {
    code: "home_unknown",
    title: HOME_UNKNOWN_TITLE,
    message: `Every client's bypass verdict stays unknown (yellow) until the server knows its home address: ${reason}`,
  };
}

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
