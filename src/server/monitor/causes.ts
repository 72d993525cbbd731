/**
 * Cause codes: why a client's status is what it is, as short stable words ("bypass:leak",
 * "dns:suspect", "offline", "paused"). The store keeps them beside the status and in every
 * history row, so lists search and filter by check, and summaries count incidents by kind,
 * without parsing states. Pure.
 */
import type { IncidentKind } from "../store/types.ts";
import type { ClientState, Verdicts } from "./types.ts";

const VERDICT_ORDER: readonly (keyof Verdicts)[] = ["bypass", "dns", "ipv6", "exit"];

/**
 * The causes of a state: paused alone when paused; else late/offline and every verdict that is
 * neither ok nor n/a, as `<verdict>:<status>`. An offline client keeps its last verdicts' causes
 * (nothing said they ended). An exit through home is the bypass itself, said once (as in the
 * status reasons). A never-seen client has none.
 */
export function causesOf(state: Pick<ClientState, "paused" | "liveness" | "verdicts">): string[] {
  if (state.paused) return ["paused"];
  if (state.verdicts === null || state.liveness === "never") return [];
  const out: string[] = [];
  if (state.liveness === "late" || state.liveness === "offline") out.push(state.liveness);
  const v = state.verdicts;
  for (const key of VERDICT_ORDER) {
    const status = v[key]?.status;
    if (status === undefined || status === "ok" || status === "na") continue;
    if (key === "exit" && status === "leak" && v.bypass?.status === "leak") continue;
    out.push(`${key}:${status}`);
  }
  return out;
}

/** The cause that makes each incident kind: the five ways a VPN stops protecting. */
export const INCIDENT_CAUSE: Readonly<Record<IncidentKind, string>> = {
  bypass: "bypass:leak",
  dns: "dns:leak",
  ipv6: "ipv6:leak",
  exit: "exit:violated",
  offline: "offline",
};

export const INCIDENT_KINDS = Object.keys(INCIDENT_CAUSE) as IncidentKind[];

export const INCIDENT_LABEL: Readonly<Record<IncidentKind, string>> = {
  bypass: "Bypass",
  dns: "DNS leak",
  ipv6: "IPv6 leak",
  exit: "Unexpected exit",
  offline: "Offline",
};

const LABELS: Readonly<Record<string, string>> = {
  paused: "Paused",
  late: "Late",
  offline: "Offline",
  "bypass:leak": "Bypass",
  "bypass:unknown": "Bypass unknown",
  "dns:leak": "DNS leak",
  "dns:suspect": "DNS suspect",
  "dns:unknown": "DNS unknown",
  "ipv6:leak": "IPv6 leak",
  "ipv6:unknown": "IPv6 unknown",
  "exit:leak": "Exit through home",
  "exit:violated": "Unexpected exit",
  "exit:inconsistent": "Exit providers disagree",
  "exit:unknown": "Exit unknown",
  not_seen: "Not seen yet",
  server_down: "Server down",
};

/** "DNS leak" for "dns:leak"; an unknown code reads as itself with the colon as a space. */
export const causeLabel = (code: string): string => LABELS[code] ?? code.replace(":", " ");

/** The checks a list can be filtered by, in the order a person looks for them. */
export const CHECK_FILTERS: readonly { code: string; label: string }[] = [
  "bypass:leak",
  "dns:leak",
  "dns:suspect",
  "ipv6:leak",
  "exit:violated",
  "exit:inconsistent",
  "offline",
  "late",
  "bypass:unknown",
  "dns:unknown",
].map((code) => ({ code, label: causeLabel(code) }));
