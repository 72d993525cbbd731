import { describe, expect, test } from "bun:test";
import { isHomeAddress, matchHome, matchHomeAddress } from "./home.ts";
import { HOME, testGeo } from "./testing.ts";

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
    expect(
      isHomeAddress("192.0.2.1", { addresses: ["nonsense", "192.0.2.0/24"], asns: [], learn: false }),
    ).toBe(true);
  });

  test("by address first, then by ASN; a missing ASN never matches", () => {
    expect(matchHome(testGeo.lookup("203.0.113.7"), HOME)).toEqual({ kind: "address", entry: "203.0.113.7" });
    expect(matchHome(testGeo.lookup("203.0.113.53"), HOME)).toEqual({ kind: "asn", asn: 64500 });
    expect(matchHome(testGeo.lookup("203.0.113.200"), HOME)).toBeNull();
    expect(matchHome(testGeo.lookup("198.51.100.7"), HOME)).toBeNull();
  });
});
