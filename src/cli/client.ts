/**
 * `sentinel client`: runs inside the VPN's namespace, probes and sends signed reports.
 * Loads no server code (Elysia, JSX, grammy): see test/client.test.ts.
 */
import { constants, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { defineCommand } from "citty";
import { Agent, type AgentHooks, DEFAULT_SEND_BACKOFF } from "../agent/agent.ts";
import { ClientHealthFile, healthFilePath } from "../agent/health.ts";
import { type ServerVerdict, whoamiUrl } from "../agent/sender.ts";
import { Spool, type SpoolEntry } from "../agent/spool.ts";
import { VerdictHooks } from "../agent/verdict-hooks.ts";
import { cittyArgs, OptionError, type OptionSpecs, type Options } from "../config/options.ts";
import { parseDnsProbe } from "../probe/dns.ts";
import { httpUrlCheck, probeSpecs } from "../probe/options.ts";
import type { ProbeConfig } from "../probe/run.ts";
import { decodeToken, type EnrollmentToken, TokenFormatError } from "../protocol/token.ts";
import { VERSION } from "../version.ts";
import { commonSpecs, createLogger, loadOptions, secretValues } from "./common.ts";
import { requireAccess } from "./permissions.ts";

export const clientSpecs = {
  server: {
    kind: "string",
    description: "Server URL (may be left out: the token carries it)",
    valueHint: "URL",
    check: httpUrlCheck,
  },
  token: {
    kind: "string",
    description:
      "Enrollment token from `sentinel clients add` (prefer SENTINEL_TOKEN or --token-file: argv is visible to other users)",
    valueHint: "TOKEN",
    secret: true,
  },
  tokenFile: { kind: "string", description: "Read the enrollment token from this file", valueHint: "FILE" },
  interval: {
    kind: "duration",
    valueHint: "DURATION",
    description: "Time between reports, jittered ±10 % (the server's next_report_in_s overrides it)",
    default: 30_000,
    check: (v: number) => (v >= 1000 && v <= 86_400_000 ? undefined : "must be between 1s and 24h"),
  },
  ...probeSpecs,
  noWhoami: {
    kind: "boolean",
    description: "Do not use the server's /api/v1/whoami as an extra IP provider",
  },
  watchInterval: {
    kind: "duration",
    valueHint: "DURATION",
    description:
      "How often routes, interfaces and resolv.conf are checked for changes that trigger a probe; 0 = off",
    default: 1000,
    check: (v: number) =>
      v === 0 || (v >= 100 && v <= 60_000) ? undefined : "must be 0 or between 100ms and 60s",
  },
  spoolDir: {
    kind: "string",
    description:
      "Where unsent reports wait, in a sub-directory per client id (default: $STATE_DIRECTORY/spool under systemd, /var/lib/vpn-sentinel/spool as root, else ~/.local/state/vpn-sentinel/spool)",
    valueHint: "DIR",
  },
  spoolMax: {
    kind: "int",
    valueHint: "N",
    description: "Most reports kept while the server is unreachable; the oldest are dropped first",
    default: 1000,
    check: (v: number) => (v >= 1 && v <= 1_000_000 ? undefined : "must be between 1 and 1000000"),
  },
  onRed: {
    kind: "string",
    description:
      "Run this shell command when the server's verdict on this client turns red (once per change; env SENTINEL_STATUS, SENTINEL_REASONS, SENTINEL_CLIENT)",
    valueHint: "CMD",
  },
  onGreen: {
    kind: "string",
    description: "Run this shell command when the server's verdict is green again after red",
    valueHint: "CMD",
  },
  hookTimeout: {
    kind: "duration",
    valueHint: "DURATION",
    description: "How long an --on-red/--on-green command may run before it is stopped",
    default: 60_000,
    check: (v: number) => (v >= 1000 && v <= 3_600_000 ? undefined : "must be between 1s and 1h"),
  },
  once: {
    kind: "boolean",
    description:
      "Probe and send one report, print what the server concluded, then exit: 0 when accepted, 1 when not",
    flagOnly: true,
  },
  ...commonSpecs,
} satisfies OptionSpecs;

type ProbeOptions = Options<typeof probeSpecs> & { noWhoami?: boolean };

/** The probe configuration both `client` and `check` derive from their options. */
export function probeConfigFrom(o: ProbeOptions, serverUrl: string | undefined): ProbeConfig {
  return {
    ip4Providers: o.ip4Provider,
    ip6Providers: o.ip6Provider,
    anyFamilyProviders: serverUrl && !o.noWhoami ? [whoamiUrl(serverUrl)] : [],
    ipv6: !o.noIpv6,
    dnsProbes: o.dnsProbe.map(parseDnsProbe),
    ...(o.dnsResolver ? { dnsResolver: o.dnsResolver } : {}),
    timeoutMs: o.timeout,
    userAgent: `vpn-sentinel/${VERSION}`,
  };
}

/** Token from --token / SENTINEL_TOKEN / config, else --token-file. Errors never show the token. */
export function resolveToken(o: {
  token?: string | undefined;
  tokenFile?: string | undefined;
}): EnrollmentToken {
  let text = o.token;
  let origin = "--token";
  if (!text && o.tokenFile) {
    origin = "--token-file";
    requireAccess(o.tokenFile, constants.R_OK, "read");
    try {
      text = readFileSync(o.tokenFile, "utf8");
    } catch (e) {
      throw new OptionError(
        `--token-file: cannot read ${JSON.stringify(o.tokenFile)} (${(e as { code?: string }).code ?? "error"})`,
      );
    }
  }
  if (!text?.trim()) throw new OptionError("--token is required (or SENTINEL_TOKEN, or --token-file)");
  try {
    return decodeToken(text);
  } catch (e) {
    if (e instanceof TokenFormatError) throw new OptionError(`${origin}: ${e.message}`);
    throw e;
  }
}

export function defaultSpoolDir(env: Record<string, string | undefined>): string {
  if (env.STATE_DIRECTORY) return join(env.STATE_DIRECTORY.split(":")[0] as string, "spool");
  if (process.getuid?.() === 0) return "/var/lib/vpn-sentinel/spool";
  return join(env.XDG_STATE_HOME || join(homedir(), ".local", "state"), "vpn-sentinel", "spool");
}

/** The client's own directory: its spool and its status file (`sentinel healthcheck` reads it). */
export const clientSpoolDir = (
  spoolDirOption: string | undefined,
  clientId: string,
  env: Record<string, string | undefined>,
) => join(spoolDirOption ?? defaultSpoolDir(env), clientId);

const observedAt = (e: SpoolEntry) => {
  try {
    return String((JSON.parse(e.body) as { observed_at?: unknown }).observed_at);
  } catch {
    return "?";
  }
};

/** The client's environment for a hook, without the token or any other secret it was given. */
export function hookEnvironment(
  env: Record<string, string | undefined>,
  secrets: readonly string[],
): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(env).filter(
      ([k, v]) => k !== "SENTINEL_TOKEN" && v !== undefined && !secrets.some((s) => s && v.includes(s)),
    ),
  );
}

