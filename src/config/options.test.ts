import { describe, expect, test } from "bun:test";
import { parseDuration } from "./duration.ts";
import { cittyArgs, OptionError, type OptionSpecs, resolveOptions } from "./options.ts";

const specs = {
  dataDir: { kind: "string", description: "d", default: "./data" },
  interval: { kind: "duration", description: "i", default: "30s" },
  grace: { kind: "duration", description: "g", default: 60_000 },
  port: { kind: "int", description: "p" },
  provider: { kind: "list", description: "l", default: ["a", "b"] },
  asn: { kind: "int-list", description: "n" },
  verbose: { kind: "boolean", description: "v" },
  token: {
    kind: "string",
    description: "t",
    secret: true,
    check: (v: string) => (v.startsWith("st1.") ? undefined : "must start with st1."),
  },
} satisfies OptionSpecs;

const resolve = (argv: string[], env: Record<string, string> = {}, file?: Record<string, unknown>) =>
  resolveOptions(specs, { argv, env, file }).options;

describe("resolveOptions", () => {
  test("defaults, with durations parsed from text or taken as ms", () => {
    expect(resolve([])).toEqual({
      dataDir: "./data",
      interval: 30_000,
      grace: 60_000,
      port: undefined,
      provider: ["a", "b"],
      asn: [],
      verbose: false,
      token: undefined,
    } as never);
  });

  test("flag > env > file > default, for every kind", () => {
    const file = { "data-dir": "/file", interval: "1m", port: 1, provider: ["f"], asn: [1], verbose: true };
    expect(resolve([], {}, file)).toMatchObject({
      dataDir: "/file",
      interval: 60_000,
      port: 1,
      provider: ["f"],
      asn: [1],
      verbose: true,
    });
    const env = {
      SENTINEL_DATA_DIR: "/env",
      SENTINEL_INTERVAL: "2m",
      SENTINEL_PORT: "2",
      SENTINEL_PROVIDER: "e1,e2",
      SENTINEL_ASN: "2,3",
    };
    expect(resolve([], env, file)).toMatchObject({
      dataDir: "/env",
      interval: 120_000,
      port: 2,
      provider: ["e1", "e2"],
      asn: [2, 3],
    });
    const argv = [
      "--data-dir",
      "/flag",
      "--interval",
      "5s",
      "--port",
      "3",
      "--provider",
      "x",
      "--provider",
      "y",
      "--asn",
      "4",
    ];
    expect(resolve(argv, env, file)).toMatchObject({
      dataDir: "/flag",
      interval: 5000,
      port: 3,
      provider: ["x", "y"],
      asn: [4],
    });
  });

  test("--no-<name> turns off a boolean that defaults to true, and beats env and file", () => {
    const on = {
      learn: { kind: "boolean", description: "l", default: true },
      noIpv6: { kind: "boolean", description: "n" },
    } satisfies OptionSpecs;
    const r = (argv: string[], env: Record<string, string> = {}) => resolveOptions(on, { argv, env }).options;
    expect(r([]).learn).toBe(true);
    expect(r(["--no-learn"]).learn).toBe(false);
    expect(r(["--no-learn"], { SENTINEL_LEARN: "true" }).learn).toBe(false);
    expect(r([], { SENTINEL_LEARN: "false" }).learn).toBe(false);
    // an option whose own name starts with no- is still itself
    expect(r(["--no-ipv6"]).noIpv6).toBe(true);
    expect(cittyArgs(on).learn?.description).toContain("--no-learn");
  });

  test("snake_case keys work in the file too", () => {
    expect(resolve([], {}, { data_dir: "/snake" }).dataDir).toBe("/snake");
  });

  test.each([
    [["--interval", "soon"], "--interval"],
    [["--port", "1.5"], "--port"],
    [["--asn", "AS13335"], "--asn"],
    [["--verbose=maybe"], "--verbose"],
    [["--nope"], "nope"],
  ])("%p is one clear OptionError", (argv, mentions) => {
    expect(() => resolve(argv)).toThrow(OptionError);
    expect(() => resolve(argv)).toThrow(mentions);
  });

  test("a negative duration must be positive, from a flag (also as its own word), env or file", () => {
    const problem = (argv: string[], env: Record<string, string> = {}, file?: Record<string, unknown>) => {
      try {
        resolve(argv, env, file);
        return null;
      } catch (e) {
        return (e as OptionError).message;
      }
    };
    const positive = "must be positive (a duration like 30s, 5m, 2h)";
    expect(problem(["--grace", "-5s"])).toBe(`--grace: "-5s" ${positive}`);
    expect(problem(["--grace=-1h30m"])).toBe(`--grace: "-1h30m" ${positive}`);
    expect(problem([], { SENTINEL_GRACE: "-5s" })).toBe(`SENTINEL_GRACE: "-5s" ${positive}`);
    expect(problem([], {}, { grace: -5 })).toBe(`config key "grace": -5 ${positive}`);
    expect(problem(["--grace", "-soon"])).toContain("Option '--grace' argument is ambiguous");
    expect(problem(["--grace", "soon"])).toBe('--grace: "soon" is not a duration (use e.g. 30s, 5m, 2h)');
    // a value that merely starts with a digit after the dash is still the option's value
    expect(problem(["--port", "-1"])).toBeNull();
    expect(resolve(["--port", "-1"]).port).toBe(-1);
  });

  test("a secret is never echoed in an error", () => {
    try {
      resolve(["--token", "hunter2-secret"]);
      throw new Error("should have thrown");
    } catch (e) {
      expect((e as Error).message).toContain("--token");
      expect((e as Error).message).not.toContain("hunter2");
    }
    expect(() => resolve([], { SENTINEL_TOKEN: "nope-secret" })).toThrow("SENTINEL_TOKEN");
  });

  test("help shows defaults as people type them and never a secret", () => {
    const args = cittyArgs(specs);
    expect(args.interval?.description).toContain("(default: 30s)");
    expect(args.grace?.description).toContain("(default: 1m)");
    expect(args["data-dir"]?.description).toContain("[env SENTINEL_DATA_DIR]");
    expect(args.token?.description).not.toContain("default");
  });
});

describe("parseDuration", () => {
  test.each([
    ["30s", 30_000],
    ["5m", 300_000],
    ["2h", 7_200_000],
    ["1d", 86_400_000],
    ["1h30m", 5_400_000],
    ["250ms", 250],
    ["45", 45_000],
    ["soon", null],
    ["", null],
    ["5 m", null],
  ])("%p → %p", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});
