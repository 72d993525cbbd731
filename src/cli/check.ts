/** `sentinel check`: runs the probes once, here, and shows what they saw. No server needed. */
import { defineCommand } from "citty";
import { cittyArgs, type OptionSpecs } from "../config/options.ts";
import { describeFetchError } from "../probe/fetch-error.ts";
import { httpUrlCheck, probeSpecs } from "../probe/options.ts";
import { type ProbeResult, runProbes } from "../probe/run.ts";
import type { IpFamilyResult } from "../protocol/report.ts";
import { probeConfigFrom } from "./client.ts";
import { commonSpecs, loadOptions } from "./common.ts";

export const checkSpecs = {
  ...probeSpecs,
  server: {
    kind: "string",
    description: "Also ask this sentinel server's /api/v1/whoami (no token needed)",
    valueHint: "URL",
    check: httpUrlCheck,
  },
  json: {
    kind: "boolean",
    description: "Print the result as JSON (the report's ipv4/ipv6/dns/errors parts)",
    flagOnly: true,
  },
  ...commonSpecs,
} satisfies OptionSpecs;

const pad = (s: string, n: number) => (s.length >= n ? `${s} ` : s.padEnd(n));
const ms = (v: number | null) => (v === null ? "" : `${v} ms`);

function familyLines(label: string, r: IpFamilyResult | undefined): string[] {
  if (!r) return [`${label}  not probed (--no-ipv6)`];
  const ok = r.answers.filter((a) => a.ip).length;
  const verdict = !r.consistent
    ? "PROVIDERS DISAGREE"
    : r.ip
      ? `agreed by ${ok}/${r.answers.length}`
      : "UNKNOWN (no answer)";
  const width = Math.max(10, ...r.answers.map((a) => a.provider.length)) + 2;
  return [
    `${label}  ${r.ip ?? "-"}  ${verdict}`,
    ...r.answers.map(
      (a) =>
        `  ${pad(a.provider, width)}${pad(a.ip ?? "-", 40)}${a.error ? `error: ${a.error}` : ms(a.latency_ms)}`,
    ),
  ];
}

/** The readable table; the JSON form is the same data the client would report. */
export function formatCheck(r: ProbeResult): string {
  const lines = [
    ...familyLines("IPv4", r.ipv4),
    "",
    ...familyLines("IPv6", r.ipv6),
    "",
    "DNS resolver identity",
  ];
  const width = Math.max(10, ...r.dns.map((d) => `${d.probe} ${d.type}`.length)) + 2;
  for (const d of r.dns) {
    const what = d.error
      ? `error: ${d.error}`
      : `${d.answers.join(", ") || "(no answer)"}  ${ms(d.latency_ms)}`;
    lines.push(`  ${pad(`${d.probe} ${d.type}`, width)}via ${pad(d.via ?? "-", 22)}${what}`);
  }
  if (r.dns.length === 0) lines.push("  (no probes)");
  if (r.errors.length) lines.push("", "Problems", ...r.errors.map((e) => `  ${e.probe}: ${e.message}`));
  return lines.join("\n");
}

/** Why the server cannot be asked, in one line; null when it answers. */
async function serverProblem(url: string, timeoutMs: number): Promise<string | null> {
  try {
    const res = await fetch(`${url.replace(/\/+$/, "")}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return null;
  } catch (e) {
    return `${url} unreachable (${describeFetchError(e, timeoutMs)})`;
  }
}

export default defineCommand({
  meta: { name: "check", description: "Run the probes here once and print what they see (no server needed)" },
  args: cittyArgs(checkSpecs),
  async run({ rawArgs }) {
    const { options: o } = loadOptions(checkSpecs, rawArgs, "check");
    const problem = o.server ? await serverProblem(o.server, o.timeout) : null;
    if (problem) console.error(`sentinel: ${problem}; its /api/v1/whoami is left out`);
    const result = await runProbes(probeConfigFrom(o, problem ? undefined : o.server));
    console.log(o.json ? JSON.stringify(result, null, 2) : formatCheck(result));
    // Scripts can rely on the status: 0 only when the public IPv4 address is known and agreed.
    if (!result.ipv4.ip || !result.ipv4.consistent)
      throw Object.assign(new Error("no agreed public IPv4 address (see the problems above)"), {
        exitCode: 1,
      });
  },
});
