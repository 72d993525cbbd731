/**
 * Declarative options: each command lists its options once, and this module derives the
 * citty help, the env var name (SENTINEL_<NAME>), the TOML key and the parsing.
 * Precedence: flag > env > config file > default.
 */
import { parseArgs } from "node:util";
import { formatDuration, parseDuration } from "./duration.ts";

export type OptionKind = "string" | "int" | "duration" | "boolean" | "list" | "int-list";

export interface OptionSpec {
  kind: OptionKind;
  description: string;
  /** Shown in help and used when no source sets the option. Never set for secrets. */
  default?: string | number | boolean | string[] | number[];
  /** Secrets are never echoed in help, errors or logs. */
  secret?: boolean;
  /** Extra check on the parsed value; return a message to reject it. */
  check?: (value: never) => string | undefined;
  /** Short value name for help, e.g. "URL". */
  valueHint?: string;
  /** Flag-only options (like --config, --json) have no env var or file key. */
  flagOnly?: boolean;
  /** Lists: what separates items in one value (default ","; channel URLs contain commas). */
  listSeparator?: RegExp;
}

export type OptionSpecs = Record<string, OptionSpec>;

type ValueOf<K extends OptionKind> = K extends "int" | "duration"
  ? number
  : K extends "boolean"
    ? boolean
    : K extends "list"
      ? string[]
      : K extends "int-list"
        ? number[]
        : string;

export type Options<S extends OptionSpecs> = {
  [K in keyof S]: S[K]["default"] extends undefined
    ? S[K]["kind"] extends "list" | "int-list" | "boolean"
      ? ValueOf<S[K]["kind"]>
      : ValueOf<S[K]["kind"]> | undefined
    : ValueOf<S[K]["kind"]>;
};

/** A bad option value: printed as one line, exit code 2. */
export class OptionError extends Error {
  readonly code = "invalid_option";
  readonly exitCode = 2;
}

export const flagName = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const envName = (key: string) => `SENTINEL_${flagName(key).replace(/-/g, "_").toUpperCase()}`;

const VALUE_HINTS: Record<OptionKind, string> = {
  string: "VALUE",
  int: "N",
  duration: "DURATION",
  boolean: "",
  list: "VALUE",
  "int-list": "N",
};

/** citty's args object: every option as a string flag (we parse values ourselves). */
export function cittyArgs(specs: OptionSpecs) {
  const args: Record<string, { type: "string" | "boolean"; description: string; valueHint?: string }> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const env = spec.flagOnly ? "" : ` [env ${envName(key)}]`;
    const def =
      spec.default === true
        ? ` (default: true; turn off with --no-${flagName(key)})`
        : spec.default !== undefined && !spec.secret
          ? ` (default: ${formatDefault(spec)})`
          : "";
    args[flagName(key)] = {
      type: spec.kind === "boolean" ? "boolean" : "string",
      description: `${spec.description}${def}${env}`,
      ...(spec.kind === "boolean" ? {} : { valueHint: spec.valueHint ?? VALUE_HINTS[spec.kind] }),
    };
  }
  return args;
}

/** The default as a user would type it: durations as "30s", lists comma-separated. */
export function formatDefault(spec: OptionSpec): string {
  const v = spec.default;
  if (spec.kind === "duration" && typeof v === "number") return v === 0 ? "0 (off)" : formatDuration(v);
  return Array.isArray(v) ? (v.length ? v.join(", ") : "none") : String(v);
}

/** Defaults are written for people ("24h"); the parsed value is what the code gets. */
function defaultValue(spec: OptionSpec): unknown {
  if (spec.kind === "duration" && typeof spec.default === "string") return parseDuration(spec.default);
  return spec.default;
}

export interface OptionSources {
  argv: string[];
  env: Record<string, string | undefined>;
  /** The parsed TOML file, if any (keys as flag names, with - or _). */
  file?: Record<string, unknown>;
}

/**
 * Splits argv into flag values and positionals; unknown flags are an OptionError. A boolean
 * option that defaults to true is turned off with --no-<name> (node's allowNegative is not
 * used: it breaks options whose own name starts with "no-").
 */
