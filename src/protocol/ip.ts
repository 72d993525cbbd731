/**
 * IP addresses as numbers: IPv4 as one unsigned 32-bit value, IPv6 as four big-endian 32-bit words.
 * Plain numbers (not bigint) keep range comparisons in the hot lookup path cheap.
 */

/** Four big-endian 32-bit words of an IPv6 address, each unsigned. */
export type V6 = [number, number, number, number];

export type ParsedIp = { family: 4; v4: number } | { family: 6; v6: V6 };

/** Dotted quad without leading zeros: "010.1.1.1" is ambiguous (octal in some parsers), so it is refused. */
export function parseIPv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

/**
 * RFC 4291 text forms, including "::" and a trailing dotted quad. A zone ("%eth0") is ignored.
 * One pass over the characters: it runs for every address in every report (validation, judging).
 */
export function parseIPv6(text: string): V6 | null {
  const zone = text.indexOf("%");
  const end = zone === -1 ? text.length : zone === text.length - 1 ? 0 : zone;
  if (end < 2 || end > 45) return null;
  const groups = v6Groups;
  let count = 0;
  /** where "::" stands, as the number of groups before it; -1 when there is none */
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) === COLON) {
    if (text.charCodeAt(1) !== COLON) return null;
    gap = 0;
    i = 2;
  }
  while (i < end) {
    const start = i;
    let value = 0;
    for (; i < end && i - start < 5; i++) {
      const digit = hexDigit(text.charCodeAt(i));
      if (digit === -1) break;
      value = value * 16 + digit;
    }
    if (i < end && text.charCodeAt(i) === DOT) {
      // a dotted quad may only end the address
      const v4 = count <= 6 ? parseIPv4(text.slice(start, end)) : null;
      if (v4 === null) return null;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      break;
    }
    const digits = i - start;
    if (digits === 0 || digits > 4 || count === 8) return null;
    groups[count++] = value;
    if (i === end) break;
    if (text.charCodeAt(i) !== COLON) return null;
    i++;
    if (text.charCodeAt(i) === COLON) {
      if (gap !== -1) return null;
      gap = count;
      i++;
    } else if (i === end) return null;
  }
  if (gap === -1 ? count !== 8 : count > 7) return null;
  const zeros = 8 - count;
  const group = (n: number) =>
    gap === -1 || n < gap ? (groups[n] as number) : n < gap + zeros ? 0 : (groups[n - zeros] as number);
  return [
    (group(0) * 0x10000 + group(1)) >>> 0,
    (group(2) * 0x10000 + group(3)) >>> 0,
    (group(4) * 0x10000 + group(5)) >>> 0,
    (group(6) * 0x10000 + group(7)) >>> 0,
  ];
}

const COLON = 0x3a;
const DOT = 0x2e;
const v6Groups = new Array<number>(8).fill(0);

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/**
 * Parses either family. IPv4-mapped IPv6 (::ffff:a.b.c.d, what a dual-stack socket reports for an
 * IPv4 peer) is returned as IPv4, because that is the address the databases and overrides know.
 */
export function parseIp(text: string): ParsedIp | null {
  if (!text.includes(":")) {
    const v4 = parseIPv4(text);
    return v4 === null ? null : { family: 4, v4 };
  }
  const v6 = parseIPv6(text);
  if (v6 === null) return null;
  if (v6[0] === 0 && v6[1] === 0 && v6[2] === 0xffff) return { family: 4, v4: v6[3] };
  return { family: 6, v6 };
}

export function formatIPv4(v4: number): string {
  return `${v4 >>> 24}.${(v4 >>> 16) & 255}.${(v4 >>> 8) & 255}.${v4 & 255}`;
}

/** RFC 5952 canonical text: lower case, the longest run of two or more zero groups as "::". */
export function formatIPv6(v6: V6): string {
  const g = v6.flatMap((w) => [w >>> 16, w & 0xffff]);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (from: number, to: number) =>
    g
      .slice(from, to)
      .map((n) => n.toString(16))
      .join(":");
  return bestStart === -1 ? hex(0, 8) : `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

export function maskIPv4(v4: number, prefix: number): number {
  return prefix === 0 ? 0 : (v4 & (0xffffffff << (32 - prefix))) >>> 0;
}

export function maskIPv6(v6: V6, prefix: number): V6 {
  return v6.map((word, i) => maskIPv4(word, Math.min(32, Math.max(0, prefix - 32 * i)))) as V6;
}

export type Cidr =
  | { family: 4; network: number; prefix: number }
  | { family: 6; network: V6; prefix: number };

/**
 * Parses "addr/len" (or a bare address as a single host). Returns a message when invalid; host bits
 * must be zero, since "192.0.2.1/24" is more often a typo than a deliberate way to write 192.0.2.0/24.
 */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf("/");
  const addrText = slash === -1 ? text : text.slice(0, slash);
  const lenText = slash === -1 ? undefined : text.slice(slash + 1);
  if (addrText.includes("%")) return "must not have a zone (%...)";
  const isV6 = addrText.includes(":");
  const max = isV6 ? 128 : 32;
  if (lenText !== undefined && !/^(0|[1-9]\d{0,2})$/.test(lenText)) {
    return "has no valid prefix length after /";
  }
  const prefix = lenText === undefined ? max : Number(lenText);
  if (prefix > max) return `has prefix length ${prefix}, more than ${max}`;
  if (!isV6) {
    const v4 = parseIPv4(addrText);
    if (v4 === null) return "is not an IPv4 or IPv6 address or CIDR";
    const network = maskIPv4(v4, prefix);
    if (network !== v4) return `has host bits set (did you mean ${formatIPv4(network)}/${prefix}?)`;
    return { family: 4, network, prefix };
  }
  const v6 = parseIPv6(addrText);
  if (v6 === null) return "is not an IPv4 or IPv6 address or CIDR";
  if (v6[0] === 0 && v6[1] === 0 && v6[2] === 0xffff) {
    // Lookups treat mapped addresses as IPv4, so a mapped range would silently never match.
    return "is an IPv4-mapped IPv6 range; write it as an IPv4 CIDR";
  }
  const network = maskIPv6(v6, prefix);
  if (network.some((w, i) => w !== v6[i])) {
    return `has host bits set (did you mean ${formatIPv6(network)}/${prefix}?)`;
  }
  return { family: 6, network, prefix };
}
