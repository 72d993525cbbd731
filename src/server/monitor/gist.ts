/**
 * The part of a client the report path keeps in memory for every client. An unchanged report
 * (the common case) needs the client's secrets, settings and liveness, and of its judged state
 * only the status, the verdicts' sentences and the deadlines; the evidence (exits, resolvers,
 * provider answers: ~3 KB per client as objects) is read from the store when a report changes
 * something. At 10,000 clients that is the difference between ~45 and ~15 MiB of live heap.
 */
import type { ClientColumns, ClientRecord } from "../store/types.ts";
import type { ClientState, Verdict, Verdicts } from "./types.ts";

/**
 * A verdict without its evidence, and with its sentence only when it is red or yellow: only
 * such a verdict can be a cause of the status (statusReasons reads no other).
 */
export type VerdictGist = Pick<Verdict<unknown>, "status" | "severity" | "reason">;

export type StateGist = Pick<
  ClientState,
  | "version"
  | "status"
  | "reason"
  | "liveness"
  | "paused"
  | "interval_s"
  | "grace_s"
  | "last_report_at"
  | "observed_at"
  | "late_at"
  | "offline_at"
  | "flap"
> & { verdicts: { [K in keyof Verdicts]: VerdictGist } | null };

/** A client without its last report and with its state's gist. A full ClientRecord is one too. */
export type ClientGist = ClientColumns & { state: StateGist | null };

/** True when `client` carries its whole record (read from the store), not only the gist. */
export const isFullRecord = (client: ClientGist): client is ClientRecord => "lastReport" in client;

const verdictGist = ({ status, severity, reason }: VerdictGist): VerdictGist => ({
  status,
  severity,
  reason: severity === "red" || severity === "yellow" ? reason : "",
});

function stateGist(s: ClientState): StateGist {
  const v = s.verdicts;
  return {
    version: s.version,
    status: s.status,
    reason: s.reason,
    liveness: s.liveness,
    paused: s.paused,
    interval_s: s.interval_s,
    grace_s: s.grace_s,
    last_report_at: s.last_report_at,
    observed_at: s.observed_at,
    late_at: s.late_at,
    offline_at: s.offline_at,
    flap: s.flap,
    verdicts:
      v === null
        ? null
        : {
            bypass: verdictGist(v.bypass),
            dns: verdictGist(v.dns),
            ipv6: verdictGist(v.ipv6),
            exit: verdictGist(v.exit),
          },
  };
}

/** The gist of a client (a new object: nothing of the record's evidence stays reachable from it). */
export function clientGist(client: ClientGist): ClientGist {
  if (!isFullRecord(client)) return client;
  const { state, lastReport: _, ...columns } = client;
  return { ...columns, state: state === null ? null : stateGist(state) };
}
