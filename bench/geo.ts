/**
 * Geo lookup cost, warm: `bun bench/geo.ts`. Prints load time and median / p99 ns per lookup over
 * batches of random addresses (budget: 20 µs). Random IPv6 addresses almost never fall in allocated
 * space, so a second IPv6 row draws addresses inside the shipped data's own ranges.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatIPv4, formatIPv6, parseIPv6 } from "../src/protocol/ip.ts";
import { loadGeo } from "../src/server/geo/index.ts";
import type { GeoLookup } from "../src/server/geo/types.ts";

const LOOKUPS = 100_000;
const BATCH = 1_000;

const u32 = () => (Math.random() * 0x100000000) >>> 0;
const randomV4 = () => formatIPv4(u32());
const randomV6 = () => formatIPv6([(0x20000000 | (u32() & 0x1fffffff)) >>> 0, u32(), u32(), u32()]);
const allocatedV6 = readFileSync(new URL(import.meta.resolve("@ip-location-db/asn/asn-ipv6.csv")), "utf8")
  .split("\n")
  .flatMap((line) => {
    const start = parseIPv6(line.slice(0, line.indexOf(",")));
    return start ? [start] : [];
  });
const randomAllocatedV6 = () => {
  const start = allocatedV6[Math.floor(Math.random() * allocatedV6.length)] as number[];
  return formatIPv6([start[0] as number, start[1] as number, u32(), u32()]);
};

function measure(geo: GeoLookup, ips: string[]) {
  let hits = 0;
  for (const ip of ips.slice(0, 20_000)) if (geo.lookup(ip).source !== "none") hits++; // warm up the JIT
  const perLookup: number[] = [];
  for (let i = 0; i < ips.length; i += BATCH) {
    const batch = ips.slice(i, i + BATCH);
    const t0 = Bun.nanoseconds();
    for (const ip of batch) geo.lookup(ip);
    perLookup.push((Bun.nanoseconds() - t0) / batch.length);
  }
  perLookup.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(perLookup[Math.min(perLookup.length - 1, Math.floor(q * perLookup.length))] as number);
  return { median: at(0.5), p99: at(0.99), hitRate: hits / Math.min(ips.length, 20_000) };
}

const t0 = performance.now();
const plain = await loadGeo({});
const loadMs = performance.now() - t0;

const overridesFile = join(tmpdir(), `sentinel-bench-overrides-${process.pid}.json`);
writeFileSync(
  overridesFile,
  JSON.stringify(
    Array.from({ length: 1000 }, (_, i) => ({
      cidr: `${10 + (i % 200)}.${i >> 3}.0.0/16`,
      org: `override ${i}`,
    })).concat([{ cidr: "2001:db8::/32", org: "v6 override" }]),
  ),
);
const withOverrides = await loadGeo({ overridesFile });

const v4 = Array.from({ length: LOOKUPS }, randomV4);
const v6 = Array.from({ length: LOOKUPS }, randomV6);
const v6Allocated = Array.from({ length: LOOKUPS }, randomAllocatedV6);
const rows = {
  "IPv4, database": measure(plain, v4),
  "IPv6, database": measure(plain, v6),
  "IPv6 allocated, db": measure(plain, v6Allocated),
  "IPv4, 1000 overrides": measure(withOverrides, v4),
  "IPv6, 1000 overrides": measure(withOverrides, v6Allocated),
};
console.log(
  `load (open the packed data): ${loadMs.toFixed(0)} ms; ${LOOKUPS} random lookups per row, batches of ${BATCH}`,
);
for (const [name, r] of Object.entries(rows)) {
  console.log(
    `${name.padEnd(22)} median ${String(r.median).padStart(6)} ns/lookup   p99 batch ${String(r.p99).padStart(6)} ns   hits ${(r.hitRate * 100).toFixed(0)}%`,
  );
}
