/**
 * Builds the compact IP data the server looks addresses up in, from the @ip-location-db packages:
 * `bun run build` does it once and embeds the result zstd-compressed; from source (tests, `bun
 * src/main.ts`) loadGeo does it at first use. Both then read it with openPackedGeo (packed.ts).
 *
 * Every table is the address space cut into consecutive pieces, each with one answer: the pieces'
 * first addresses in a sorted typed array and the answers in another, so a lookup is one binary
 * search and the whole data is a few flat arrays (about 15 MB, against 38 MB of CSV and MMDB and
 * far more once those were parsed). The pieces are computed from the very lookups the sources
 * answer (AsnRanges over the CSV rows, the MMDB's search tree), so the answers stay the same.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Reader, type Response } from "mmdb-lib";
import { formatIPv4, formatIPv6, type V6 } from "../../protocol/ip.ts";
import { AsnRanges } from "./asn-table.ts";
import { DELTA_ENCODED, GEO_MAGIC, SECTIONS, type Section, sectionsOf } from "./packed.ts";

export interface GeoSources {
  /** geo-whois-asn-country.mmdb (IPv4 and IPv6 in one tree) */
  countryMmdb: Uint8Array;
  /** asn-ipv4-num.csv */
  asnV4Csv: Uint8Array;
  /** asn-ipv6.csv */
  asnV6Csv: Uint8Array;
}

/** Reads the sources from the installed packages (only possible from source, not in the binary). */
export async function readGeoSources(): Promise<GeoSources> {
  const file = (specifier: string) => Bun.file(Bun.resolveSync(specifier, import.meta.dir)).bytes();
  const [countryMmdb, asnV4Csv, asnV6Csv] = await Promise.all([
    file("@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb"),
    file("@ip-location-db/asn/asn-ipv4-num.csv"),
    file("@ip-location-db/asn/asn-ipv6.csv"),
  ]);
  return { countryMmdb, asnV4Csv, asnV6Csv };
}

const CACHE_DIR = join(import.meta.dir, "../../../node_modules/.cache/vpn-sentinel");

/**
 * The layout for the installed packages. Packing takes a few seconds, so the result is kept in
 * node_modules/.cache under a hash of the sources and of the code that packs and reads them: a
 * package upgrade or a change here makes a new one.
 */
export async function packedLayout(): Promise<{ layout: Uint8Array; key: string }> {
  const sources = await readGeoSources();
  const code = await Promise.all(
    ["pack.ts", "packed.ts", "asn-table.ts"].map((f) => Bun.file(join(import.meta.dir, f)).bytes()),
  );
  let hash = 0n;
  for (const bytes of [sources.countryMmdb, sources.asnV4Csv, sources.asnV6Csv, ...code])
    hash = Bun.hash.wyhash(bytes, hash);
  const key = hash.toString(16).padStart(16, "0");
  const cached = join(CACHE_DIR, `ip-data-${key}.bin`);
  if (existsSync(cached)) return { layout: await Bun.file(cached).bytes(), key };
  const layout = packGeo(sources);
  writeCache(`ip-data-${key}.bin`, layout);
  return { layout, key };
}

/** The compressed layout as a file named ip-data.zst, for `bun build --compile` to embed. */
export async function compressedLayoutFile(): Promise<string> {
  const { layout, key } = await packedLayout();
  const file = join(CACHE_DIR, key, "ip-data.zst");
  if (!existsSync(file)) writeCache(join(key, "ip-data.zst"), compressGeo(layout));
  return file;
}

/** Writes atomically and drops the files of older keys; a cache that cannot be written is no error. */
function writeCache(name: string, bytes: Uint8Array): void {
  try {
    const key = name.match(/[0-9a-f]{16}/)?.[0] as string;
    mkdirSync(join(CACHE_DIR, dirname(name)), { recursive: true });
    for (const old of readdirSync(CACHE_DIR))
      if (!old.includes(key)) rmSync(join(CACHE_DIR, old), { recursive: true, force: true });
    const tmp = join(CACHE_DIR, `${name}.${process.pid}.tmp`);
    writeFileSync(tmp, bytes);
    renameSync(tmp, join(CACHE_DIR, name));
  } catch {
    // read-only node_modules: pack again next time
  }
}

/** Pieces of one family's address space: first address (1 or 4 words each) and an answer, equal runs merged. */
class Pieces {
  readonly starts: number[] = [];
  readonly values: number[] = [];