export function parseFlags(specs: OptionSpecs, argv: string[]) {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {};
  for (const [key, spec] of Object.entries(specs)) {
    options[flagName(key)] = {
      type: spec.kind === "boolean" ? "boolean" : "string",
      multiple: spec.kind === "list" || spec.kind === "int-list",
    };
  }
  const negated: string[] = [];
  const args = joinNegativeValues(argv, options).filter((a) => {
    const name = a.startsWith("--no-") ? a.slice(5) : null;
    if (name === null || options[a.slice(2)] || options[name]?.type !== "boolean") return true;
    negated.push(name);
    return false;
  });
  try {
    const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    for (const name of negated) (parsed.values as Record<string, unknown>)[name] = false;
    return parsed;
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional.*$/s, "");
    throw new OptionError(msg.split("\n")[0] ?? "invalid arguments");
  }
}

/**
 * `--grace -5s` is a value that starts with a dash, which node's parseArgs calls ambiguous; joined
 * as `--grace=-5s` it reaches the option's own check, which says what is wrong with it.
 */
function joinNegativeValues(argv: string[], options: Record<string, { type: "string" | "boolean" }>) {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const next = argv[i + 1];
    if (
      a.startsWith("--") &&
      options[a.slice(2)]?.type === "string" &&
      next !== undefined &&
      /^-\d/.test(next)
    ) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

export function resolveOptions<S extends OptionSpecs>(
  specs: S,
  src: OptionSources,
): { options: Options<S>; positionals: string[] } {
  const { values, positionals } = parseFlags(specs, src.argv);
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const flag = flagName(key);
    const fromFlag = values[flag];
    let raw: unknown;
    let origin = `--${flag}`;
    if (fromFlag !== undefined && !(Array.isArray(fromFlag) && fromFlag.length === 0)) raw = fromFlag;
    else if (!spec.flagOnly && src.env[envName(key)] !== undefined && src.env[envName(key)] !== "") {
      raw = src.env[envName(key)];
      origin = `${envName(key)}`;
    } else if (!spec.flagOnly && src.file && (flag in src.file || flag.replace(/-/g, "_") in src.file)) {
      raw = src.file[flag] ?? src.file[flag.replace(/-/g, "_")];
      origin = `config key "${flag}"`;
    }
    out[key] = raw === undefined ? defaultValue(spec) : parseValue(spec, raw, origin);
    if (out[key] === undefined && (spec.kind === "list" || spec.kind === "int-list")) out[key] = [];
    if (out[key] === undefined && spec.kind === "boolean") out[key] = false;
    if (raw !== undefined && spec.check) {
      const problem = spec.check(out[key] as never);
      if (problem) throw new OptionError(`${origin}: ${problem}`);
    }
  }
  return { options: out as Options<S>, positionals };
}

function parseValue(spec: OptionSpec, raw: unknown, origin: string): unknown {
  const shown = (v: unknown) => (spec.secret ? "(hidden)" : JSON.stringify(v));
  const fail = (what: string): never => {
    throw new OptionError(`${origin}: ${shown(raw)} ${what}`);
  };
  const separator = spec.listSeparator ?? ",";
  const items = (): unknown[] =>
    Array.isArray(raw)
      ? raw.flatMap((v) => (typeof v === "string" ? v.split(separator) : [v]))
      : String(raw).split(separator);
  switch (spec.kind) {
    case "string":
      if (typeof raw !== "string" && typeof raw !== "number") fail("is not a string");
      return String(raw);
    case "boolean":
      if (typeof raw === "boolean") return raw;
      if (/^(1|true|yes|on)$/i.test(String(raw))) return true;
      if (/^(0|false|no|off)$/i.test(String(raw))) return false;
      return fail("is not a boolean (use true or false)");
    case "int": {
      const n = typeof raw === "number" ? raw : /^-?\d+$/.test(String(raw).trim()) ? Number(raw) : Number.NaN;
      if (!Number.isSafeInteger(n)) fail("is not a whole number");
      return n;
    }
    case "duration": {
      const text = String(raw).trim();
      const negative = typeof raw === "number" ? raw < 0 : text.startsWith("-");
      const ms = typeof raw === "number" ? Math.abs(raw) * 1000 : parseDuration(text.replace(/^-/, ""));
      if (ms === null || !Number.isFinite(ms)) fail("is not a duration (use e.g. 30s, 5m, 2h)");
      if (negative) fail("must be positive (a duration like 30s, 5m, 2h)");
      return ms;
    }
    case "list":
      return items()
        .map((v) => String(v).trim())
        .filter(Boolean);
    case "int-list":
      return items().map((v) => {
        const t = String(v).trim();
        if (!/^\d+$/.test(t)) fail("is not a list of whole numbers");
        return Number(t);
      });
  }
}
