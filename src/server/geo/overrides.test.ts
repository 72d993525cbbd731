import { describe, expect, test } from "bun:test";
import { OptionError } from "../../config/options.ts";
import { parseIp } from "../../protocol/ip.ts";
import { overrideTable, parseOverrides } from "./overrides.ts";

const match = (overrides: ReturnType<typeof parseOverrides>, ip: string) =>
  overrideTable(overrides).match(parseIp(ip) as never);

describe("JSON", () => {
  test("entries of both families, with defaults and normalisation", () => {
    const overrides = parseOverrides(
      JSON.stringify([
        { cidr: "192.0.2.0/24", country: "se", asn: 64500, org: "Home ISP" },
        { cidr: "2001:db8::/32", country: "BR", asn: "AS64501", org: "São Paulo Fibra" },
        { cidr: "203.0.113.7", org: "  Toruń  " },
        { cidr: "198.51.100.0/24", country: null, asn: "", org: "VPN exit" },
      ]),
      "o.json",
    );
    expect(overrides.map(({ range: _, ...o }) => o)).toEqual([
      { cidr: "192.0.2.0/24", country: "SE", asn: 64500, org: "Home ISP", where: "index 0" },
      { cidr: "2001:db8::/32", country: "BR", asn: 64501, org: "São Paulo Fibra", where: "index 1" },
      { cidr: "203.0.113.7", country: null, asn: null, org: "Toruń", where: "index 2" },
      { cidr: "198.51.100.0/24", country: null, asn: null, org: "VPN exit", where: "index 3" },
    ]);
  });

  test.each([
    ["{", /^geo overrides "o.json": not valid JSON \(/],
    ['{"cidr":"192.0.2.0/24"}', /^geo overrides "o.json": JSON must be an array/],
    ["[1]", /^geo overrides "o.json" index 0: expected an object/],
    [
      '[{"cidr":"192.0.2.0/24","org":"a"},{"cidr":"198.51.100.0/24","contry":"SE"}]',
      /index 1: unknown field "contry"/,
    ],
    ['[{"country":"SE"}]', /index 0: "cidr" is missing/],
    [
      '[{"cidr":"192.0.2.1/24","org":"a"}]',
      /index 0: "cidr" "192.0.2.1\/24" has host bits set \(did you mean 192\.0\.2\.0\/24\?\)/,
    ],
    ['[{"cidr":"2001:db8::/140","org":"a"}]', /index 0: "cidr" "2001:db8::\/140" has prefix length 140/],
    [
      '[{"cidr":"192.0.2.0/24","country":"SWE"}]',
      /index 0: "country" "SWE" is not a two-letter ISO 3166-1 code/,
    ],
    ['[{"cidr":"192.0.2.0/24","asn":-5}]', /index 0: "asn" -5 is not an AS number/],
    ['[{"cidr":"192.0.2.0/24","asn":1.5}]', /index 0: "asn" 1.5 is not an AS number/],
    ['[{"cidr":"192.0.2.0/24","asn":"AS4294967296"}]', /index 0: "asn" "AS4294967296" is not an AS number/],
    ['[{"cidr":"192.0.2.0/24","org":42}]', /index 0: "org" 42 is not a string/],
    ['[{"cidr":"192.0.2.0/24"}]', /index 0: sets none of "country", "asn", "org"/],
    [
      '[{"cidr":"192.0.2.0/24","org":"a"},{"cidr":"192.0.2.0/24","org":"b"}]',
      /index 1: "cidr" 192\.0\.2\.0\/24 is the same range as 192\.0\.2\.0\/24 at index 0/,
    ],
  ])("%s", (text, message) => {
    expect(() => parseOverrides(text, "o.json")).toThrow(message);
    expect(() => parseOverrides(text, "o.json")).toThrow(OptionError);
  });
});

describe("CSV", () => {
  test("header in any order and case, quotes, comments, CRLF, BOM", () => {
    const text = [
      "\uFEFFOrg,CIDR,asn,country",
      "# my home line",
      '"Home ISP, Inc.",192.0.2.0/24,64500,se',
      "",
      '"Fibra ""Rápida""",2001:db8:1::/48,AS64501,BR',
      "Toruń,203.0.113.0/25,,",
    ].join("\r\n");
    const overrides = parseOverrides(text, "o.csv");
    expect(overrides.map(({ range: _, ...o }) => o)).toEqual([
      { cidr: "192.0.2.0/24", country: "SE", asn: 64500, org: "Home ISP, Inc.", where: "line 3" },
      { cidr: "2001:db8:1::/48", country: "BR", asn: 64501, org: 'Fibra "Rápida"', where: "line 5" },
      { cidr: "203.0.113.0/25", country: null, asn: null, org: "Toruń", where: "line 6" },
    ]);
  });

  test("a quoted field may span lines; later line numbers stay right", () => {
    const text = 'cidr,org\n192.0.2.0/24,"two\nlines"\n198.51.100.0/24,x,extra\n';
    expect(() => parseOverrides(text, "o.csv")).toThrow(
      'geo overrides "o.csv" line 4: 3 fields, but the header has 2',
    );
  });

  test.each([
    ["", /"o.csv": empty file/],
    ["cidr,country,asn,org,city\n", /"o.csv" line 1: unknown column "city"/],
    ["country,org\nSE,x\n", /"o.csv" line 1: the header row has no "cidr" column/],
    ["cidr,org,org\n", /"o.csv" line 1: a column is named twice/],
    ["cidr,org\n192.0.2.0/24\n", /"o.csv" line 2: 1 fields, but the header has 2/],
    ['cidr,org\n192.0.2.0/24,"open\n', /"o.csv" line 2: a quoted field is never closed/],
    ['cidr,org\n192.0.2.0/24,"a"b\n', /"o.csv" line 2: unexpected text after a closing quote/],
    ["cidr,country\n\n192.0.2.0/24,Sweden\n", /"o.csv" line 3: "country" "Sweden" is not a two-letter/],
    [
      "cidr,org\n192.0.2.0/24,a\n# dup\n192.0.2.0/24,b\n",
      /line 4: "cidr" 192\.0\.2\.0\/24 is the same range as 192\.0\.2\.0\/24 at line 2/,
    ],
    ["cidr,org\nexample.com,a\n", /line 2: "cidr" "example.com" is not an IPv4 or IPv6 address or CIDR/],
  ])("%p", (text, message) => {
    expect(() => parseOverrides(text, "o.csv")).toThrow(message);
    expect(() => parseOverrides(text, "o.csv")).toThrow(OptionError);
  });
});

test("the most specific CIDR wins, per family, whatever the file order", () => {
  const overrides = parseOverrides(
    [
      "cidr,org",
      "192.0.2.0/24,wide",
      "192.0.2.128/25,half",
      "192.0.2.200/32,host",
      "0.0.0.0/0,everything v4",
      "2001:db8::/32,v6 wide",
      "2001:db8:ab::/48,v6 narrow",
    ].join("\n"),
    "o.csv",
  );
  expect(match(overrides, "192.0.2.1")?.org).toBe("wide");
  expect(match(overrides, "192.0.2.129")?.org).toBe("half");
  expect(match(overrides, "192.0.2.200")?.org).toBe("host");
  expect(match(overrides, "::ffff:192.0.2.200")?.org).toBe("host");
  expect(match(overrides, "198.51.100.1")?.org).toBe("everything v4");
  expect(match(overrides, "2001:db8:ab::1")?.org).toBe("v6 narrow");
  expect(match(overrides, "2001:db8:ac::1")?.org).toBe("v6 wide");
  expect(match(overrides, "2001:db9::1")).toBeUndefined();
});
