import { describe, expect, test } from "bun:test";
import { ipFamilyOf, normalizeIp, parseIpAnswer } from "./ip-answer.ts";

describe("parseIpAnswer", () => {
  const table: [string, string, string | null][] = [
    ["plain with newline (icanhazip)", "203.0.113.7\n", "203.0.113.7"],
    ["plain with spaces", "  203.0.113.7  ", "203.0.113.7"],
    ["plain IPv6, upper case, long form", "2001:0DB8:0000:0000:0000:0000:0000:0001\n", "2001:db8::1"],
    ["ipify JSON", '{"ip":"203.0.113.7"}', "203.0.113.7"],
    ["ident.me JSON", '{"address":"2001:db8::5","cc":"ZZ"}', "2001:db8::5"],
    ["ip-api JSON", '{"status":"success","query":"198.51.100.2"}', "198.51.100.2"],
    ["httpbin origin with proxy list", '{"origin":"203.0.113.7, 10.0.0.1"}', "203.0.113.7"],
    ["IPv4-mapped IPv6 is IPv4", '{"ip":"::ffff:203.0.113.7"}', "203.0.113.7"],
    ["HTML error page", "<html><body>blocked</body></html>", null],
    ["JSON without a known key", '{"hello":"203.0.113.7"}', null],
    ["JSON with a non-address", '{"ip":"localhost"}', null],
    ["broken JSON", '{"ip": "203.0.113.7"', null],
    ["out of range octet", "203.0.113.256", null],
    ["empty", "", null],
  ];
  for (const [name, body, expected] of table) test(name, () => expect(parseIpAnswer(body)).toBe(expected));
});

test("normalizeIp and ipFamilyOf", () => {
  expect(normalizeIp("2001:DB8::0:1")).toBe("2001:db8::1");
  expect(normalizeIp("not an ip")).toBeNull();
  expect(ipFamilyOf("203.0.113.7")).toBe(4);
  expect(ipFamilyOf("2001:db8::1")).toBe(6);
});
