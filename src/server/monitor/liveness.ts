/**
 * Liveness deadlines, as pure arithmetic over times handed in. The store keeps the deadlines;
 * the sweeper asks sweepClient() what is due and writes the answer with compare-and-set.
 *
 * With the defaults (interval 30 s, grace 60 s) a client is late 45 s and offline 90 s after its
 * last report. When interval + grace comes before 1.5 x interval (long intervals, short grace)
 * the client goes straight from online to offline.
 */
import { formatDuration } from "../../config/duration.ts";
import { controlFlapping, flapStableAt } from "./flapping.ts";
import { overallStatus } from "./status.ts";
import type { ClientState, Flip, Liveness } from "./types.ts";

export const DEFAULT_GRACE_S = 60;
/** Assumed until a client's first report says otherwise. */
export const DEFAULT_INTERVAL_S = 30;
export const LATE_FACTOR = 1.5;

/** When a client that last reported at `lastReportAt` becomes late. */
export function lateAt(lastReportAt: number, intervalMs: number): number {
  return lastReportAt + LATE_FACTOR * intervalMs;
}

/** When a client that last reported at `lastReportAt` becomes offline. */
export function offlineAt(
  lastReportAt: number,
  intervalMs: number,
  graceMs = DEFAULT_GRACE_S * 1000,
): number {
  return lastReportAt + intervalMs + graceMs;
}

/**
 * The deadlines still pending for a client, counted from `from` (the last report, or the moment
 * it was unpaused). Only pending deadlines are set, so the store can index them directly: a late
 * client waits only for offline, an offline, paused or never-seen client for nothing.
 */
export function pendingDeadlines(input: {
  from: number | null;
  liveness: Liveness;
  interval_s: number;
  grace_s: number;
  paused: boolean;
}): { late_at: number | null; offline_at: number | null } {
  const { from, liveness } = input;
  if (input.paused || from === null || liveness === "never" || liveness === "offline") {
    return { late_at: null, offline_at: null };
  }
  const intervalMs = input.interval_s * 1000;
  return {
    late_at: liveness === "online" ? lateAt(from, intervalMs) : null,
    offline_at: offlineAt(from, intervalMs, input.grace_s * 1000),
  };
}

export interface SweepDue {
  kind: "client.late" | "client.offline";
  /** the liveness the flip leaves: the value a compare-and-set must still find */
  from: Liveness;
  to: "late" | "offline";
  deadline: number;
}

/**
 * The liveness flip due at `now`, or null. Paused and never-seen clients are never due. Offline
 * wins when both deadlines have passed (a sweeper that slept does not send "late" first).
 */
export function sweepDecision(state: ClientState, now: number): SweepDue | null {
  if (state.paused || state.last_report_at === null) return null;
  if (
    (state.liveness === "online" || state.liveness === "late") &&
    state.offline_at !== null &&
    now >= state.offline_at
  ) {
    return { kind: "client.offline", from: state.liveness, to: "offline", deadline: state.offline_at };
  }
  if (state.liveness === "online" && state.late_at !== null && now >= state.late_at) {
    return { kind: "client.late", from: "online", to: "late", deadline: state.late_at };
  }
  return null;
}

/**
 * The earliest time the sweeper must look at this client again: a pending liveness deadline
 * or the end of a flapping spell, whichever is first; null when nothing is pending.
 */
export function nextDeadline(state: Pick<ClientState, "late_at" | "offline_at" | "flap">): number | null {
  const candidates = [state.late_at, state.offline_at, flapStableAt(state.flap)].filter((t) => t !== null);
  return candidates.length === 0 ? null : Math.min(...candidates);
}

/**
 * What the sweeper does for one client at `now`: the new state and its flips (late/offline,
 * and the end of a flapping spell), or null when nothing is due. Write the result with
 * compare-and-set on the liveness and last_report_at the sweeper read.
 */
export function sweepClient(state: ClientState, now: number): { state: ClientState; flips: Flip[] } | null {
  const due = sweepDecision(state, now);
  const stableAt = flapStableAt(state.flap);
  if (due === null && (stableAt === null || now < stableAt)) return null;

  const liveness = due?.to ?? state.liveness;
  const summary = overallStatus({ ...state, liveness });
  const flips: Flip[] = [];
  if (due !== null) {
    const silent = formatDuration(now - (state.last_report_at ?? now));
    flips.push({
      kind: due.kind,
      from: due.from,
      to: due.to,
      evidence: {
        reason: `No report for ${silent} (expected every ${formatDuration(state.interval_s * 1000)}${due.to === "offline" ? `, grace ${formatDuration(state.grace_s * 1000)}` : ""}).`,
        last_report_at: state.last_report_at,
        deadline: due.deadline,
        interval_s: state.interval_s,
        grace_s: state.grace_s,
      },
      at: now,
      suppressed: false,
    });
  }
  const controlled = controlFlapping(state.flap, flips, now, summary);
  // Kept, not recounted: the offline deadline may have been pushed by a server start.
  const deadlines = {
    late_at: liveness === "online" ? state.late_at : null,
    offline_at: liveness === "offline" ? null : state.offline_at,
  };
  return {
    state: { ...state, liveness, ...summary, ...deadlines, flap: controlled.flap },
    flips: controlled.flips,
  };
}

/**
 * Deadlines after the server (re)starts at `serverStartedAt`: each client is treated as if it
 * had reported at that moment, so it gets a full interval and grace counted from the start and
 * the server's own downtime never turns into a false late or offline. Deadlines already later
 * stay; clients already late or offline stay so.
 */
export function afterServerStart(
  state: ClientState,
  serverStartedAt: number,
  graceMs = state.grace_s * 1000,
): ClientState {
  if (state.late_at === null && state.offline_at === null) return state;
  const intervalMs = state.interval_s * 1000;
  return {
    ...state,
    late_at: state.late_at === null ? null : Math.max(state.late_at, lateAt(serverStartedAt, intervalMs)),
    offline_at:
      state.offline_at === null
        ? null
        : Math.max(state.offline_at, offlineAt(serverStartedAt, intervalMs, graceMs)),
  };
}

/** A stretch when the server itself was down: clients' liveness is unknown, not "offline". */
export interface ServerDowntime {
  from: number;
  to: number;
  duration_ms: number;
  reason: "unknown (server down)";
}

/**
 * The server's own downtime, from the last moment it was known alive (a heartbeat the server
 * stores, e.g. each sweep) to its start now; null on a first start or a gap within tolerance.
 * Uptime counts this interval as unknown for every client.
 */
export function serverDowntime(
  lastAliveAt: number | null,
  serverStartedAt: number,
  toleranceMs = 10_000,
): ServerDowntime | null {
  if (lastAliveAt === null || serverStartedAt - lastAliveAt <= toleranceMs) return null;
  return {
    from: lastAliveAt,
    to: serverStartedAt,
    duration_ms: serverStartedAt - lastAliveAt,
    reason: "unknown (server down)",
  };
}
