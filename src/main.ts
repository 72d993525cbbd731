#!/usr/bin/env bun
/**
 * The `sentinel` executable. Subcommands are imported lazily so that `sentinel client`
 * never loads Elysia, JSX or grammy.
 */
import { type CommandDef, defineCommand, renderUsage, runCommand } from "citty";
import { wantsColour } from "./cli/colour.ts";
import { redactText } from "./cli/redact.ts";
import { OptionError } from "./config/options.ts";
import { VERSION } from "./version.ts";

// biome-ignore lint/suspicious/noExplicitAny: citty's sub-command loaders are heterogeneous
type AnyCommand = CommandDef<any>;
type Loader = () => Promise<AnyCommand>;
const lazy =
  (load: () => Promise<{ default: AnyCommand }>): Loader =>
  () =>
    load().then((m) => m.default);

export const subCommands: Record<string, Loader> = {
  server: lazy(() => import("./cli/server.ts")),
  client: lazy(() => import("./cli/client.ts")),
  check: lazy(() => import("./cli/check.ts")),
  clients: lazy(() => import("./cli/clients.ts")),
  tokens: lazy(() => import("./cli/tokens.ts")),
  users: lazy(() => import("./cli/users.ts")),
  geo: lazy(() => import("./cli/geo.ts")),
  backup: lazy(() => import("./cli/backup.ts")),
  restore: lazy(() => import("./cli/restore.ts")),
  export: lazy(() => import("./cli/export.ts")),
  import: lazy(() => import("./cli/import.ts")),
  migrate: lazy(() => import("./cli/migrate.ts")),
  "server-key": lazy(() => import("./cli/server-key.ts")),
  doctor: lazy(() => import("./cli/doctor.ts")),
  notify: lazy(() => import("./cli/notify.ts")),
  healthcheck: lazy(() => import("./cli/healthcheck.ts")),
  version: lazy(() => import("./cli/version.ts")),
};

export const main = defineCommand({
  meta: {
    name: "sentinel",
    version: VERSION,
    description: "VPN Sentinel: knows within seconds when your VPN stops protecting you",
  },
  subCommands,
});

/** Walks rawArgs down the sub-command tree to the command whose help was asked for. */
async function resolveForHelp(rawArgs: string[]) {
  let cmd: AnyCommand = main;
  let parent: AnyCommand | undefined;
  for (const arg of rawArgs) {
    if (arg.startsWith("-")) continue;
    const subs = (typeof cmd.subCommands === "function" ? await cmd.subCommands() : cmd.subCommands) as
      | Record<string, Loader | CommandDef>
      | undefined;
    const next = subs?.[arg];
    if (!next) break;
    parent = cmd;
    cmd = typeof next === "function" ? await (next as Loader)() : next;
  }
  return [cmd, parent] as const;
}

/**
 * `sentinel client doctor` is the documented spelling; citty would also run `client` itself
 * after a sub-command, so it is routed to the top-level `doctor` instead.
 */
const routeAliases = (args: string[]) =>
  args[0] === "client" && args[1] === "doctor" ? args.slice(1) : args;

export async function run(argv: string[]): Promise<number> {
  const rawArgs = routeAliases(argv);
  try {
    if (rawArgs.length === 0 || rawArgs.includes("--help") || rawArgs.includes("-h")) {
      const [cmd, parent] = await resolveForHelp(rawArgs);
      // citty colours help even into a pipe or a file, and reads NO_COLOR only when it is "1"
      const usage = await renderUsage(cmd, parent);
      console.log(`${wantsColour(process.stdout) ? usage : Bun.stripANSI(usage)}\n`);
      return 0;
    }
    if (rawArgs[0] === "--version") {
      console.log(VERSION);
      return 0;
    }
    // The binary starts with a reluctant JIT for the client (scripts/build.ts, JIT_POLICY);
    // everything else, the server above all, gets the normal one.
    if (rawArgs[0] !== "client") Bun.unsafe.setJITPolicy(1);
    await runCommand(main, { rawArgs });
    return 0;
  } catch (e) {
    const err = e as Error & { code?: string; exitCode?: number };
    if (e instanceof OptionError || err.name === "CLIError") {
      console.error(`sentinel: ${err.message}`);
      return 2;
    }
    if (typeof err.exitCode === "number") {
      console.error(`sentinel: ${err.message}`);
      return err.exitCode;
    }
    // the last error path before the terminal: no credential leaves by it either
    console.error(`sentinel: ${redactText(err.message ?? String(e))}`);
    if (Bun.env.SENTINEL_DEBUG) console.error(redactText(err.stack ?? ""));
    return 1;
  }
}

if (import.meta.main) {
  const code = await run(process.argv.slice(2));
  if (code !== 0) process.exit(code);
}
