/**
 * The shipped databases, opened from their bytes (the caller does the I/O):
 * country from the geo-whois-asn-country MMDB, AS number and organisation from the asn CSVs.
 */
import { Reader, type Response } from "mmdb-lib";
import { formatIPv4, formatIPv6, type ParsedIp } from "../../protocol/ip.ts";
import { AsnRanges, type AsnRecord } from "./asn-table.ts";

export interface GeoDatabase {
  country(ip: ParsedIp): string | null;
  asn(ip: ParsedIp): AsnRecord | null;
}

export interface GeoDatabaseFiles {
  /** geo-whois-asn-country.mmdb (IPv4 and IPv6 in one tree) */
  countryMmdb: Uint8Array;
  asnV4Csv: Uint8Array;
  asnV6Csv: Uint8Array;
}

/** ip-location-db's record shape; mmdb-lib's types only know MaxMind's, hence the cast in country(). */
interface CountryRecord {
  country_code?: string;
}

export function openGeoDatabase(files: GeoDatabaseFiles): GeoDatabase {
  // The decoder cache keys by record offset; this database has one record per country, so it stays small.
  const reader = new Reader<Response>(
    Buffer.from(files.countryMmdb.buffer, files.countryMmdb.byteOffset, files.countryMmdb.byteLength),
    { cache: new Map() },
  );
  if (reader.metadata.ipVersion !== 6 || !reader.metadata.databaseType.includes("country")) {
    // A package upgrade that ships a different layout must fail at start, not answer wrongly.
    throw new Error(
      `unexpected country database: ${reader.metadata.databaseType}, IPv${reader.metadata.ipVersion}`,
    );
  }
  const asnV4 = AsnRanges.fromCsv(files.asnV4Csv, 4, "asn-ipv4 csv");
  const asnV6 = AsnRanges.fromCsv(files.asnV6Csv, 6, "asn-ipv6 csv");
  return {
    country(ip) {
      const record = reader.get(
        ip.family === 4 ? formatIPv4(ip.v4) : formatIPv6(ip.v6),
      ) as CountryRecord | null;
      const code = record?.country_code;
      return typeof code === "string" && /^[A-Za-z]{2}$/.test(code) ? code.toUpperCase() : null;
    },
    asn(ip) {
      return ip.family === 4 ? asnV4.lookupV4(ip.v4) : asnV6.lookupV6(ip.v6);
    },
  };
}
