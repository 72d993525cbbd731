/**
 * Offline IP intelligence: IP -> country, AS number and organisation, with no network call.
 * The data comes from the @ip-location-db packages, packed into a few flat arrays (pack.ts):
 * `bun run build` embeds them compressed in the executable; refreshing them means upgrading the
 * packages and rebuilding. Only the server (and `sentinel geo`) ever loads them.
 */
import { OptionError } from "../../config/options.ts";
import { createGeoLookup } from "./lookup.ts";
import { parseOverrides } from "./overrides.ts";
import type { GeoDatabase } from "./packed.ts";
import type { GeoLookup } from "./types.ts";

export { parseIp } from "../../protocol/ip.ts";
export type { AsnRecord } from "./asn-table.ts";
export { createGeoLookup, InvalidIpError } from "./lookup.ts";
export { type GeoOverride, parseOverrides } from "./overrides.ts";
export type { GeoDatabase } from "./packed.ts";
export type { GeoLookup, IpInfo } from "./types.ts";

/** What scripts/build.ts embeds; Bun adds a content hash to the name. */
const EMBEDDED_NAME = /^ip-data(-[a-z0-9]+)?\.zst$/;

let shipped: Promise<GeoDatabase> | undefined;

/**
 * The shipped database, opened once per process and shared by every lookup. Its modules load
 * here, not with this one: `sentinel server --help` and the client never touch them.
 */
export function loadShippedDatabase(): Promise<GeoDatabase> {
  shipped ??= (async () => {
    const { openPackedGeo } = await import("./packed.ts");
    return openPackedGeo(await shippedLayout());
  })();
  return shipped;
}

async function shippedLayout(): Promise<Uint8Array> {
  const embedded = Bun.embeddedFiles.find((f) => EMBEDDED_NAME.test((f as { name?: string }).name ?? ""));
  if (embedded) return (await import("./packed.ts")).decompressGeo(await embedded.bytes());
  // From source: packed from the installed packages (pack.ts and mmdb-lib load only here).
  try {
    const { packedLayout } = await import("./pack.ts");
    return (await packedLayout()).layout;
  } catch (e) {
    throw new Error(
      `the IP data is neither embedded (build with bun run build) nor installed (bun install): ${(e as Error).message}`,
    );
  }
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
  // Overrides first: a bad file should fail fast, before the database is opened.
  const overrides = opts.overridesFile ? await readOverrides(opts.overridesFile) : [];
  return createGeoLookup(await loadShippedDatabase(), overrides);
}
