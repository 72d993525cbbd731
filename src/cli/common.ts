/** Shared plumbing for subcommands: option loading and the logger. Kept light: the client imports it. */
import { constants, existsSync, readFileSync } from "node:fs";
import { type ConsolaInstance, type ConsolaReporter, createConsola, type LogObject } from "consola";
import { OptionError, type OptionSpecs, type Options, resolveOptions } from "../config/options.ts";
import { wantsColour } from "./colour.ts";
import { requireAccess } from "./permissions.ts";
import { redactValue } from "./redact.ts";

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
    requireAccess(configPath, constants.R_OK, "read");
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

const argText = (a: unknown) =>
  a instanceof Error ? (a.stack ?? a.message) : typeof a === "string" ? a : JSON.stringify(a);

/**
 * Pretty logs for a file, a pipe or the journal: one line per entry, no colours, no blank lines
 * around warnings (consola's fancy reporter draws for a terminal).
 */
const plainReporter = {
  log(obj: LogObject) {
    const tag = obj.tag ? `[${obj.tag}] ` : "";
    process.stderr.write(`${obj.type.toUpperCase()} ${tag}${obj.args.map(argText).join(" ")}\n`);
  },
};

export type { Logger } from "../logger.ts";

/** The values of the options marked secret (tokens, keys): the logger blanks them out wherever they appear. */
export function secretValues(specs: OptionSpecs, options: Record<string, unknown>): string[] {
  return Object.entries(specs)
    .filter(([key, spec]) => spec.secret && typeof options[key] === "string")
    .map(([key]) => options[key] as string);
}

/**
 * Every line passes here before any reporter sees it: credentials (by shape, and the given
 * secret values) are replaced in messages, errors, stacks and fields (see redact.ts).
 */
function redacting(reporter: ConsolaReporter, secrets: readonly string[]): ConsolaReporter {
  return {
    log: (obj, ctx) =>
      reporter.log(
        {
          ...obj,
          args: obj.args.map((a) => redactValue(a, secrets)),
          ...(obj.message === undefined ? {} : { message: redactValue(obj.message, secrets) as string }),
        },
        ctx,
      ),
  };
}

/** Logs go to stderr: stdout is for a command's result. */
export function createLogger(
  opts: { logLevel: string; logFormat: string },
  secrets: readonly string[] = [],
): ConsolaInstance {
  const reporter =
    opts.logFormat === "json" ? jsonReporter : wantsColour(process.stderr) ? null : plainReporter;
  const logger = createConsola({
    level: LEVELS[opts.logLevel] ?? 3,
    ...(reporter ? { reporters: [reporter] } : {}),
    stderr: process.stderr,
    stdout: process.stderr,
  });
  logger.setReporters(logger.options.reporters.map((r) => redacting(r, secrets)));
  return logger;
}
