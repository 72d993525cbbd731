/**
 * `sentinel healthcheck`: exit 0 when the sentinel running here is healthy, 1 when not, with one
 * line of evidence per process. It is the image's HEALTHCHECK, so it must work unchanged for a
 * container that runs `sentinel server` and one that runs `sentinel client`:
 *
 * - it finds the `sentinel server`/`sentinel client` processes it can see (in a container: the
 *   one the container runs) in /proc, and resolves their options from their own command line,
 *   environment and working directory, exactly as they did;
 * - a server is healthy when its /readyz answers 200 (database writable and migrated);
 * - a client is healthy when its status file (src/agent/health.ts) says it probed and delivered
 *   a report recently.
 *
 * `--url`, `--status-file` and `--pid` check one thing explicitly instead.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { defineCommand } from "citty";
import { type HealthVerdict, healthFilePath, judgeClientHealth, readClientHealth } from "../agent/health.ts";
import { cittyArgs, OptionError, type OptionSpecs } from "../config/options.ts";
import { clientSpecs, clientSpoolDir, resolveToken } from "./client.ts";
import { loadOptions } from "./common.ts";
import { serverSpecs } from "./server.ts";
import { parseListen } from "./server-options.ts";

export const healthcheckSpecs = {
  url: {
    kind: "string",
    description: "Check the server at this URL (its /readyz) instead of the sentinel running here",
    valueHint: "URL",
    flagOnly: true,
  },
  statusFile: {
    kind: "string",
    description: "Check the client that writes this status file (SPOOL_DIR/CLIENT_ID.status.json)",
    valueHint: "FILE",
    flagOnly: true,
  },
  pid: {
    kind: "int",
    description: "Check the sentinel server or client with this process id",
    valueHint: "PID",
    flagOnly: true,
  },
  healthMaxAge: {
    kind: "duration",
    description:
      "Client: how old its last round and last delivered report may be (default: 2 report intervals + 60s)",
    valueHint: "DURATION",
    check: (v: number) => (v >= 1000 ? undefined : "must be at least 1s"),
  },
  timeout: {
    kind: "duration",
    description: "Server: how long /readyz may take",
    default: 5000,
    valueHint: "DURATION",
    flagOnly: true,
  },
  json: { kind: "boolean", description: "Print JSON", flagOnly: true },
} satisfies OptionSpecs;

export type Role = "server" | "client";

export interface SentinelProcess {
  pid: number;
  role: Role;
  /** the options after the subcommand */
  args: string[];
}

/**
 * The role and options of a command line, or null for anything but a long-running server or
 * client. Compiled: `sentinel server ...`; from source: `bun src/main.ts server ...`.
 */
export function parseCommandLine(argv: string[]): { role: Role; args: string[] } | null {
  for (const i of [1, 2]) {
    const a = argv[i];
    if (a === "server" || (a === "client" && argv[i + 1] !== "doctor"))
      return { role: a, args: argv.slice(i + 1) };
    if (a === undefined || a.startsWith("-")) return null;
  }
  return null;
}

const readCmdline = (proc: string, pid: number | string) =>
  readFileSync(join(proc, String(pid), "cmdline"), "utf8")
    .split("\0")
    .slice(0, -1);

/** Every process running the same executable as this one as a server or client. */
export function findSentinelProcesses(proc = "/proc"): SentinelProcess[] {
  const self = readlinkSync(join(proc, "self", "exe"));
  const found: SentinelProcess[] = [];
  for (const name of readdirSync(proc)) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(join(proc, name, "exe")) !== self) continue;
      const parsed = parseCommandLine(readCmdline(proc, name));
      if (parsed) found.push({ pid: Number(name), ...parsed });
    } catch {
      // gone meanwhile, or another user's process: not ours to check
    }
  }
  return found.sort((a, b) => a.pid - b.pid);
}

