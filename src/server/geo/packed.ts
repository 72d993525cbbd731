/**
 * The compact IP data (built by pack.ts) as lookups: the typed arrays are views into the one
 * buffer it arrives in, so opening it copies nothing and allocates almost nothing.
 *
 * Layout: GEO_MAGIC, then each of SECTIONS in order as a little-endian u32 byte length and the
 * bytes, padded to 4. Tables cut the address space into pieces: `*Starts` holds each piece's first
 * address (IPv6: four big-endian-ordered 32-bit words per address), `*Values` its answer, 0 for none.
 */
import type { ParsedIp, V6 } from "../../protocol/ip.ts";
import type { AsnRecord } from "./asn-table.ts";

export interface GeoDatabase {
  country(ip: ParsedIp): string | null;
  asn(ip: ParsedIp): AsnRecord | null;
}

export const GEO_MAGIC = new TextEncoder().encode("SNTLGEO1");

export const SECTIONS = [
  "asn4Starts",
  "asn4Values", // index + 1 into the records
  "asn6Starts",
  "asn6Values",
  "recordAsn",
  "recordOrg", // index + 1 into the organisations, 0 when the row names none
  "orgOffsets", // organisation i is orgBytes[orgOffsets[i] .. orgOffsets[i + 1]], UTF-8
  "orgBytes",
  "country4Starts",
  "country4Values", // index into countryCodes (two letters each; 0 is none)
  "country6Starts",
  "country6Values",
  "countryCodes",
] as const;

export type Section = (typeof SECTIONS)[number];

/**
 * Sorted columns (32-bit words per entry) that are stored as differences to the previous entry in
 * the compressed form: small numbers compress about five times better than addresses.
 */
export const DELTA_ENCODED: Partial<Record<Section, 1 | 4>> = {
  asn4Starts: 1,
  asn6Starts: 4,
  orgOffsets: 1,
  country4Starts: 1,
  country6Starts: 4,
};

const utf8 = new TextDecoder();

/** The 32-bit word views of a layout's sections (it must be 4-byte aligned). */
export function sectionsOf(layout: Uint8Array) {
  if (new Uint8Array(Uint32Array.of(1).buffer)[0] !== 1)
    throw new Error("IP data: needs a little-endian CPU");
  if (!GEO_MAGIC.every((b, i) => layout[i] === b)) throw new Error("IP data: not a packed IP data file");
  const view = new DataView(layout.buffer, layout.byteOffset, layout.byteLength);
  const sections = {} as Record<Section, { offset: number; length: number }>;
  let at = GEO_MAGIC.length;
  for (const name of SECTIONS) {
    if (at + 4 > layout.byteLength) throw new Error(`IP data: truncated before ${name}`);
    const length = view.getUint32(at, true);
    sections[name] = { offset: layout.byteOffset + at + 4, length };
    at += 4 + ((length + 3) & ~3);
  }
  if (at !== layout.byteLength) throw new Error("IP data: unexpected size");
  return {
    u32: (name: Section) => new Uint32Array(layout.buffer, sections[name].offset, sections[name].length / 4),
    u8: (name: Section) => new Uint8Array(layout.buffer, sections[name].offset, sections[name].length),
  };
}

/** The embedded form (zstd, sorted columns as differences) back to the layout, in place after one decompression. */
export function decompressGeo(compressed: Uint8Array): Uint8Array {
  const layout = aligned(Bun.zstdDecompressSync(compressed));
  const { u32 } = sectionsOf(layout);
  for (const [name, words] of Object.entries(DELTA_ENCODED) as [Section, 1 | 4][]) {
    const column = u32(name);
    if (words === 1)
      for (let i = 1; i < column.length; i++) column[i] = (column[i] as number) + (column[i - 1] as number);
    else
      for (let at = 4; at < column.length; at += 4) {
        let carry = 0;
        for (let w = 3; w >= 0; w--) {
          const sum = (column[at + w] as number) + (column[at + w - 4] as number) + carry;
          column[at + w] = sum;
          carry = sum > 0xffffffff ? 1 : 0;
        }
      }
  }
  return layout;
}

/** Views need 4-byte alignment in the underlying buffer. */
const aligned = (bytes: Uint8Array) => (bytes.byteOffset % 4 === 0 ? bytes : bytes.slice());

export function openPackedGeo(layout: Uint8Array): GeoDatabase {
  const { u32, u8 } = sectionsOf(aligned(layout));

  const asn4 = new RangeTable(u32("asn4Starts"), 1, u32("asn4Values"));
  const asn6 = new RangeTable(u32("asn6Starts"), 4, u32("asn6Values"));
  const country4 = new RangeTable(u32("country4Starts"), 1, u8("country4Values"));
  const country6 = new RangeTable(u32("country6Starts"), 4, u8("country6Values"));
  const recordAsn = u32("recordAsn");
  const recordOrg = u32("recordOrg");
  const orgOffsets = u32("orgOffsets");
  const orgBytes = u8("orgBytes");
  const codes = new TextDecoder().decode(u8("countryCodes"));

  const record = (value: number): AsnRecord | null => {
    if (value === 0) return null;
    const org = recordOrg[value - 1] as number;
    return {
      asn: recordAsn[value - 1] as number,
      org:
        org === 0
          ? null
          : utf8.decode(orgBytes.subarray(orgOffsets[org - 1] as number, orgOffsets[org] as number)),
    };
  };
  return {
    country(ip) {
      let value: number;
      if (ip.family === 4) value = country4.valueAt4(ip.v4);
      // ::/96 is where the MMDB keeps IPv4, and it was packed only once, as IPv4
      else if (ip.v6[0] === 0 && ip.v6[1] === 0 && ip.v6[2] === 0) value = country4.valueAt4(ip.v6[3]);
      else value = country6.valueAt6(ip.v6);
      return value === 0 ? null : codes.slice(2 * value, 2 * value + 2);
    },
    asn(ip) {
      return record(ip.family === 4 ? asn4.valueAt4(ip.v4) : asn6.valueAt6(ip.v6));
    },
  };
}

/** Sorted piece starts and their answers; the first piece starts at address 0. */
class RangeTable {
  private readonly count: number;

  constructor(
    private readonly starts: Uint32Array,
    words: 1 | 4,
    private readonly values: Uint32Array | Uint8Array,
  ) {
    this.count = values.length;
    if (starts.length !== this.count * words || this.count === 0)
      throw new Error("IP data: a table's starts and values disagree");
  }

  valueAt4(ip: number): number {
    const starts = this.starts;
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((starts[mid] as number) <= ip) lo = mid;
      else hi = mid - 1;
    }
    return this.values[lo] as number;
  }

  valueAt6(ip: V6): number {
    const starts = this.starts;
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (startsAtOrBefore(starts, mid * 4, ip)) lo = mid;
      else hi = mid - 1;
    }
    return this.values[lo] as number;
  }
}

function startsAtOrBefore(starts: Uint32Array, at: number, ip: V6): boolean {
  for (let i = 0; i < 4; i++) {
    const s = starts[at + i] as number;
    const w = ip[i] as number;
    if (s !== w) return s < w;
  }
  return true;
}
