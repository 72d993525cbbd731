import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { formatIPv4, formatIPv6, maskIPv6, parseCidr, parseIPv4, parseIPv6, parseIp } from "./ip.ts";

describe("parseIPv4", () => {
  test.each([
    ["0.0.0.0", 0],
    ["1.1.1.1", 0x01010101],
    ["255.255.255.255", 0xffffffff],
    ["192.0.2.10", 0xc000020a],
  ])("%s", (text, value) => expect(parseIPv4(text)).toBe(value));

  test.each(["", "1.1.1", "1.1.1.1.1", "256.1.1.1", "01.1.1.1", "1.1.1.-1", "a.b.c.d", " 1.1.1.1", "1..1.1"])(
    "rejects %p",
    (text) => expect(parseIPv4(text)).toBeNull(),
  );
});

describe("parseIPv6", () => {
  test.each([
    ["::", [0, 0, 0, 0]],
    ["::1", [0, 0, 0, 1]],
    ["2001:db8::", [0x20010db8, 0, 0, 0]],
    ["2001:DB8:0:0:1:0:0:1", [0x20010db8, 0, 0x10000, 1]],
    ["2606:4700:4700::1111", [0x26064700, 0x47000000, 0, 0x1111]],
    ["::ffff:192.0.2.1", [0, 0, 0xffff, 0xc0000201]],
    ["fe80::1%eth0", [0xfe800000, 0, 0, 1]],
    ["1:2:3:4:5:6:7::", [0x10002, 0x30004, 0x50006, 0x70000]],
  ])("%s", (text, words) => expect(parseIPv6(text)).toEqual(words as never));

  test.each([
    "",
    ":",
    ":::",
    "1::2::3",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "12345::",
    "g::1",
    "::1.2.3",
    "1:2:3:4:5:6:7:8::",
    "1.2.3.4::", // a dotted quad may only end the address
  ])("rejects %p", (text) => expect(parseIPv6(text)).toBeNull());

  test("answers like the straightforward split-and-regex parser, for any text of address characters", () => {
    const part = fc.oneof(
      fc.constantFrom("", ":", "::", ".", "%", "%eth0", "0", "ffff", "FFFF", "12345", "1.2.3.4", "010.1.1.1"),
      fc.stringMatching(/^[0-9a-fA-F]{1,5}$/),
      fc.stringMatching(/^[0-9a-g:.%]{1,8}$/),
    );
    const junk = fc.array(part, { maxLength: 14 }).map((parts) => parts.join(""));
    // near-valid addresses: up to 9 groups, "::" anywhere or nowhere, maybe a dotted quad
    const group = fc.stringMatching(/^[0-9a-fA-F]{1,4}$/);
    const quad = fc.option(fc.constantFrom("192.0.2.1", "1.2.3", "256.1.1.1", "01.2.3.4"), {
      nil: undefined,
    });
    const nearValid = fc
      .tuple(fc.array(group, { maxLength: 9 }), quad, fc.integer({ min: -1, max: 10 }))
      .map(([groups, dotted, gapAt]) => {
        const parts = dotted ? [...groups, dotted] : groups;
        return gapAt < 0 || gapAt > parts.length
          ? parts.join(":")
          : `${parts.slice(0, gapAt).join(":")}::${parts.slice(gapAt).join(":")}`;
      });
    const text = fc.oneof(junk, nearValid);
    fc.assert(
      fc.property(text, (t) => {
        expect(parseIPv6(t) as number[] | null).toEqual(referenceParseIPv6(t));
      }),
      { numRuns: 20_000 },
    );
  });
});

