import { describe, expect, test } from "bun:test";
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6, type V6 } from "../../protocol/ip.ts";
import { AsnRanges } from "./asn-table.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const v4 = (table: AsnRanges, ip: string) => table.lookupV4(parseIPv4(ip) as number);
const v6 = (table: AsnRanges, ip: string) => table.lookupV6(parseIPv6(ip) as never);

describe("IPv4", () => {
  const table = AsnRanges.fromCsv(
    bytes(
      [
        '16777216,16777471,13335,"Cloudflare, Inc."', // 1.0.0.0 - 1.0.0.255
        "1.0.4.0,1.0.7.255,38803,Gtelecom Pty Ltd", // dotted form works too
        '1.0.8.0,1.0.8.255,64500,"LLC ""SPUTNIK"""',
        "1.0.9.0,1.0.9.255,64501,",
        "1.0.10.0,1.0.10.255,0,not routed",
        "1.0.16.0,1.0.16.255,64502,Toruń Miejska Sieć",
        "",
      ].join("\r\n"),
    ),
    4,
    "fixture",
  );

  test("finds the row containing the address, at both edges", () => {
    expect(table.size).toBe(6);
    expect(v4(table, "1.0.0.0")).toEqual({ asn: 13335, org: "Cloudflare, Inc." });
    expect(v4(table, "1.0.0.255")).toEqual({ asn: 13335, org: "Cloudflare, Inc." });
    expect(v4(table, "1.0.5.1")).toEqual({ asn: 38803, org: "Gtelecom Pty Ltd" });
  });

  test("misses between rows, before the first and after the last", () => {
    expect(v4(table, "1.0.1.0")).toBeNull();
    expect(v4(table, "0.255.255.255")).toBeNull();
    expect(v4(table, "1.0.17.0")).toBeNull();
  });

  test("quoted org with escaped quotes, empty org, AS0, non-ASCII org", () => {
    expect(v4(table, "1.0.8.8")).toEqual({ asn: 64500, org: 'LLC "SPUTNIK"' });
    expect(v4(table, "1.0.9.9")).toEqual({ asn: 64501, org: null });
    expect(v4(table, "1.0.10.1")).toBeNull();
    expect(v4(table, "1.0.16.1")).toEqual({ asn: 64502, org: "Toruń Miejska Sieć" });
  });

  test("a table of one family answers nothing for the other", () => {
    expect(v6(table, "2001:db8::1")).toBeNull();
  });
});

test("overlapping rows: the innermost (last-starting) containing row wins, and outer rows still answer", () => {
  const table = AsnRanges.fromCsv(
    bytes(
      [
        "10.0.0.0,10.0.255.255,1,outer",
        "10.0.1.0,10.0.8.255,2,middle",
        "10.0.2.0,10.0.2.255,3,inner",
        "10.0.8.0,10.0.9.255,4,partial", // overlaps the end of "middle", like the real data does once
      ].join("\n"),
    ),
    4,
    "fixture",
  );
  const asn = (ip: string) => v4(table, ip)?.asn;
  expect(asn("10.0.0.1")).toBe(1);
  expect(asn("10.0.1.1")).toBe(2);
  expect(asn("10.0.2.1")).toBe(3);
  expect(asn("10.0.3.1")).toBe(2);
  expect(asn("10.0.8.1")).toBe(4);
  expect(asn("10.0.9.255")).toBe(4);
  expect(asn("10.0.10.0")).toBe(1);
  expect(asn("10.1.0.0")).toBeUndefined();
  // the same answers as consecutive pieces, what pack.ts stores (it merges equal neighbours:
  // 10.0.9.0 is where "middle" ends, inside "partial")
  expect([...table.segments()].map((s) => [formatIPv4(s.start[0] as number), s.record?.asn ?? null])).toEqual(
    [
      ["0.0.0.0", null],
      ["10.0.0.0", 1],
      ["10.0.1.0", 2],
      ["10.0.2.0", 3],
      ["10.0.3.0", 2],
      ["10.0.8.0", 4],
      ["10.0.9.0", 4],
      ["10.0.10.0", 1],
      ["10.1.0.0", null],
    ],
  );
});

test("IPv6 pieces carry across words and stop at the last address", () => {
  const table = AsnRanges.fromCsv(
    bytes(["::ffff:ffff,::1:0:0:0,1,a", "ffff::,ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff,2,b"].join("\n")),
    6,
    "fixture",
  );
  expect([...table.segments()].map((s) => [formatIPv6(s.start as V6), s.record?.asn ?? null])).toEqual([
    ["::", null],
    ["::ffff:ffff", 1],
    ["::1:0:0:1", null],
    ["ffff::", 2],
  ]);
});

test("IPv6 rows, compressed and full forms", () => {
  const table = AsnRanges.fromCsv(
    bytes(
      [
        "::ffff:1.0.0.0,::ffff:1.0.0.255,13335,mapped", // a trailing dotted quad takes the slow path
        "2001::,2001::ffff:ffff:ffff:ffff:ffff:ffff,6939,Hurricane Electric LLC",
        "2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE Project",
        '2606:4700:0:0:0:0:0:0,2606:4700:ffff:ffff:ffff:ffff:ffff:ffff,13335,"Cloudflare, Inc."',
      ].join("\n"),
    ),
    6,
    "fixture",
  );
  expect(v6(table, "2001::1")).toEqual({ asn: 6939, org: "Hurricane Electric LLC" });
  expect(v6(table, "2001:200:1b9:ffff:ffff:ffff:ffff:ffff")).toEqual({ asn: 2500, org: "WIDE Project" });
  expect(v6(table, "2001:200:1ba::")).toBeNull();
  expect(v6(table, "2606:4700:4700::1111")?.asn).toBe(13335);
  expect(v6(table, "::ffff:1.0.0.1")?.org).toBe("mapped");
  expect(v6(table, "::1")).toBeNull();
  expect(v4(table, "1.0.0.1")).toBeNull();
});

describe("malformed data fails loudly with the line", () => {
  test.each([
    ["1.0.0.0,1.0.0.255,13335,a\n1.0.0.0,1.0.0.255", "fixture line 2: expected start,end,asn,org"],
    ["1.0.0.0,1.0.0.256,13335,a", "fixture line 1: bad end address"],
    ["x,1.0.0.255,13335,a", "fixture line 1: bad start address"],
    ["1.0.0.0,1.0.0.255,AS13335,a", "fixture line 1: bad AS number"],
    ["1.0.0.9,1.0.0.1,1,a", "fixture line 1: range starts after it ends"],
    [
      "1.0.1.0,1.0.1.255,1,a\n\n1.0.0.0,1.0.0.255,1,b",
      "fixture line 3: rows are not sorted by start address",
    ],
  ])("%p", (text, message) => {
    expect(() => AsnRanges.fromCsv(bytes(text), 4, "fixture")).toThrow(message);
  });

  test("IPv6", () => {
    expect(() => AsnRanges.fromCsv(bytes("2001::,2001:::1,1,a"), 6, "v6")).toThrow(
      "v6 line 1: bad end address",
    );
    expect(() => AsnRanges.fromCsv(bytes("1.0.0.0,1.0.0.255,1,a"), 6, "v6")).toThrow(
      "v6 line 1: bad start address",
    );
  });
});
