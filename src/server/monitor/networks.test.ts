import { expect, test } from "bun:test";
import { describeNetworks, formatShare, learnNetworks } from "./networks.ts";
import { HOME, testGeo } from "./testing.ts";

test("exit times become networks and countries by share; home and unknown networks are left out", () => {
  const p = learnNetworks(
    [
      { ip: "198.51.100.7", ms: 900 }, // AS64501 BR
      { ip: "198.51.100.8", ms: 97 }, // AS64501 BR
      { ip: "198.51.100.200", ms: 3 }, // AS64504 SE
      { ip: "203.0.113.7", ms: 5000 }, // home: a bypass is never learned
      { ip: "203.0.113.200", ms: 7000 }, // nothing known
    ],
    testGeo,
    HOME,
  );
  expect(p.asns.map((n) => [n.asn, n.ms, Math.round(n.share * 1000)])).toEqual([
    [64501, 997, 997],
    [64504, 3, 3],
  ]);
  expect(p.countries.map((c) => c.country)).toEqual(["BR", "SE"]);
  expect(describeNetworks(p)).toBe("AS64501 VPN Co São Paulo 100 %, AS64504 Second VPN AB <1 %");
});

test("shares read as whole percent, never 0 % for something that happened", () => {
  expect(formatShare(0.96)).toBe("96 %");
  expect(formatShare(0.004)).toBe("<1 %");
  expect(formatShare(0)).toBe("0 %");
});
