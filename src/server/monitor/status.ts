/**
 * The overall colour of a client from its verdicts and liveness. Shared by the evaluator (after
 * a report) and the sweeper (after a deadline), so both say the same thing.
 */
import { formatDuration, formatUtcTime } from "../../config/duration.ts";
import type { VerdictGist } from "./gist.ts";
import type { Liveness, OverallStatus, Verdicts } from "./types.ts";

export interface StatusSummary {
  status: OverallStatus;
  reason: string;
}

const SEVERITY_RANK = { grey: 0, green: 1, yellow: 2, red: 3 } as const;

/** The verdicts that are causes, in order; an exit that is home is the bypass itself, said once. */
function causeVerdicts({ bypass, dns, ipv6, exit }: Record<keyof Verdicts, VerdictGist>): VerdictGist[] {
  const exitIsTheBypass = exit.status === "leak" && bypass.status === "leak";
  return exitIsTheBypass ? [bypass, dns, ipv6] : [bypass, dns, ipv6, exit];
}

/**
 * Grey when paused or never seen; red if any verdict is red or the client is offline; yellow if
 * any is yellow or it is late; green only when every verdict is positively ok (ipv6 may be n/a).
 * The reason lists the causes of the worst colour, worst first.
 */
export function overallStatus(input: {
  verdicts: Verdicts | null;
  liveness: Liveness;
  paused: boolean;
  last_report_at: number | null;
  interval_s: number;
}): StatusSummary {
  const { verdicts, liveness, paused } = input;
  if (paused) return { status: "grey", reason: "Paused: reports are recorded, but nothing is alerted." };
  if (liveness === "never" || verdicts === null) return { status: "grey", reason: "Never reported." };

  const silence =
    input.last_report_at === null
      ? ""
      : ` since ${formatUtcTime(input.last_report_at)} (expected every ${formatDuration(input.interval_s * 1000)})`;
  const causes: { severity: "yellow" | "red"; reason: string }[] = [];
  if (liveness === "offline") causes.push({ severity: "red", reason: `Offline: no report${silence}.` });
  if (liveness === "late") causes.push({ severity: "yellow", reason: `Late: no report${silence}.` });
  for (const verdict of causeVerdicts(verdicts)) {
    if (verdict.severity === "red" || verdict.severity === "yellow")
      causes.push({ severity: verdict.severity, reason: verdict.reason });
  }
  const worst = causes.reduce<"green" | "yellow" | "red">(
    (acc, cause) => (SEVERITY_RANK[cause.severity] > SEVERITY_RANK[acc] ? cause.severity : acc),
    "green",
  );
  if (worst !== "green") {
    return {
      status: worst,
      reason: causes
        .filter((c) => c.severity === worst)
        .map((c) => c.reason)
        .join(" "),
    };
  }
  // Green must be earned: a verdict that is neither ok nor (for ipv6) n/a keeps the client yellow.
  const positive =
    verdicts.bypass.status === "ok" &&
    verdicts.dns.status === "ok" &&
    verdicts.exit.status === "ok" &&
    (verdicts.ipv6.status === "ok" || verdicts.ipv6.status === "na");
  if (!positive) return { status: "yellow", reason: "Not every check could be confirmed." };
  return { status: "green", reason: `Protected. ${verdicts.exit.reason}` };
}

/**
 * The causes of a status as separate sentences, worst colour only (what a client prints after
 * `--once`): the verdicts of that colour, else the status's own reason.
 */
export function statusReasons(s: {
  status: OverallStatus;
  reason: string;
  verdicts: Record<keyof Verdicts, VerdictGist> | null;
}): string[] {
  if ((s.status !== "red" && s.status !== "yellow") || s.verdicts === null) return [s.reason];
  const causes = causeVerdicts(s.verdicts)
    .filter((v) => v.severity === s.status)
    .map((v) => v.reason);
  return causes.length ? causes : [s.reason];
}