  add(start: ArrayLike<number>, value: number): void {
    if (this.values.length > 0 && this.values.at(-1) === value) return;
    for (let i = 0; i < start.length; i++) this.starts.push(start[i] as number);
    this.values.push(value);
  }
}

/** The uncompressed layout (see SECTIONS in packed.ts). */
export function packGeo(sources: GeoSources): Uint8Array {
  // AS number + organisation: pieces point at distinct (asn, org) records, records at distinct names.
  const orgIds = new Map<string, number>();
  const orgs: string[] = [];
  const recordIds = new Map<string, number>();
  const recordAsn: number[] = [];
  const recordOrg: number[] = [];
  const asnPieces = (csv: Uint8Array, family: 4 | 6) => {
    const pieces = new Pieces();
    for (const { start, record } of AsnRanges.fromCsv(csv, family, `asn-ipv${family} csv`).segments()) {
      let value = 0;
      if (record) {
        let org = 0;
        if (record.org !== null) {
          org = orgIds.get(record.org) ?? 0;
          if (org === 0) {
            org = orgs.push(record.org);
            orgIds.set(record.org, org);
          }
        }
        const key = `${record.asn}/${org}`;
        value = recordIds.get(key) ?? 0;
        if (value === 0) {
          recordAsn.push(record.asn);
          value = recordOrg.push(org);
          recordIds.set(key, value);
        }
      }
      pieces.add(start, value);
    }
    return pieces;
  };
  const asn4 = asnPieces(sources.asnV4Csv, 4);
  const asn6 = asnPieces(sources.asnV6Csv, 6);
  const country = countryPieces(sources.countryMmdb);

  const encoder = new TextEncoder();
  const orgBytes = orgs.map((o) => encoder.encode(o));
  const orgOffsets = [0];
  for (const b of orgBytes) orgOffsets.push((orgOffsets.at(-1) as number) + b.length);
  const blob = new Uint8Array(orgOffsets.at(-1) as number);
  orgBytes.forEach((b, i) => {
    blob.set(b, orgOffsets[i] as number);
  });

  const data: Record<(typeof SECTIONS)[number], Uint8Array | Uint32Array> = {
    asn4Starts: Uint32Array.from(asn4.starts),
    asn4Values: Uint32Array.from(asn4.values),
    asn6Starts: Uint32Array.from(asn6.starts),
    asn6Values: Uint32Array.from(asn6.values),
    recordAsn: Uint32Array.from(recordAsn),
    recordOrg: Uint32Array.from(recordOrg),
    orgOffsets: Uint32Array.from(orgOffsets),
    orgBytes: blob,
    country4Starts: Uint32Array.from(country.v4.starts),
    country4Values: Uint8Array.from(country.v4.values),
    country6Starts: Uint32Array.from(country.v6.starts),
    country6Values: Uint8Array.from(country.v6.values),
    countryCodes: encoder.encode(country.codes.join("")),
  };
  const padded = (n: number) => (n + 3) & ~3;
  const size = SECTIONS.reduce((sum, name) => sum + 4 + padded(data[name].byteLength), GEO_MAGIC.length);
  const out = new Uint8Array(size);
  out.set(GEO_MAGIC);
  const view = new DataView(out.buffer);
  let at = GEO_MAGIC.length;
  for (const name of SECTIONS) {
    const section = data[name];
    view.setUint32(at, section.byteLength, true);
    // typed arrays are written in the machine's byte order; openPackedGeo checks it is little-endian
    out.set(new Uint8Array(section.buffer, section.byteOffset, section.byteLength), at + 4);
    at += 4 + padded(section.byteLength);
  }
  return out;
}

/** The form embedded in the binary (decompressGeo reverses it). Level 19: ~3 MB, a few seconds. */
export function compressGeo(layout: Uint8Array, level = 19): Uint8Array {
  const copy = layout.slice();
  const { u32 } = sectionsOf(copy);
  for (const [name, words] of Object.entries(DELTA_ENCODED) as [Section, 1 | 4][]) {
    const column = u32(name);
    // from the end, so each entry still has its predecessor's original value
    if (words === 1)
      for (let i = column.length - 1; i > 0; i--)
        column[i] = (column[i] as number) - (column[i - 1] as number);
    else
      for (let at = column.length - 4; at > 0; at -= 4) {
        let borrow = 0;
        for (let w = 3; w >= 0; w--) {
          const difference = (column[at + w] as number) - (column[at + w - 4] as number) - borrow;
          column[at + w] = difference;
          borrow = difference < 0 ? 1 : 0;
        }
      }
  }
  return Bun.zstdCompressSync(copy, { level });
}

