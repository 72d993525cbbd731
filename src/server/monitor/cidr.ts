/**
 * IP addresses and CIDR ranges for the monitor's comparisons (home identity, exits, resolvers).
 * Both families are held as bigint so one code path covers /0 to /128; the monitor compares a
 * handful of addresses per report, so clarity wins over speed here.
 */
import { parseIPv4, parseIPv6 } from "../../protocol/ip.ts";

export type IpVersion = 4 | 6;

export interface IpAddress {
  version: IpVersion;
  value: bigint;
}

export interface Cidr {
  version: IpVersion;
  /** the network address (host bits cleared) */
  network: bigint;
  prefix: number;
}

const BITS: Record<IpVersion, number> = { 4: 32, 6: 128 };

/**
 * The raw value of an address text, without the IPv4-mapped shortcut. Parsing itself is the geo
 * module's (one parser in the project); this module only widens the words to one bigint.
 */
function rawValue(text: string): bigint | null {
  if (!text.includes(":")) {
    const v4 = parseIPv4(text);
    return v4 === null ? null : BigInt(v4);
  }
  const v6 = parseIPv6(text);
  return v6 === null ? null : v6.reduce((value, word) => (value << 32n) | BigInt(word), 0n);
}

/**
 * Parses an IPv4 or IPv6 address. IPv4-mapped IPv6 (::ffff:a.b.c.d, what a dual-stack socket
 * reports for an IPv4 peer) comes back as IPv4, so it matches IPv4 home ranges.
 */
export function parseIp(text: string): IpAddress | null {
  const trimmed = text.trim();
  if (!trimmed.includes(":")) {
    const v4 = rawValue(trimmed);
    return v4 === null ? null : { version: 4, value: v4 };
  }
  const v6 = rawValue(trimmed);
  if (v6 === null) return null;
  if (v6 >> 32n === 0xffffn) return { version: 4, value: v6 & 0xffffffffn };
  return { version: 6, value: v6 };
}

function maskOf(version: IpVersion, prefix: number): bigint {
  const bits = BigInt(BITS[version]);
  const all = (1n << bits) - 1n;
  return (all >> BigInt(prefix)) ^ all;
}

/**
 * Parses "192.0.2.0/24", "2001:db8::/32" or a bare address (a /32 or /128). Host bits are
 * cleared rather than refused: "203.0.113.5/24" plainly means that /24. An IPv4-mapped IPv6
 * range of /96 or longer becomes the IPv4 range it maps.
 */
export function parseCidr(text: string): Cidr | null {
  const [addressText, prefixText, ...rest] = text.trim().split("/");
  // A zone only makes sense on a single link-local address, never on a range.
  if (addressText === undefined || rest.length > 0 || addressText.includes("%")) return null;
  const raw = rawValue(addressText);
  if (raw === null) return null;
  let version: IpVersion = addressText.includes(":") ? 6 : 4;
  let value = raw;
  let prefix = BITS[version];
  if (prefixText !== undefined) {
    if (!/^(0|[1-9]\d{0,2})$/.test(prefixText)) return null;
    prefix = Number(prefixText);
    if (prefix > BITS[version]) return null;
  }
  if (version === 6 && prefix >= 96 && value >> 32n === 0xffffn) {
    version = 4;
    value &= 0xffffffffn;
    prefix -= 96;
  }
  return { version, network: value & maskOf(version, prefix), prefix };
}

/** True when `ip` lies inside `range`; families never match each other. */
export function cidrContains(range: Cidr, ip: IpAddress): boolean {
  return range.version === ip.version && (ip.value & maskOf(range.version, range.prefix)) === range.network;
}

/** True when the two ranges share at least one address. */
export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  if (a.version !== b.version) return false;
  const wider = a.prefix <= b.prefix ? a : b;
  const narrower = wider === a ? b : a;
  return (narrower.network & maskOf(wider.version, wider.prefix)) === wider.network;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run of two or more zero groups as "::". */
export function formatIp(ip: IpAddress): string {
  if (ip.version === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => ((ip.value >> shift) & 0xffn).toString()).join(".");
  }
  const groups = Array.from({ length: 8 }, (_, i) => Number((ip.value >> BigInt(112 - i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; start++) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length++;
    if (length > bestLength) {
      bestStart = start;
      bestLength = length;
    }
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/**
 * One spelling per address ("2001:DB8:0::1" and "2001:db8::1" agree; "::ffff:192.0.2.1" is
 * "192.0.2.1"), or null when the text is not an address. Use it before comparing addresses.
 */
export function canonicalIp(text: string): string | null {
  const ip = parseIp(text);
  return ip === null ? null : formatIp(ip);
}

/** The text form of a range, e.g. "192.0.2.0/24". */
export function formatCidr(range: Cidr): string {
  return `${formatIp({ version: range.version, value: range.network })}/${range.prefix}`;
}
