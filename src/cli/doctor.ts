/**
 * `sentinel client doctor` (also `sentinel doctor`): checks, from where the client runs, what
 * stops reports from arriving or being right, each with a fix line. It sends one real, signed
 * report: the honest test of the token, the clock and the path together.
 */
import { readlinkSync } from "node:fs";
import { defineCommand } from "citty";
import { defaultAgentInfo } from "../agent/agent.ts";
import { buildReport } from "../agent/report.ts";
import { cittyArgs, OptionError, type OptionSpecs } from "../config/options.ts";
import { systemResolvers } from "../probe/dns.ts";
import { httpUrlCheck, probeSpecs } from "../probe/options.ts";
import { runProbes } from "../probe/run.ts";
import { signRequest } from "../protocol/signing.ts";
import type { EnrollmentToken } from "../protocol/token.ts";
import { clientSpecs, probeConfigFrom, resolveToken } from "./client.ts";
import { loadOptions } from "./common.ts";
import {
  type Check,
  judgeClock,
  judgeDns,
  judgeNamespace,
  judgeProviders,
  judgeReport,
  judgeServerAnswer,
  judgeServerError,
  type NamespaceFacts,
} from "./doctor-checks.ts";

export const doctorSpecs = {
  server: clientSpecs.server,
  token: clientSpecs.token,
  tokenFile: clientSpecs.tokenFile,
  ...probeSpecs,
  noWhoami: clientSpecs.noWhoami,
  json: { kind: "boolean", description: "Print the checks as JSON", flagOnly: true },
  config: {
    kind: "string",
    description: "TOML configuration file (the client's)",
    valueHint: "FILE",
    flagOnly: true,
  },
} satisfies OptionSpecs;

function readNs(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}

export function namespaceFacts(): NamespaceFacts {
  let name: string | null = null;
  try {
    const r = Bun.spawnSync(["ip", "netns", "identify", String(process.pid)], { stderr: "ignore" });
    if (r.exitCode === 0) name = r.stdout.toString().trim().split("\n")[0] ?? "";
  } catch {
    // iproute2 missing (a container): the inode still tells host from not-host
  }
  return { own: readNs("/proc/self/ns/net"), init: readNs("/proc/1/ns/net"), name };
}

async function checkServer(url: string, timeoutMs: number): Promise<Check[]> {
  const sentAt = Date.now();
  try {
    const res = await fetch(`${url.replace(/\/+$/, "")}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return [judgeServerAnswer(url, res.status), judgeClock(res.headers.get("date"), sentAt, Date.now())];
  } catch (e) {
    return [judgeServerError(url, e)];
  }
}

async function sendReport(
  url: string,
  token: EnrollmentToken,
  body: string,
  timeoutMs: number,
): Promise<Check> {
  try {
    const res = await fetch(`${url.replace(/\/+$/, "")}/api/v1/reports`, {
      method: "POST",
      headers: signRequest(token.clientId, token.secret, body),
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const answer = (await res.json().catch(() => null)) as {
      error?: { code?: string };
      status?: unknown;
      reasons?: unknown;
    } | null;
    const verdict =
      typeof answer?.status === "string"
        ? `${answer.status}${Array.isArray(answer.reasons) ? ` (${answer.reasons.join(" ")})` : ""}`
        : null;
    return judgeReport(res.status, answer?.error?.code ?? null, verdict);
  } catch (e) {
    return { ...judgeServerError(url, e), name: "token" };
  }
}

export async function runDoctor(
  argv: string[],
  env: Record<string, string | undefined> = Bun.env,
): Promise<Check[]> {
  const { options: o, positionals } = loadOptions(doctorSpecs, argv, "client", env);
  if (positionals.length) throw new OptionError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const checks: Check[] = [];
  let token: EnrollmentToken | null = null;
  try {
    token = resolveToken(o);
  } catch (e) {
    checks.push({
      name: "token",
      status: "fail",
      detail: (e as Error).message,
      fix: "copy the token from `sentinel clients add NAME` (or clients rotate) on the server",
    });
  }
  const serverUrl = o.server ?? token?.server;
  const urlProblem = serverUrl
    ? httpUrlCheck(serverUrl)
    : "no server URL (the token carries none; pass --server)";
  const serverChecks = serverUrl && !urlProblem ? await checkServer(serverUrl, o.timeout) : [];
  if (urlProblem)
    checks.push({
      name: "server",
      status: "fail",
      detail: urlProblem,
      fix: "pass --server https://sentinel.example:8088",
    });
  checks.push(...serverChecks);
  checks.push(judgeNamespace(namespaceFacts()));

  const reachable = serverChecks.some((c) => c.name === "server" && c.status !== "fail");
  // An unreachable server is said once, by the server check, not again as a failing provider.
  const cfg = probeConfigFrom(o, serverUrl && reachable ? serverUrl : undefined);
  const result = await runProbes(cfg);
  checks.push(judgeDns(result, o.dnsResolver ? [o.dnsResolver] : await systemResolvers()));
  checks.push(...judgeProviders(result));

  if (token && serverUrl && reachable) {
    const report = buildReport(result, {
      observedAt: new Date(),
      intervalMs: 30_000,
      agent: defaultAgentInfo(),
    });
    checks.push(await sendReport(serverUrl, token, JSON.stringify(report), Math.max(o.timeout, 5000)));
  } else if (token)
    checks.push({
      name: "token",
      status: "warn",
      detail: "not tested: the server is not reachable",
      fix: "fix the server check first",
    });
  return checks;
}

const MARK: Record<Check["status"], string> = { ok: " ok ", warn: "warn", fail: "FAIL", info: "info" };

export function formatChecks(checks: Check[]): string {
  return checks
    .map((c) => `[${MARK[c.status]}] ${c.name}: ${c.detail}${c.fix ? `\n       fix: ${c.fix}` : ""}`)
    .join("\n");
}

export default defineCommand({
  meta: {
    name: "doctor",
    description:
      "Check from here: server reachability and TLS, clock skew, network namespace, DNS path, IP providers, token (sends one real report)",
  },
  args: cittyArgs(doctorSpecs),
  async run({ rawArgs }) {
    const { options } = loadOptions(doctorSpecs, rawArgs, "client");
    const checks = await runDoctor(rawArgs);
    console.log(options.json ? JSON.stringify({ checks }) : formatChecks(checks));
    const failed = checks.filter((c) => c.status === "fail").length;
    if (failed) throw Object.assign(new Error(`${failed} check(s) failed`), { exitCode: 1 });
  },
});
