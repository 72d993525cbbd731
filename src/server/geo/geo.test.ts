/** loadGeo against the real shipped data (the same files the compiled binary embeds). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OptionError } from "../../config/options.ts";
import { InvalidIpError, loadGeo } from "./index.ts";
import type { GeoLookup } from "./types.ts";

let dir: string;
let geo: GeoLookup;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sentinel-geo-"));
  geo = await loadGeo({});
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe("shipped database", () => {
  test.each([
    ["1.1.1.1", "AU", 13335, "Cloudflare, Inc."],
    ["8.8.8.8", "US", 15169, "Google LLC"],
    ["9.9.9.9", null, 19281, "Quad9"],
    ["2606:4700:4700::1111", "US", 13335, "Cloudflare, Inc."],
    ["2001:4860:4860::8888", "US", 15169, "Google LLC"],
    ["::ffff:8.8.8.8", "US", 15169, "Google LLC"],
  ])("%s", (ip, country, asn, org) => {
    const info = geo.lookup(ip);
    expect(info).toMatchObject({ ip, asn, org, source: "database" });
    // Countries of anycast addresses are whatever the registry says; check it is one when we do not pin it.
    if (country) expect(info.country).toBe(country);
    else expect(info.country).toMatch(/^[A-Z]{2}$/);
  });

  test("non-ASCII organisation names come out intact", () => {
    expect(geo.lookup("102.210.164.1")).toEqual({
      ip: "102.210.164.1",
      country: "CD",
      asn: 329362,
      org: "Ministère du Numérique - Ministère du Numérique",
      source: "database",
    });
  });

  test.each([
    "10.1.2.3",
    "192.168.1.1",
    "100.64.0.1",
    "127.0.0.1",
    "192.0.2.1",
    "198.51.100.1",
    "203.0.113.1",
    "::1",
    "fe80::1%eth0",
    "fd00::1",
    "2001:db8::1",
    "0.0.0.0",
  ])("special-purpose %s is unknown (the country data wrongly covers some of them)", (ip) =>
    expect(geo.lookup(ip)).toEqual({ ip, country: null, asn: null, org: null, source: "none" }),
  );

  test("an invalid address is an InvalidIpError", () => {
    expect(() => geo.lookup("1.1.1")).toThrow(InvalidIpError);
    expect(() => geo.lookup("")).toThrow('"" is not an IPv4 or IPv6 address');
  });
});

describe("--geo-overrides", () => {
  test("JSON: documentation ranges get identities, v4 and v6, longest prefix first", async () => {
    const file = write(
      "o.json",
      JSON.stringify([
        { cidr: "192.0.2.0/24", country: "PL", asn: 64500, org: "Toruń Home" },
        { cidr: "192.0.2.64/26", country: "SE", asn: 64501, org: "VPN AB" },
        { cidr: "2001:db8::/32", country: "BR", asn: 64502, org: "São Paulo Fibra" },
        { cidr: "2001:db8:5::/48", country: "NL", asn: 64503, org: "VPN v6" },
      ]),
    );
    const g = await loadGeo({ overridesFile: file });
    expect(g.lookup("192.0.2.1")).toEqual({
      ip: "192.0.2.1",
      country: "PL",
      asn: 64500,
      org: "Toruń Home",
      source: "override",
    });
    expect(g.lookup("192.0.2.70")).toMatchObject({
      country: "SE",
      asn: 64501,
      org: "VPN AB",
      source: "override",
    });
    expect(g.lookup("2001:db8:1::1")).toMatchObject({
      country: "BR",
      asn: 64502,
      org: "São Paulo Fibra",
      source: "override",
    });
    expect(g.lookup("2001:db8:5::9")).toMatchObject({
      country: "NL",
      asn: 64503,
      org: "VPN v6",
      source: "override",
    });
    expect(g.lookup("198.51.100.1").source).toBe("none");
    expect(g.lookup("1.1.1.1").source).toBe("database");
  });

  test("CSV: an override wins over the database; fields it leaves empty come from the database", async () => {
    const file = write(
      "o.csv",
      ["cidr,country,asn,org", "1.1.1.0/24,,,My resolver", "8.8.8.8/32,,64500,", "2606:4700::/32,SE,,"].join(
        "\n",
      ),
    );
    const g = await loadGeo({ overridesFile: file });
    expect(g.lookup("1.1.1.1")).toEqual({
      ip: "1.1.1.1",
      country: "AU",
      asn: 13335,
      org: "My resolver",
      source: "override",
    });
    // An overridden AS number does not borrow the database's organisation (that would name another network).
    expect(g.lookup("8.8.8.8")).toEqual({
      ip: "8.8.8.8",
      country: "US",
      asn: 64500,
      org: null,
      source: "override",
    });
    expect(g.lookup("2606:4700:4700::1111")).toMatchObject({
      country: "SE",
      asn: 13335,
      org: "Cloudflare, Inc.",
    });
    expect(g.lookup("8.8.4.4").source).toBe("database");
  });

  test("a bad file is an OptionError naming the file and the line", async () => {
    const file = write("bad.csv", "cidr,country,asn,org\n192.0.2.0/24,SE,64500,ok\n198.51.100.1/24,SE,,x\n");
    const err = await loadGeo({ overridesFile: file }).catch((e) => e);
    expect(err).toBeInstanceOf(OptionError);
    expect(err.message).toBe(
      `geo overrides ${JSON.stringify(file)} line 3: "cidr" "198.51.100.1/24" has host bits set (did you mean 198.51.100.0/24?)`,
    );
  });

  test("a missing file is an OptionError", async () => {
    const file = join(dir, "missing.json");
    const err = await loadGeo({ overridesFile: file }).catch((e) => e);
    expect(err).toBeInstanceOf(OptionError);
    expect(err.message).toBe(`geo overrides ${JSON.stringify(file)}: cannot read the file (ENOENT)`);
  });
});
