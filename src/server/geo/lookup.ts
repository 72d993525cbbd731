/** Combines overrides, special-purpose ranges and the database into the GeoLookup the server uses. Pure. */

import { parseIp } from "../../protocol/ip.ts";
import { type GeoOverride, overrideTable } from "./overrides.ts";
import type { GeoDatabase } from "./packed.ts";
import { specialPurpose } from "./special.ts";
import type { GeoLookup, IpInfo } from "./types.ts";

/** lookup() was given something that is not an IP address. */
export class InvalidIpError extends Error {
  readonly code = "invalid_ip";
  constructor(readonly input: string) {
    super(`${JSON.stringify(input)} is not an IPv4 or IPv6 address`);
  }
}

/**
 * The most specific override containing the address wins; fields it leaves empty come from the
 * database. Special-purpose addresses (private, loopback, documentation, ...) never consult the
 * database, so they are unknown unless an override names them.
 */
export function createGeoLookup(database: GeoDatabase, overrides: GeoOverride[] = []): GeoLookup {
  const table = overrideTable(overrides);
  return {
    lookup(ip: string): IpInfo {
      const parsed = parseIp(ip);
      if (parsed === null) throw new InvalidIpError(ip);
      const override = table.match(parsed);
      const db = specialPurpose.match(parsed) === undefined ? database : null;
      // With an overridden AS number the database's org would name another network: take neither.
      const record = override?.asn != null ? null : (db?.asn(parsed) ?? null);
      const country = override?.country ?? db?.country(parsed) ?? null;
      const asn = override?.asn ?? record?.asn ?? null;
      const org = override?.org ?? record?.org ?? null;
      const source = override
        ? "override"
        : country !== null || asn !== null || org !== null
          ? "database"
          : "none";
      return { ip, country, asn, org, source };
    },
  };
}
