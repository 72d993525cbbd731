import { describe, expect, test } from "bun:test";
import type { ProviderAnswer } from "../protocol/report.ts";
import { consensus } from "./consensus.ts";

const ok = (provider: string, ip: string): ProviderAnswer => ({ provider, ip, latency_ms: 10, error: null });
const bad = (provider: string): ProviderAnswer => ({
  provider,
  ip: null,
  latency_ms: null,
  error: "timed out",
});

describe("consensus", () => {
  const A = "203.0.113.7";
  const B = "198.51.100.9";
  const C = "192.0.2.44";
  const table: [string, ProviderAnswer[], string | null, boolean][] = [
    ["all agree", [ok("a", A), ok("b", A), ok("c", A)], A, true],
    ["agree, one failed", [ok("a", A), bad("b"), ok("c", A)], A, true],
    ["a single answer", [bad("a"), ok("b", A)], A, true],
    ["nobody answered", [bad("a"), bad("b")], null, true],
    ["no providers", [], null, true],
    ["2 of 3 majority", [ok("a", A), ok("b", B), ok("c", A)], A, false],
    ["1 vs 1: no majority", [ok("a", A), ok("b", B)], null, false],
    ["three-way split", [ok("a", A), ok("b", B), ok("c", C)], null, false],
    ["2 vs 2: no strict majority", [ok("a", A), ok("b", A), ok("c", B), ok("d", B)], null, false],
    [
      "failures do not count towards the majority",
      [ok("a", A), ok("b", B), ok("c", A), bad("d"), bad("e")],
      A,
      false,
    ],
    // private witnesses (the server's whoami over a LAN, veth or loopback) never vote
    [
      "a LAN whoami beside agreeing providers",
      [ok("a", A), ok("b", A), ok("whoami", "192.168.1.20")],
      A,
      true,
    ],
    ["a veth whoami (10/8) alone names no exit", [ok("whoami", "10.200.0.2")], null, true],
    [
      "loopback, CGNAT, link-local",
      [ok("a", "127.0.0.1"), ok("b", "100.64.3.4"), ok("c", "169.254.0.9")],
      null,
      true,
    ],
    [
      "IPv6 loopback, ULA and link-local",
      [ok("a", "2001:db8::7"), ok("b", "::1"), ok("c", "fd00::2"), ok("d", "fe80::1")],
      "2001:db8::7",
      true,
    ],
    [
      "a private majority cannot outvote a public answer",
      [ok("a", A), ok("b", "10.0.0.1"), ok("c", "10.0.0.1")],
      A,
      true,
    ],
  ];
  for (const [name, answers, ip, consistent] of table) {
    test(name, () => {
      const r = consensus(answers);
      expect(r.ip).toBe(ip);
      expect(r.consistent).toBe(consistent);
      expect(r.answers).toEqual(answers); // every answer kept as evidence
    });
  }
});
