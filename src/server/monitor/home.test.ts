import { describe, expect, test } from "bun:test";
import { isHomeAddress, isPublicAddress, matchHome, matchHomeAddress } from "./home.ts";
import { HOME, testGeo } from "./testing.ts";

describe("isPublicAddress", () => {
  test.each([
    ["203.0.113.7", true],
    ["198.51.100.1", true],
    ["2001:db8::1", true],
    ["10.1.2.3", false],
    ["172.16.0.1", false],
    ["172.31.255.255", false],
    ["172.32.0.1", true],
    ["192.168.1.10", false],
    ["100.64.0.1", false],
    ["100.127.255.254", false],
    ["127.0.0.1", false],
    ["169.254.10.10", false],
    ["0.0.0.0", false],
    ["224.0.0.251", false],
    ["255.255.255.255", false],
    ["198.18.0.5", false],
    ["::1", false],
    ["::", false],
    ["fd12:3456::1", false],
    ["fc00::1", false],
    ["fe80::1", false],
    ["ff02::1", false],
    ["::ffff:192.168.1.1", false],
    ["::ffff:203.0.113.7", true],
    ["not an ip", false],
  ])("%s public: %p", (ip, expected) => {
    expect(isPublicAddress(ip)).toBe(expected);
  });
});

describe("home matching", () => {
  test("addresses and ranges of both families", () => {
    expect(matchHomeAddress("203.0.113.7", HOME)).toBe("203.0.113.7");
    expect(matchHomeAddress("::ffff:203.0.113.7", HOME)).toBe("203.0.113.7");
    expect(matchHomeAddress("2001:db8:1:2::9", HOME)).toBe("2001:db8:1::/48");
    expect(isHomeAddress("203.0.113.8", HOME)).toBe(false);
    expect(isHomeAddress("2001:db8:2::9", HOME)).toBe(false);
    expect(isHomeAddress("garbage", HOME)).toBe(false);
  });

  test("a broken entry is skipped, not fatal", () => {
    expect(isHomeAddress("192.0.2.1", { addresses: ["nonsense", "192.0.2.0/24"], asns: [] })).toBe(true);
  });

  test("by address first, then by ASN; a missing ASN never matches", () => {
    expect(matchHome(testGeo.lookup("203.0.113.7"), HOME)).toEqual({ kind: "address", entry: "203.0.113.7" });
    expect(matchHome(testGeo.lookup("203.0.113.53"), HOME)).toEqual({ kind: "asn", asn: 64500 });
    expect(matchHome(testGeo.lookup("203.0.113.200"), HOME)).toBeNull();
    expect(matchHome(testGeo.lookup("198.51.100.7"), HOME)).toBeNull();
  });
});