/** The last line of `--once`: what the server concluded about the report. */
export function onceLine(verdict: ServerVerdict | null): string {
  if (!verdict) return "report accepted (an older server: it does not say what it concluded)";
  const why = verdict.reasons.join(" ");
  return `report accepted; the server says ${verdict.status.toUpperCase()}${why ? `: ${why}` : ""}`;
}

/**
 * Runs the client until stopped by SIGTERM/SIGINT (or one round with --once). Throws an
 * OptionError (exit 2) for bad options, an error with exitCode 1 when --once did not deliver.
 * `hooks` is where systemd integration plugs in.
 */
export async function runClient(
  argv: string[],
  env: Record<string, string | undefined> = Bun.env,
  hooks: AgentHooks = {},
): Promise<void> {
  const { options: o } = loadOptions(clientSpecs, argv, "client", env);
  const token = resolveToken(o);
  const serverUrl = o.server ?? token.server;
  const problem = serverUrl ? httpUrlCheck(serverUrl) : "is required (the token carries no server URL)";
  if (problem) throw new OptionError(`--server: ${problem}`);
  if (o.once && (o.onRed || o.onGreen))
    throw new OptionError(
      "--on-red/--on-green act on changes of the verdict, which needs the running client: leave out --once",
    );
  const secrets = [...secretValues(clientSpecs, o), token.secret];
  const log = createLogger(o, secrets).withTag("client");
  const spoolDir = clientSpoolDir(o.spoolDir, token.clientId, env);
  const spool = new Spool({
    dir: spoolDir,
    max: o.spoolMax,
    onDrop: (dropped) =>
      log.warn(
        `spool full (${o.spoolMax}): dropped ${dropped.length} oldest report(s), observed ${dropped.map(observedAt).join(", ")}`,
      ),
    onDiskError: (e) =>
      log.warn(`spool directory ${spoolDir} unusable (${e.message}); keeping unsent reports in memory`),
  });
  const verdictHooks =
    o.onRed || o.onGreen
      ? new VerdictHooks({
          onRed: o.onRed,
          onGreen: o.onGreen,
          timeoutMs: o.hookTimeout,
          clientId: token.clientId,
          env: hookEnvironment(env, secrets),
          logger: log,
        })
      : null;
  // read by `sentinel healthcheck` (src/cli/healthcheck.ts)
  const health = new ClientHealthFile(healthFilePath(spoolDir), {
    onError: (e) => log.warn(`cannot write the status file for \`sentinel healthcheck\` (${e.message})`),
  });
  const agent = new Agent(
    {
      serverUrl: serverUrl as string,
      clientId: token.clientId,
      secret: token.secret,
      intervalMs: o.interval,
      jitter: 0.1,
      probe: probeConfigFrom(o, serverUrl),
      sendTimeoutMs: Math.max(o.timeout, 5000),
      watchIntervalMs: o.once ? 0 : o.watchInterval,
      // Changes one poll apart are coalesced only at the fastest watch intervals; a longer wait
      // is pure delay before a bypass is seen (a later change gives up the round anyway).
      debounceMs: 100,
      sendBackoff: DEFAULT_SEND_BACKOFF,
      stopGraceMs: 1500,
    },
    { spool, logger: log },
    {
      ...hooks,
      onCycle: (info) => {
        health.record(info);
        hooks.onCycle?.(info);
      },
      onVerdict: (verdict) => {
        verdictHooks?.observe(verdict);
        hooks.onVerdict?.(verdict);
      },
    },
  );
  if (o.once) {
    const result = await agent.runOnce();
    if (result.delivered) return void console.log(onceLine(result.verdict));
    throw Object.assign(
      new Error(`report not accepted: ${result.problem}; it stays in the spool for the next run`),
      { exitCode: 1 },
    );
  }
  const onSignal = (sig: string) => {
    log.info(`${sig}: finishing the upload in flight, keeping ${spool.size} queued report(s)`);
    void agent.stop();
  };
  const term = () => onSignal("SIGTERM");
  const int = () => onSignal("SIGINT");
  process.on("SIGTERM", term);
  process.on("SIGINT", int);
  log.info(`reporting to ${serverUrl} as ${token.clientId} every ${o.interval / 1000} s`);
  await agent.start();
  await agent.done;
  verdictHooks?.stop();
  process.off("SIGTERM", term);
  process.off("SIGINT", int);
}

export default defineCommand({
  meta: {
    name: "client",
    description: "Probe what the world sees through this network and report it to the server",
  },
  args: cittyArgs(clientSpecs),
  async run({ rawArgs }) {
    await runClient(rawArgs);
    // A keep-alive socket or resolver handle must not hold the process past a clean stop.
    setTimeout(() => process.exit(0), 300).unref();
  },
});