/** ip-location-db's record shape; mmdb-lib's types only know MaxMind's. */
interface CountryRecord {
  country_code?: unknown;
}

/**
 * The country MMDB as pieces, by walking its search tree in address order: IPv4 from the node at
 * ::/96 (where an IPv6 tree keeps IPv4, and where a lookup of an IPv4 address starts), IPv6 from the
 * root. ::/96 itself is left out of the IPv6 pieces: the lookup answers it from the IPv4 ones.
 */
function countryPieces(mmdb: Uint8Array) {
  const db = Buffer.from(mmdb.buffer, mmdb.byteOffset, mmdb.byteLength);
  const reader = new Reader<Response>(db);
  const { nodeCount, recordSize, nodeByteSize, ipVersion, databaseType } = reader.metadata;
  if (ipVersion !== 6 || !databaseType.includes("country")) {
    // A package upgrade that ships a different layout must fail the build, not answer wrongly.
    throw new Error(`unexpected country database: ${databaseType}, IPv${ipVersion}`);
  }
  const child = (node: number, bit: 0 | 1): number => {
    const at = node * nodeByteSize;
    if (recordSize === 24) return bit ? db.readUIntBE(at + 3, 3) : db.readUIntBE(at, 3);
    if (recordSize === 28)
      return bit
        ? ((db[at + 3] as number) & 0x0f) * 0x1000000 + db.readUIntBE(at + 4, 3)
        : ((db[at + 3] as number) >>> 4) * 0x1000000 + db.readUIntBE(at, 3);
    if (recordSize === 32) return db.readUInt32BE(bit ? at + 4 : at);
    throw new Error(`unsupported MMDB record size ${recordSize}`);
  };

  // Data records are few (one per country): each is decoded once, through a lookup that lands on it.
  const codes = ["--"]; // index 0: no country
  const codeIds = new Map<string, number>();
  const valueOfRecord = new Map<number, number>();
  const countryValue = (pointer: number, address: string): number => {
    let value = valueOfRecord.get(pointer);
    if (value === undefined) {
      const code = (reader.get(address) as CountryRecord | null)?.country_code;
      const normal = typeof code === "string" && /^[A-Za-z]{2}$/.test(code) ? code.toUpperCase() : null;
      value = normal === null ? 0 : (codeIds.get(normal) ?? codes.push(normal) - 1);
      if (normal !== null) codeIds.set(normal, value);
      if (value > 255) throw new Error("more than 255 countries in the country database");
      valueOfRecord.set(pointer, value);
    }
    return value;
  };

  let v4Root = 0;
  for (let depth = 0; depth < 96; depth++) {
    v4Root = child(v4Root, 0);
    if (v4Root >= nodeCount) throw new Error("country database: no IPv4 subtree at ::/96");
  }

  const walk = (pieces: Pieces, bits: 32 | 128, root: number, skip: number | null) => {
    const prefix = new Array<number>(bits / 32).fill(0);
    const format = () => (bits === 32 ? formatIPv4(prefix[0] as number) : formatIPv6(prefix as V6));
    const visit = (node: number, depth: number): void => {
      if (node === skip && depth === 96 && prefix[0] === 0 && prefix[1] === 0 && prefix[2] === 0)
        pieces.add(prefix, 0);
      else if (node === nodeCount) pieces.add(prefix, 0);
      else if (node > nodeCount) pieces.add(prefix, countryValue(node, format()));
      else if (depth === bits)
        throw new Error("country database: the search tree is deeper than the address");
      else {
        visit(child(node, 0), depth + 1);
        const word = depth >>> 5;
        const bit = 2 ** (31 - (depth & 31));
        prefix[word] = (prefix[word] as number) + bit;
        visit(child(node, 1), depth + 1);
        prefix[word] = (prefix[word] as number) - bit;
      }
    };
    visit(root, 0);
  };
  const v4 = new Pieces();
  walk(v4, 32, v4Root, null);
  const v6 = new Pieces();
  walk(v6, 128, 0, v4Root);
  return { v4, v6, codes };
}