/** The environment a process started with; ours when it cannot be read (another user's process). */
function processEnv(proc: string, pid: number): Record<string, string | undefined> {
  try {
    const env: Record<string, string> = {};
    for (const kv of readFileSync(join(proc, String(pid), "environ"), "utf8").split("\0")) {
      const eq = kv.indexOf("=");
      if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    return env;
  } catch {
    return Bun.env;
  }
}

export type Target = { kind: "server"; url: string } | { kind: "client"; statusFile: string };

/**
 * What to ask about a process: its options resolved as it resolved them (its argv, its
 * environment, relative paths from its working directory). Throws an OptionError.
 */
export function targetOf(p: SentinelProcess, proc = "/proc"): Target {
  const env = processEnv(proc, p.pid);
  const here = process.cwd();
  try {
    process.chdir(readlinkSync(join(proc, String(p.pid), "cwd")));
  } catch {
    // stays here: the same in a container, where both run in WORKDIR
  }
  try {
    if (p.role === "server") {
      const { options } = loadOptions(serverSpecs, p.args, "server", env);
      const listen = parseListen(options.listen) as { hostname: string; port: number };
      if (listen.port === 0)
        throw new OptionError(
          `it listens on a random port (--listen ${options.listen}): check it with --url`,
        );
      // a server listening on every address answers on loopback
      const host =
        listen.hostname === "0.0.0.0"
          ? "127.0.0.1"
          : listen.hostname.includes(":")
            ? `[${listen.hostname === "::" ? "::1" : listen.hostname}]`
            : listen.hostname;
      return { kind: "server", url: `${options.tlsCert ? "https" : "http"}://${host}:${listen.port}` };
    }
    const { options } = loadOptions(clientSpecs, p.args, "client", env);
    const token = resolveToken(options);
    const spoolDir = resolve(clientSpoolDir(options.spoolDir, token.clientId, env));
    return { kind: "client", statusFile: healthFilePath(spoolDir) };
  } finally {
    process.chdir(here);
  }
}

/** Asks `${url}/readyz`. TLS is not verified: this checks a process on this machine, whose certificate names its public host. */
export async function checkServer(url: string, timeoutMs: number): Promise<HealthVerdict> {
  const readyz = `${url.replace(/\/+$/, "")}/readyz`;
  try {
    const res = await fetch(readyz, {
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "error",
      tls: { rejectUnauthorized: false },
    });
    const body = (await res.json().catch(() => ({}))) as { schema_version?: unknown; reason?: unknown };
    if (res.status === 200)
      return { healthy: true, detail: `ready (${readyz}, schema ${String(body.schema_version)})` };
    const why = typeof body.reason === "string" ? `: ${body.reason}` : "";
    return { healthy: false, detail: `not ready (${readyz} answered HTTP ${res.status}${why})` };
  } catch (e) {
    const err = e as Error & { code?: string };
    const why = err.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : (err.code ?? err.message);
    return { healthy: false, detail: `unreachable (${readyz}: ${why})` };
  }
}

export function checkClient(statusFile: string, now: number, maxAgeMs?: number): HealthVerdict {
  try {
    return judgeClientHealth(readClientHealth(statusFile), now, maxAgeMs);
  } catch (e) {
    return { healthy: false, detail: (e as Error).message };
  }
}

export interface CheckResult extends HealthVerdict {
  role: Role;
  pid?: number;
  /** the URL or status file asked */
  target?: string;
}

async function check(target: Target, opts: { timeoutMs: number; maxAgeMs?: number }) {
  return target.kind === "server"
    ? { role: "server" as const, target: target.url, ...(await checkServer(target.url, opts.timeoutMs)) }
    : {
        role: "client" as const,
        target: target.statusFile,
        ...checkClient(target.statusFile, Date.now(), opts.maxAgeMs),
      };
}

// exit 1, never 2: Docker reserves 2 in a HEALTHCHECK
const unhealthy = (message: string) => Object.assign(new Error(message), { exitCode: 1 });

/** Runs the checks the options ask for; every process found is checked, and all must be healthy. */
export async function runHealthcheck(
  argv: string[],
  env: Record<string, string | undefined> = Bun.env,
  proc = "/proc",
): Promise<{ results: CheckResult[]; json: boolean }> {
  const { options: o, positionals } = loadOptions(healthcheckSpecs, argv, "healthcheck", env);
  if (positionals.length) throw new OptionError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const opts = { timeoutMs: o.timeout, ...(o.healthMaxAge ? { maxAgeMs: o.healthMaxAge } : {}) };
  const done = (results: CheckResult[]) => ({ results, json: o.json });
  if (o.url) return done([await check({ kind: "server", url: o.url }, opts)]);
  if (o.statusFile) return done([await check({ kind: "client", statusFile: o.statusFile }, opts)]);
  let processes: SentinelProcess[];
  if (o.pid !== undefined) {
    let parsed: ReturnType<typeof parseCommandLine> = null;
    try {
      parsed = parseCommandLine(readCmdline(proc, o.pid));
    } catch {
      throw unhealthy(`no process ${o.pid}`);
    }
    if (!parsed) throw unhealthy(`process ${o.pid} is not a sentinel server or client`);
    processes = [{ pid: o.pid, ...parsed }];
  } else processes = findSentinelProcesses(proc);
  const results: CheckResult[] = [];
  for (const p of processes) {
    let target: Target;
    try {
      target = targetOf(p, proc);
    } catch (e) {
      const detail = `its options do not resolve: ${(e as Error).message}`;
      results.push({ role: p.role, pid: p.pid, healthy: false, detail });
      continue;
    }
    results.push({ pid: p.pid, ...(await check(target, opts)) });
  }
  return done(results);
}

export const formatResult = (r: CheckResult) =>
  `${r.role}${r.pid === undefined ? "" : ` (pid ${r.pid})`} ${r.healthy ? "healthy" : "unhealthy"}: ${r.detail}`;

export default defineCommand({
  meta: {
    name: "healthcheck",
    description:
      "Exit 0 when the sentinel server or client running here is healthy, 1 when not (the container image's HEALTHCHECK)",
  },
  args: cittyArgs(healthcheckSpecs),
  async run({ rawArgs }) {
    const { results, json } = await runHealthcheck(rawArgs);
    if (json) console.log(JSON.stringify(results));
    else if (results.length === 0) console.log("unhealthy: no sentinel server or client runs here");
    else for (const r of results) console.log(formatResult(r));
    if (results.length === 0 || results.some((r) => !r.healthy)) throw unhealthy("unhealthy");
  },
});
