/**
 * The client's local health: after every round the agent writes a small status file beside its
 * spool (`<spool dir>/<client id>.status.json`; the spool's own directory holds only reports),
 * and `sentinel healthcheck` reads it. A container
 * engine, a monitoring script or a person can then tell whether the client still probes and
 * still reaches its server without asking the server. The file is replaced atomically; it holds
 * times and counts, nothing secret.
 *
 * The client is healthy while it delivers: a red verdict on the server is the client doing its
 * job, a client that cannot reach its server for several intervals is not.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { formatDuration } from "../config/duration.ts";
import type { CycleInfo } from "./agent.ts";

/** The status file of the client whose spool is `clientSpoolDir`. */
export const healthFilePath = (clientSpoolDir: string) => `${clientSpoolDir.replace(/\/+$/, "")}.status.json`;

export interface ClientHealthStatus {
  v: 1;
  /** the client process that writes the file */
  pid: number;
  /** when the last probe round ended */
  round_at: string;
  /** why that round ran: start, timer, network change, once */
  reason: string;
  /** the report interval in force (the server may have changed --interval) */
  interval_s: number;
  /** the last round's report reached the server */
  delivered: boolean;
  /** when a report of this process last reached the server; null: not yet */
  last_delivered_at: string | null;
  /** reports waiting in the spool */
  queued: number;
  /** why the last upload failed; null after a success */
  send_error: string | null;
}

/** Writes the status after every round; a file that cannot be written is reported once, not every round. */
export class ClientHealthFile {
  private lastDeliveredAt: string | null = null;
  private failing = false;

  constructor(
    private readonly path: string,
    private readonly opts: { now?: () => number; onError?: (e: Error) => void } = {},
  ) {}

  record(info: CycleInfo): void {
    const at = new Date((this.opts.now ?? Date.now)()).toISOString();
    if (info.delivered) this.lastDeliveredAt = at;
    const status: ClientHealthStatus = {
      v: 1,
      pid: process.pid,
      round_at: at,
      reason: info.reason,
      interval_s: info.report.interval_s,
      delivered: info.delivered,
      last_delivered_at: this.lastDeliveredAt,
      queued: info.queued,
      send_error: info.sendError,
    };
    // Synchronous: a few hundred bytes, and `--once` exits right after the round.
    try {
      writeFileSync(`${this.path}.tmp`, `${JSON.stringify(status)}\n`, { mode: 0o644 });
      renameSync(`${this.path}.tmp`, this.path);
      this.failing = false;
    } catch (e) {
      if (!this.failing) this.opts.onError?.(e as Error);
      this.failing = true;
    }
  }
}

/** Reads a status file; throws an Error that says what is wrong with it. */
export function readClientHealth(path: string): ClientHealthStatus {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new Error(
      code === "ENOENT"
        ? `no status file at ${path} (the client has not finished a round yet)`
        : `cannot read ${path} (${code ?? (e as Error).message})`,
    );
  }
  let s: Partial<ClientHealthStatus>;
  try {
    s = JSON.parse(text) as Partial<ClientHealthStatus>;
  } catch {
    throw new Error(`${path} is not JSON`);
  }
  if (
    s?.v !== 1 ||
    typeof s.round_at !== "string" ||
    typeof s.interval_s !== "number" ||
    typeof s.delivered !== "boolean" ||
    typeof s.queued !== "number"
  )
    throw new Error(`${path} is not a client status file (v1)`);
  return s as ClientHealthStatus;
}

export interface HealthVerdict {
  healthy: boolean;
  /** one line of evidence: what is wrong, then how old the last round and delivery are, the queue, the last error */
  detail: string;
}

/** How old the last delivery may be by default: one missed round is fine, two are not, plus the server's default grace. */
export const defaultMaxAgeMs = (intervalS: number) => 2 * intervalS * 1000 + 60_000;

const age = (now: number, iso: string | null) => (iso === null ? null : Math.max(0, now - Date.parse(iso)));
const ago = (ms: number) => (ms < 1000 ? "just now" : `${formatDuration(Math.round(ms / 1000) * 1000)} ago`);

/**
 * Pure: healthy when both the last round and the last delivered report are at most `maxAgeMs`
 * old (default: defaultMaxAgeMs of the interval the client runs with).
 */
export function judgeClientHealth(s: ClientHealthStatus, now: number, maxAgeMs?: number): HealthVerdict {
  const limit = maxAgeMs ?? defaultMaxAgeMs(s.interval_s);
  const round = age(now, s.round_at) ?? Number.POSITIVE_INFINITY;
  const delivered = age(now, s.last_delivered_at);
  const facts = [
    delivered === null ? "no report delivered yet" : `last report delivered ${ago(delivered)}`,
    `last round ${Number.isFinite(round) ? ago(round) : "at an unreadable time"} (${s.reason})`,
    `${s.queued} queued`,
    ...(s.send_error ? [`last upload error: ${s.send_error}`] : []),
  ];
  const problems: string[] = [];
  if (!(round <= limit)) problems.push(`no probe round for more than ${formatDuration(limit)}`);
  if (delivered === null || !(delivered <= limit))
    problems.push(`no report delivered for more than ${formatDuration(limit)}`);
  return { healthy: problems.length === 0, detail: [...problems, ...facts].join("; ") };
}
