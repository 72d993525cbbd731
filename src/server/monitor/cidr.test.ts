import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { canonicalIp, cidrContains, cidrOverlaps, formatCidr, parseCidr, parseIp } from "./cidr.ts";

const contains = (range: string, ip: string) => {
  const r = parseCidr(range);
  const a = parseIp(ip);
  if (r === null || a === null) throw new Error(`bad fixture ${range} ${ip}`);
  return cidrContains(r, a);
};

describe("parseIp / canonicalIp", () => {
  test.each([
    ["192.0.2.1", "192.0.2.1"],
    ["0.0.0.0", "0.0.0.0"],
    ["255.255.255.255", "255.255.255.255"],
    ["2001:db8::1", "2001:db8::1"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6"],
    ["2001:db8:0:1:2:3:4:5", "2001:db8:0:1:2:3:4:5"],
    ["::ffff:192.0.2.1", "192.0.2.1"],
    ["::FFFF:c000:0201", "192.0.2.1"],
    ["64:ff9b::192.0.2.1", "64:ff9b::c000:201"],
    ["fe80::1%eth0", "fe80::1"],
    [" 192.0.2.1 ", "192.0.2.1"],
  ])("%s -> %s", (text, canonical) => {
    expect(canonicalIp(text)).toBe(canonical);
  });

  test.each([
    "",
    "192.0.2",
    "192.0.2.1.5",
    "192.0.2.256",
    "192.0.2.01",
    "192.0.2.-1",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "1::2::3",
    ":::",
    "12345::",
    "2001:db8::g",
    "::192.0.2",
    "1.2.3.4::",
    "example.com",
  ])("%p is not an address", (text) => {
    expect(parseIp(text)).toBeNull();
  });

  test("the canonical form parses back to the same address (property)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (text) => {
        const canonical = canonicalIp(text);
        expect(canonical).not.toBeNull();
        expect(canonicalIp(canonical as string)).toBe(canonical);
        expect(parseIp(canonical as string)).toEqual(parseIp(text));
      }),
    );
  });
});

describe("parseCidr / cidrContains", () => {
  test.each([
    ["192.0.2.0/24", "192.0.2.0", true],
    ["192.0.2.0/24", "192.0.2.255", true],
    ["192.0.2.0/24", "192.0.3.0", false],
    ["192.0.2.5/24", "192.0.2.200", true],
    ["192.0.2.7", "192.0.2.7", true],
    ["192.0.2.7", "192.0.2.8", false],
    ["192.0.2.7/32", "192.0.2.7", true],
    ["0.0.0.0/0", "203.0.113.9", true],
    ["0.0.0.0/0", "2001:db8::1", false],
    ["100.64.0.0/10", "100.127.255.255", true],
    ["100.64.0.0/10", "100.128.0.0", false],
    ["2001:db8::/32", "2001:db8:ffff::1", true],
    ["2001:db8::/32", "2001:db9::1", false],
    ["2001:db8:1::/48", "2001:db8:1:ffff:ffff:ffff:ffff:ffff", true],
    ["2001:db8:1::/48", "2001:db8:2::", false],
    ["2001:0DB8:0001::/48", "2001:db8:1::5", true],
    ["2001:db8::1/128", "2001:db8::1", true],
    ["2001:db8::1/128", "2001:db8::2", false],
    ["::/0", "2001:db8::1", true],
    ["::/0", "192.0.2.1", false],
    ["192.0.2.0/24", "::ffff:192.0.2.77", true],
    ["::ffff:192.0.2.0/120", "192.0.2.77", true],
    ["::ffff:192.0.2.0/120", "192.0.3.1", false],
    ["2001:db8::/33", "2001:db8:8000::", false],
    ["2001:db8::/33", "2001:db8:7fff::", true],
  ])("%s contains %s: %p", (range, ip, expected) => {
    expect(contains(range, ip)).toBe(expected);
  });

  test.each([
    "192.0.2.0/33",
    "2001:db8::/129",
    "192.0.2.0/",
    "192.0.2.0/ 24",
    "192.0.2.0/024",
    "192.0.2.0/24/1",
    "fe80::%eth0/64",
    "x/8",
  ])("%p is not a range", (text) => {
    expect(parseCidr(text)).toBeNull();
  });

  test("host bits are cleared, and ranges print canonically", () => {
    expect(formatCidr(parseCidr("203.0.113.5/24") as NonNullable<ReturnType<typeof parseCidr>>)).toBe(
      "203.0.113.0/24",
    );
    expect(formatCidr(parseCidr("2001:DB8:0:0:1::/32") as NonNullable<ReturnType<typeof parseCidr>>)).toBe(
      "2001:db8::/32",
    );
    expect(formatCidr(parseCidr("::ffff:192.0.2.0/120") as NonNullable<ReturnType<typeof parseCidr>>)).toBe(
      "192.0.2.0/24",
    );
  });

  test.each([
    ["192.0.2.0/24", "192.0.2.128/25", true],
    ["192.0.2.0/25", "192.0.2.128/25", false],
    ["203.0.113.7", "203.0.113.0/24", true],
    ["2001:db8::/32", "2001:db8:1::/48", true],
    ["2001:db8::/32", "192.0.2.0/24", false],
  ])("%s overlaps %s: %p", (a, b, expected) => {
    const ra = parseCidr(a);
    const rb = parseCidr(b);
    if (ra === null || rb === null) throw new Error("bad fixture");
    expect(cidrOverlaps(ra, rb)).toBe(expected);
    expect(cidrOverlaps(rb, ra)).toBe(expected);
  });
});
