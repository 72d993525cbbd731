/** Shared plumbing for subcommands: option loading and the logger. Kept light: the client imports it. */
import { existsSync, readFileSync } from "node:fs";
// The basic reporter ("[info] message"): the default one's icons, boxes and Unicode string
// widths cost every process ~6 MiB of memory, and a journal wants plain lines anyway.
import { type ConsolaInstance, createConsola, type LogObject } from "consola/basic";
import { OptionError, type OptionSpecs, type Options, resolveOptions } from "../config/options.ts";

/** Options every long-running command has. */
export const commonSpecs = {
  config: { kind: "string", description: "TOML configuration file", valueHint: "FILE", flagOnly: true },
  logLevel: {
    kind: "string",
    description: "Log level: error, warn, info, debug",
    default: "info",
    check: (v: string) =>
      ["error", "warn", "info", "debug"].includes(v) ? undefined : "must be error, warn, info or debug",
  },
  logFormat: {
    kind: "string",
    description: "Log format: pretty or json",
    default: "pretty",
    check: (v: string) => (v === "pretty" || v === "json" ? undefined : "must be pretty or json"),
  },
} satisfies OptionSpecs;

/**
 * Resolves options for a command: flag > env > TOML file (top level, then the [section]) > default.
 */
export function loadOptions<S extends OptionSpecs>(
  specs: S,
  argv: string[],
  section: string,
  env: Record<string, string | undefined> = Bun.env,
): { options: Options<S>; positionals: string[] } {
  const configPath = findConfigPath(argv, env);
  let file: Record<string, unknown> | undefined;
  if (configPath) {
    if (!existsSync(configPath))
      throw new OptionError(`--config: file ${JSON.stringify(configPath)} does not exist`);
    try {
      const parsed = Bun.TOML.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>;
      const scoped = parsed[section];
      file = {
        ...parsed,
        ...(typeof scoped === "object" && scoped !== null ? (scoped as Record<string, unknown>) : {}),
      };
    } catch (e) {
      throw new OptionError(
        `--config: ${configPath} is not valid TOML (${(e as Error).message.split("\n")[0]})`,
      );
    }
  }
  return resolveOptions(specs, { argv, env, file });
}

function findConfigPath(argv: string[], env: Record<string, string | undefined>): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--config") return argv[i + 1];
    if (a.startsWith("--config=")) return a.slice("--config=".length);
  }
  return env.SENTINEL_CONFIG || undefined;
}

const LEVELS: Record<string, number> = { error: 0, warn: 1, info: 3, debug: 4 };

/** consola has no JSON reporter; this one writes one JSON object per line to stderr. */
const jsonReporter = {
  log(obj: LogObject) {
    const [first, ...rest] = obj.args;
    const fields =
      rest.length === 1 && typeof rest[0] === "object" && rest[0] !== null
        ? rest[0]
        : rest.length
          ? { args: rest }
          : {};
    const line = {
      time: obj.date.toISOString(),
      level: obj.type,
      ...(obj.tag ? { component: obj.tag } : {}),
      msg: first instanceof Error ? first.message : String(first),
      ...(fields as object),
    };
    process.stderr.write(`${JSON.stringify(line)}\n`);
  },
};

export type Logger = ConsolaInstance;

export function createLogger(opts: { logLevel: string; logFormat: string }): Logger {
  return createConsola({
    level: LEVELS[opts.logLevel] ?? 3,
    ...(opts.logFormat === "json" ? { reporters: [jsonReporter] } : {}),
    stderr: process.stderr,
    stdout: process.stderr,
  });
}
