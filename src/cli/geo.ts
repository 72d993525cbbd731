/** `sentinel geo IP...`: what the server knows about addresses, from the embedded data and overrides. */
import { defineCommand } from "citty";
import { cittyArgs, OptionError, type OptionSpecs } from "../config/options.ts";
import { type IpInfo, loadGeo, parseIp } from "../server/geo/index.ts";
import { commonSpecs, loadOptions } from "./common.ts";

/** Geo options, shared with `sentinel server`. */
export const geoSpecs = {
  geoOverrides: {
    kind: "string",
    description:
      'Country/ASN/org for your own ranges: JSON array of {"cidr","country","asn","org"}, or CSV with those columns',
    valueHint: "FILE",
  },
} satisfies OptionSpecs;

const specs = {
  config: commonSpecs.config,
  ...geoSpecs,
  json: { kind: "boolean", description: "Print a JSON array, one object per address", flagOnly: true },
} satisfies OptionSpecs;

export default defineCommand({
  meta: {
    name: "geo",
    description: "Show the country, AS number and organisation known for IP addresses (no network access)",
  },
  args: {
    ...cittyArgs(specs),
    ip: { type: "positional", description: "IPv4 or IPv6 addresses", valueHint: "IP", required: false },
  },
  async run({ rawArgs }) {
    const { options, positionals } = loadOptions(specs, rawArgs, "geo");
    if (positionals.length === 0) {
      throw new OptionError("geo: give at least one IP address, e.g. sentinel geo 1.1.1.1");
    }
    const invalid = positionals.find((ip) => parseIp(ip) === null);
    if (invalid !== undefined) {
      throw new OptionError(`geo: ${JSON.stringify(invalid)} is not an IPv4 or IPv6 address`);
    }
    const geo = await loadGeo({ overridesFile: options.geoOverrides });
    const results = positionals.map((ip) => geo.lookup(ip));
    console.log(options.json ? JSON.stringify(results, null, 2) : formatTable(results));
  },
});

/** One aligned line per address; the organisation goes last because it is the only field with spaces. */
function formatTable(results: IpInfo[]): string {
  const rows = [
    ["IP", "COUNTRY", "ASN", "SOURCE", "ORG"],
    ...results.map((r) => [
      r.ip,
      r.country ?? "-",
      r.asn === null ? "-" : `AS${r.asn}`,
      r.source,
      r.org ?? "-",
    ]),
  ];
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((row) => (row[c] as string).length)));
  return rows
    .map((row) => row.map((cell, c) => (c < 4 ? cell.padEnd(widths[c] as number) : cell)).join("  "))
    .join("\n");
}
