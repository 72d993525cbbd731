import { describe, expect, test } from "bun:test";
import { LABEL_LENGTH, OracleLabels } from "./labels.ts";

const KEY = Buffer.alloc(32, 1);
const OLD = Buffer.alloc(32, 2);
const NOW = 1_800_000_000_000;

describe("DNS oracle labels", () => {
  const labels = new OracleLabels([KEY]);

  test("a minted label is one DNS label of lower-case hex, fresh every time", () => {
    const a = labels.mint("c_one", NOW, 60_000);
    const b = labels.mint("c_one", NOW, 60_000);
    expect(a).toMatch(new RegExp(`^[0-9a-f]{${LABEL_LENGTH}}$`));
    expect(a.length).toBeLessThanOrEqual(63);
    expect(a).not.toBe(b);
  });

  test("it checks until it expires, in any letter case (resolvers may randomise case)", () => {
    const label = labels.mint("c_one", NOW, 60_000);
    expect(labels.check(label, NOW + 59_000)?.expiresAt).toBe(NOW + 60_000);
    expect(labels.check(label.toUpperCase(), NOW)).not.toBeNull();
    expect(labels.check(label, NOW + 61_000)).toBeNull();
  });

  test("it belongs to the client it was minted for and to no other", () => {
    const label = labels.mint("c_one", NOW, 60_000);
    expect(labels.checkFor(label, "c_one", NOW)).not.toBeNull();
    expect(labels.checkFor(label, "c_two", NOW)).toBeNull();
  });

  test("a changed character, another server's key or a stretched expiry does not check", () => {
    const label = labels.mint("c_one", NOW, 60_000);
    const flipped = `${label.slice(0, 20)}${label[20] === "0" ? "1" : "0"}${label.slice(21)}`;
    expect(labels.check(flipped, NOW)).toBeNull();
    expect(new OracleLabels([OLD]).check(label, NOW)).toBeNull();
    // the expiry is signed: moving it later breaks the mac
    const expiryHex = label.slice(26, 34);
    const later = (Number.parseInt(expiryHex, 16) + 3600).toString(16).padStart(8, "0");
    expect(labels.check(`${label.slice(0, 26)}${later}${label.slice(34)}`, NOW)).toBeNull();
    for (const junk of ["", "x", "zz".repeat(25), `${label}0`, label.slice(1)])
      expect(labels.check(junk, NOW)).toBeNull();
  });

  test("during a server key rotation, labels signed with the previous key still check", () => {
    const before = new OracleLabels([OLD]).mint("c_one", NOW, 60_000);
    const rotated = new OracleLabels([KEY, OLD]);
    expect(rotated.checkFor(before, "c_one", NOW)).toEqual({ expiresAt: NOW + 60_000, key: 1 });
    expect(rotated.checkFor(before, "c_two", NOW)).toBeNull();
  });
});
