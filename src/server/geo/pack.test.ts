/**
 * The packed IP data against its sources: every answer the CSV rows and the MMDB give, the packed
 * tables give too (real shipped data, the same the binary embeds).
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { Reader, type Response } from "mmdb-lib";
import { formatIPv4, formatIPv6, parseIPv6, parseIp, type V6 } from "../../protocol/ip.ts";
import { AsnRanges } from "./asn-table.ts";
import { compressGeo, type GeoSources, packedLayout, readGeoSources } from "./pack.ts";
import { decompressGeo, type GeoDatabase, openPackedGeo } from "./packed.ts";

let sources: GeoSources;
let layout: Uint8Array;
let packed: GeoDatabase;

beforeAll(async () => {
  sources = await readGeoSources();
  layout = (await packedLayout()).layout;
  packed = openPackedGeo(layout);
});

/** The next address of a v6 (4 words), or null after the last. */
const nextV6 = (v: V6): V6 | null => {
  const out = [...v] as V6;
  for (let i = 3; i >= 0; i--) {
    if (out[i] !== 0xffffffff) {
      out[i] = (out[i] as number) + 1;
      return out;
    }
    out[i] = 0;
  }
  return null;
};

describe("AS numbers and organisations", () => {
  test("IPv4: the first and last address of every row and the one after it", () => {
    const table = AsnRanges.fromCsv(sources.asnV4Csv, 4, "v4");
    const text = new TextDecoder().decode(sources.asnV4Csv);
    let checked = 0;
    for (const line of text.split("\n")) {
      if (!line) continue;
      const [start, end] = line.split(",").map(Number) as [number, number];
      for (const ip of [start, end, end + 1]) {
        if (ip > 0xffffffff) continue;
        const got = packed.asn({ family: 4, v4: ip });
        const want = table.lookupV4(ip);
        if (got?.asn !== want?.asn || got?.org !== want?.org)
          expect({ ip: formatIPv4(ip), got }).toEqual({ ip: formatIPv4(ip), got: want });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1_000_000);
  });

  test("IPv6: the first and last address of every row and the one after it", () => {
    const table = AsnRanges.fromCsv(sources.asnV6Csv, 6, "v6");
    const text = new TextDecoder().decode(sources.asnV6Csv);
    let checked = 0;
    for (const line of text.split("\n")) {
      if (!line) continue;
      const [start, end] = line.split(",").map((a) => parseIPv6(a) as V6) as [V6, V6];
      for (const ip of [start, end, nextV6(end)]) {
        if (!ip) continue;
        const got = packed.asn({ family: 6, v6: ip });
        const want = table.lookupV6(ip);
        if (got?.asn !== want?.asn || got?.org !== want?.org)
          expect({ ip: formatIPv6(ip), got }).toEqual({ ip: formatIPv6(ip), got: want });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(250_000);
  });
});

test("countries: 200,000 addresses of both families answer like the MMDB", () => {
  const reader = new Reader<Response>(
    Buffer.from(sources.countryMmdb.buffer, sources.countryMmdb.byteOffset, sources.countryMmdb.byteLength),
  );
  const u32 = () => (Math.random() * 0x100000000) >>> 0;
  // IPv6: inside allocated space (a random row start of the AS data, random host bits) and
  // IPv4-compatible ::a.b.c.d, which the MMDB answers from its IPv4 subtree
  const v6Starts = new TextDecoder()
    .decode(sources.asnV6Csv)
    .split("\n")
    .flatMap((l) => (l ? [parseIPv6(l.slice(0, l.indexOf(","))) as V6] : []));
  const addresses: string[] = [];
  for (let i = 0; i < 100_000; i++) addresses.push(formatIPv4(u32()));
  for (let i = 0; i < 90_000; i++) {
    const s = v6Starts[Math.floor(Math.random() * v6Starts.length)] as V6;
    addresses.push(formatIPv6([s[0], i % 2 ? s[1] : u32(), u32(), u32()]));
  }
  for (let i = 0; i < 10_000; i++) addresses.push(formatIPv6([0, 0, 0, u32()]));
  let mismatches = 0;
  for (const address of addresses) {
    const code = (reader.get(address) as { country_code?: string } | null)?.country_code;
    const want = typeof code === "string" && /^[A-Za-z]{2}$/.test(code) ? code.toUpperCase() : null;
    const got = packed.country(parseIp(address) as never);
    if (got !== want && mismatches++ < 5) expect({ address, got }).toEqual({ address, got: want });
  }
  expect(mismatches).toBe(0);
});

test("the embedded form decompresses to exactly the layout", () => {
  const compressed = compressGeo(layout, 1);
  expect(compressed.length).toBeLessThan(layout.length / 3);
  expect(Buffer.from(decompressGeo(compressed)).equals(Buffer.from(layout))).toBe(true);
});

test("a damaged layout is refused, not read", () => {
  expect(() => openPackedGeo(new TextEncoder().encode("not the data"))).toThrow("not a packed IP data file");
  expect(() => openPackedGeo(layout.subarray(0, 1000))).toThrow("IP data: truncated");
});
