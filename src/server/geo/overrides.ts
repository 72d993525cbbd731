/**
 * --geo-overrides: user-supplied identities for CIDRs (a home range, a VPN provider's range, or
 * documentation ranges in tests). Parsing is pure; the file is read by loadGeo.
 *
 * Accepted forms: a JSON array of {"cidr","country","asn","org"} objects, or CSV with a header row
 * naming those columns. Only "cidr" is required; a field left out or empty is taken from the
 * database, so a user can relabel the organisation of a range without losing its country.
 */
import { OptionError } from "../../config/options.ts";
import { type Cidr, parseCidr } from "../../protocol/ip.ts";
import { parseCsv } from "./csv.ts";
import { PrefixTable } from "./prefix-table.ts";

export interface GeoOverride {
  cidr: string;
  range: Cidr;
  country: string | null;
  asn: number | null;
  org: string | null;
  /** where it was written, for messages: "line 3" or "index 2" */
  where: string;
}

const FIELDS = ["cidr", "country", "asn", "org"] as const;

/** Parses an overrides file; every problem is an OptionError naming the file, the entry and the field. */
export function parseOverrides(text: string, filename: string): GeoOverride[] {
  const name = `geo overrides ${JSON.stringify(filename)}`;
  const body = text.replace(/^\uFEFF/, "").trimStart();
  const overrides = body.startsWith("[") || body.startsWith("{") ? fromJson(body, name) : fromCsv(body, name);
  assertNoDuplicates(overrides, name);
  return overrides;
}

/** Longest-prefix-match table of the overrides. */
export function overrideTable(overrides: GeoOverride[]): PrefixTable<GeoOverride> {
  const table = new PrefixTable<GeoOverride>();
  for (const o of overrides) table.add(o.range, o);
  return table;
}

function fromJson(body: string, name: string): GeoOverride[] {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch (e) {
    throw new OptionError(`${name}: not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(data)) {
    throw new OptionError(`${name}: JSON must be an array of {"cidr","country","asn","org"} objects`);
  }
  return data.map((item: unknown, index) => {
    const where = `index ${index}`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      throw new OptionError(
        `${name} ${where}: expected an object with "cidr" and at least one of "country", "asn", "org"`,
      );
    }
    const record = item as Record<string, unknown>;
    const unknown = Object.keys(record).filter((k) => !(FIELDS as readonly string[]).includes(k));
    if (unknown.length > 0) {
      throw new OptionError(
        `${name} ${where}: unknown field ${JSON.stringify(unknown[0])} (allowed: ${FIELDS.join(", ")})`,
      );
    }
    return toOverride(record, `${name} ${where}`, where);
  });
}

function fromCsv(body: string, name: string): GeoOverride[] {
  let records: ReturnType<typeof parseCsv>;
  try {
    records = parseCsv(body, name);
  } catch (e) {
    throw new OptionError((e as Error).message);
  }
  const [header, ...rows] = records;
  if (!header) {
    throw new OptionError(
      `${name}: empty file (expected a JSON array, or CSV with a header row ${FIELDS.join(",")})`,
    );
  }
  const columns = header.fields.map((f) => f.toLowerCase());
  for (const column of columns) {
    if (!(FIELDS as readonly string[]).includes(column)) {
      throw new OptionError(
        `${name} line ${header.line}: unknown column ${JSON.stringify(column)} (the header row must name columns among ${FIELDS.join(", ")})`,
      );
    }
  }
  if (!columns.includes("cidr")) {
    throw new OptionError(`${name} line ${header.line}: the header row has no "cidr" column`);
  }
  if (new Set(columns).size !== columns.length) {
    throw new OptionError(`${name} line ${header.line}: a column is named twice`);
  }
  return rows.map(({ line, fields }) => {
    if (fields.length !== columns.length) {
      throw new OptionError(
        `${name} line ${line}: ${fields.length} fields, but the header has ${columns.length}`,
      );
    }
    const record = Object.fromEntries(columns.map((c, i) => [c, fields[i]]));
    return toOverride(record, `${name} line ${line}`, `line ${line}`);
  });
}

/** Validates one entry; JSON and CSV share the rules (CSV just has every value as a string). */
function toOverride(record: Record<string, unknown>, context: string, where: string): GeoOverride {
  const fail = (field: string, what: string): never => {
    throw new OptionError(`${context}: "${field}" ${what}`);
  };
  const { cidr, country, asn, org } = record;
  if (typeof cidr !== "string" || cidr.trim() === "") return fail("cidr", "is missing (e.g. 192.0.2.0/24)");
  const range = parseCidr(cidr.trim());
  if (typeof range === "string") return fail("cidr", `${JSON.stringify(cidr)} ${range}`);
  const override: GeoOverride = {
    cidr: cidr.trim(),
    range,
    country: parseCountry(country, fail),
    asn: parseAsn(asn, fail),
    org: parseOrg(org, fail),
    where,
  };
  if (override.country === null && override.asn === null && override.org === null) {
    throw new OptionError(`${context}: sets none of "country", "asn", "org"`);
  }
  return override;
}

type Fail = (field: string, what: string) => never;

const isEmpty = (v: unknown) => v === undefined || v === null || (typeof v === "string" && v.trim() === "");

function parseCountry(value: unknown, fail: Fail): string | null {
  if (isEmpty(value)) return null;
  if (typeof value !== "string" || !/^[A-Za-z]{2}$/.test(value.trim())) {
    return fail("country", `${JSON.stringify(value)} is not a two-letter ISO 3166-1 code (e.g. SE)`);
  }
  return value.trim().toUpperCase();
}

function parseAsn(value: unknown, fail: Fail): number | null {
  if (isEmpty(value)) return null;
  const text = typeof value === "number" ? String(value) : typeof value === "string" ? value.trim() : "";
  const digits = /^(?:AS)?(\d{1,10})$/i.exec(text)?.[1];
  const asn = digits === undefined ? Number.NaN : Number(digits);
  if (!(asn >= 1 && asn <= 0xffffffff)) {
    return fail(
      "asn",
      `${JSON.stringify(value)} is not an AS number from 1 to 4294967295 (e.g. 64500 or "AS64500")`,
    );
  }
  return asn;
}

function parseOrg(value: unknown, fail: Fail): string | null {
  if (isEmpty(value)) return null;
  if (typeof value !== "string") return fail("org", `${JSON.stringify(value)} is not a string`);
  return value.trim();
}

function assertNoDuplicates(overrides: GeoOverride[], name: string) {
  const table = new PrefixTable<GeoOverride>();
  for (const o of overrides) {
    const earlier = table.add(o.range, o);
    if (earlier) {
      throw new OptionError(
        `${name} ${o.where}: "cidr" ${o.cidr} is the same range as ${earlier.cidr} at ${earlier.where}`,
      );
    }
  }
}
