import { describe, expect, test } from "bun:test";
import { isPublicAddress } from "./public-address.ts";

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
