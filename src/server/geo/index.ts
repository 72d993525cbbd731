/**
 * Offline IP intelligence: IP -> country, AS number and organisation, with no network call.
 * The data files are embedded in the compiled executable (imports `with { type: "file" }`);
 * refreshing them means upgrading the @ip-location-db packages and rebuilding.
 */
import asnV4Csv from "@ip-location-db/asn/asn-ipv4-num.csv" with { type: "file" };
import asnV6Csv from "@ip-location-db/asn/asn-ipv6.csv" with { type: "file" };
import countryMmdb from "@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb" with {
  type: "file",
};
import { OptionError } from "../../config/options.ts";
import { type GeoDatabase, openGeoDatabase } from "./database.ts";
import { createGeoLookup } from "./lookup.ts";
import { parseOverrides } from "./overrides.ts";
import type { GeoLookup } from "./types.ts";

export { parseIp } from "../../protocol/ip.ts";
export type { AsnRecord } from "./asn-table.ts";
export type { GeoDatabase, GeoDatabaseFiles } from "./database.ts";
export { openGeoDatabase } from "./database.ts";
export { createGeoLookup, InvalidIpError } from "./lookup.ts";
export { type GeoOverride, parseOverrides } from "./overrides.ts";
export type { GeoLookup, IpInfo } from "./types.ts";

let shipped: Promise<GeoDatabase> | undefined;

/** The embedded database, indexed once per process (about 0.2 s) and shared by every lookup. */
export function loadShippedDatabase(): Promise<GeoDatabase> {
  shipped ??= (async () => {
    const [country, v4, v6] = await Promise.all(
      [countryMmdb, asnV4Csv, asnV6Csv].map((p) => Bun.file(p).bytes()),
    );
    return openGeoDatabase({
      countryMmdb: country as Uint8Array,
      asnV4Csv: v4 as Uint8Array,
      asnV6Csv: v6 as Uint8Array,
    });
  })();
  return shipped;
}

/** Reads and checks the overrides file (an OptionError if it is unreadable or invalid). */
export async function readOverrides(file: string) {
  let text: string;
  try {
    text = await Bun.file(file).text();
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new OptionError(`geo overrides ${JSON.stringify(file)}: cannot read the file (${reason})`);
  }
  return parseOverrides(text, file);
}

export async function loadGeo(opts: { overridesFile?: string }): Promise<GeoLookup> {
  // Overrides first: a bad file should fail fast, before the database is indexed.
  const overrides = opts.overridesFile ? await readOverrides(opts.overridesFile) : [];
  return createGeoLookup(await loadShippedDatabase(), overrides);
}