/** The previous parseIPv6: obviously right and slower (split, a regex per group). */
function referenceParseIPv6(text: string): number[] | null {
  const zone = text.indexOf("%");
  const addr = zone === -1 ? text : zone === text.length - 1 ? "" : text.slice(0, zone);
  if (addr.length < 2 || addr.length > 45) return null;
  const halves = addr.split("::");
  if (halves.length > 2) return null;
  const groups = (side: string, endsAddress: boolean): number[] | null => {
    if (side === "") return [];
    const parts = side.split(":");
    const out: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      if (endsAddress && i === parts.length - 1 && part.includes(".")) {
        const v4 = parseIPv4(part);
        if (v4 === null) return null;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return null;
        out.push(Number.parseInt(part, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0] as string, halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1] as string, true) : [];
  if (!head || !tail) return null;
  const total = head.length + tail.length;
  if (halves.length === 2 ? total > 7 : total !== 8) return null;
  const all = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  return [0, 2, 4, 6].map((i) => ((all[i] as number) * 0x10000 + (all[i + 1] as number)) >>> 0);
}

test("parseIp treats IPv4-mapped IPv6 as IPv4, as a dual-stack socket reports it", () => {
  expect(parseIp("::ffff:8.8.8.8")).toEqual({ family: 4, v4: 0x08080808 });
  expect(parseIp("::ffff:808:808")).toEqual({ family: 4, v4: 0x08080808 });
  expect(parseIp("8.8.8.8")).toEqual({ family: 4, v4: 0x08080808 });
  expect(parseIp("2001:db8::1")).toEqual({ family: 6, v6: [0x20010db8, 0, 0, 1] });
  expect(parseIp("not an ip")).toBeNull();
});

test("formatters write canonical text (RFC 5952)", () => {
  expect(formatIPv4(0xc000020a)).toBe("192.0.2.10");
  expect(formatIPv6([0x20010db8, 0, 0, 1])).toBe("2001:db8::1");
  expect(formatIPv6([0x20010db8, 0x10000, 0, 1])).toBe("2001:db8:1::1");
  expect(formatIPv6([0x20010db8, 0x1, 0x10000, 1])).toBe("2001:db8:0:1:1::1");
  expect(formatIPv6([0, 0, 0, 0])).toBe("::");
  expect(formatIPv6([0x10002, 0x30004, 0x50006, 0x70008])).toBe("1:2:3:4:5:6:7:8");
});

test("maskIPv6 clears host bits across word boundaries", () => {
  expect(maskIPv6([0x20010db8, 0xffffffff, 0xffffffff, 0xffffffff], 36)).toEqual([
    0x20010db8, 0xf0000000, 0, 0,
  ]);
  expect(maskIPv6([0xffffffff, 1, 1, 1], 0)).toEqual([0, 0, 0, 0]);
});

describe("parseCidr", () => {
  test("valid ranges and bare hosts", () => {
    expect(parseCidr("192.0.2.0/24")).toEqual({ family: 4, network: 0xc0000200, prefix: 24 });
    expect(parseCidr("0.0.0.0/0")).toEqual({ family: 4, network: 0, prefix: 0 });
    expect(parseCidr("203.0.113.9")).toEqual({ family: 4, network: 0xcb007109, prefix: 32 });
    expect(parseCidr("2001:db8::/32")).toEqual({ family: 6, network: [0x20010db8, 0, 0, 0], prefix: 32 });
    expect(parseCidr("2001:db8::1")).toEqual({ family: 6, network: [0x20010db8, 0, 0, 1], prefix: 128 });
  });

  test.each([
    ["192.0.2.1/24", "has host bits set (did you mean 192.0.2.0/24?)"],
    ["2001:db8::1/32", "has host bits set (did you mean 2001:db8::/32?)"],
    ["192.0.2.0/33", "has prefix length 33, more than 32"],
    ["2001:db8::/129", "has prefix length 129, more than 128"],
    ["192.0.2.0/", "has no valid prefix length after /"],
    ["192.0.2.0/024", "has no valid prefix length after /"],
    ["192.0.2/24", "is not an IPv4 or IPv6 address or CIDR"],
    ["::ffff:192.0.2.0/120", "is an IPv4-mapped IPv6 range; write it as an IPv4 CIDR"],
    ["fe80::/10%eth0", "has no valid prefix length after /"],
  ])("%s", (text, message) => expect(parseCidr(text)).toBe(message));
});
