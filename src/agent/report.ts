/** Builds the v1 report body from a probe round (pure). */
import type { ProbeResult } from "../probe/run.ts";
import { type AgentInfo, MAX_REPORT_BYTES, type ReportV1 } from "../protocol/report.ts";

export function buildReport(
  result: ProbeResult,
  meta: { observedAt: Date; intervalMs: number; agent: AgentInfo; dnsPending?: boolean },
): ReportV1 {
  const report: ReportV1 = {
    v: 1,
    agent: meta.agent,
    observed_at: meta.observedAt.toISOString(),
    interval_s: Math.min(86_400, Math.max(1, Math.round(meta.intervalMs / 1000))),
    ipv4: result.ipv4,
    ...(result.ipv6 ? { ipv6: result.ipv6 } : {}),
    dns: result.dns,
    ...(result.dnsOracle?.length ? { dns_oracle: result.dnsOracle } : {}),
    errors: result.errors,
    ...(meta.dnsPending ? { dns_pending: true } : {}),
  };
  // The per-field limits keep a report far below 64 KiB except with many long DNS answers:
  // trim those (they are the least essential evidence) until it fits.
  for (
    let keep = 8;
    JSON.stringify(report).length > MAX_REPORT_BYTES && keep >= 1;
    keep = Math.floor(keep / 2)
  ) {
    report.dns = (report.dns ?? []).map((d) => ({
      ...d,
      answers: d.answers.slice(0, keep).map((a) => a.slice(0, 64)),
    }));
  }
  return report;
}
