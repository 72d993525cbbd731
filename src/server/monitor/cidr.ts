/**
 * IP addresses and CIDR ranges for the monitor's comparisons (home identity, exits, resolvers).
 * Both families are held as bigint so one code path covers /0 to /128; the monitor compares a
 * handful of addresses per report, so clarity wins over speed here.
 */

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

/** Dotted quad; leading zeros are refused because some parsers read "010" as octal. */
function parseV4(text: string): bigint | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

/** 16-bit groups of one side of "::"; a dotted quad may only end the address. */
function parseGroups(side: string, isLastSide: boolean): bigint[] | null {
  if (side === "") return [];
  const parts = side.split(":");
  const groups: bigint[] = [];
  for (const [index, part] of parts.entries()) {
    if (isLastSide && index === parts.length - 1 && part.includes(".")) {
      const v4 = parseV4(part);
      if (v4 === null) return null;
      groups.push(v4 >> 16n, v4 & 0xffffn);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
      groups.push(BigInt(Number.parseInt(part, 16)));
    } else {
      return null;
    }
  }
  return groups;
}

/** RFC 4291 text forms, with "::" and a trailing dotted quad. A zone ("%eth0") is ignored. */
function parseV6(text: string): bigint | null {
  const zone = text.indexOf("%");
  const address = zone === -1 ? text : text.slice(0, zone);
  if (address.length < 2 || address.length > 45) return null;
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const head = parseGroups(halves[0] as string, halves.length === 1);
  const tail = halves.length === 2 ? parseGroups(halves[1] as string, true) : [];
  if (head === null || tail === null) return null;
  const count = head.length + tail.length;
  if (halves.length === 2 ? count > 7 : count !== 8) return null;
  const groups = [...head, ...new Array<bigint>(8 - count).fill(0n), ...tail];
  return groups.reduce((value, group) => (value << 16n) | group, 0n);
}

/**
 * Parses an IPv4 or IPv6 address. IPv4-mapped IPv6 (::ffff:a.b.c.d, what a dual-stack socket
 * reports for an IPv4 peer) comes back as IPv4, so it matches IPv4 home ranges.
 */
export function parseIp(text: string): IpAddress | null {
  const trimmed = text.trim();
  if (!trimmed.includes(":")) {
    const v4 = parseV4(trimmed);
    return v4 === null ? null : { version: 4, value: v4 };
  }
  const v6 = parseV6(trimmed);
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
  const raw = addressText.includes(":") ? parseV6(addressText) : parseV4(addressText);
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
