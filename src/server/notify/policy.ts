/**
 * Noise control as a pure decision: should this event become a notification on this lane, be
 * recorded as suppressed (with the reason, visible in the API), or be skipped because the
 * configuration does not want that kind at all?
 */
import type { EventKind } from "../../protocol/events.ts";
import { type ClientSettings, mutedUntil } from "../monitor/settings.ts";
import type { OutboxStatus } from "../store/index.ts";
import { activeWindow, type MaintenanceWindow } from "./schedule.ts";

export interface NoiseSettings {
  /** send "resolved" messages (back online, leak ended, uplink back) */
  resolved: boolean;
  late: boolean;
  serverStarted: boolean;
  maintenance: readonly MaintenanceWindow[];
  timeZone: string;
}

/** Which problem kinds a "resolved" kind ends. A resolved message pairs with its problem message. */
export const RESOLVES: Partial<Record<EventKind, readonly EventKind[]>> = {
  "client.online": ["client.offline", "client.late"],
  "bypass.ended": ["bypass.started"],
  "dns_leak.ended": ["dns_leak.started"],
  "ipv6_leak.ended": ["ipv6_leak.started"],
  "uplink.up": ["uplink.down"],
};

/** Client silence the server's own uplink outage explains. */
export const UPLINK_EXPLAINS: ReadonlySet<EventKind> = new Set(["client.offline", "client.late"]);

export type Decision =
  | { action: "send" }
  | { action: "suppress"; reason: string }
  | { action: "skip"; reason: string };

export interface DecisionInput {
  kind: EventKind;
  /** the monitor already suppressed it (flapping, paused, replayed) */
  monitorSuppressed: boolean;
  now: number;
  /** the client's settings; null for server-wide events */
  settings: ClientSettings | null;
  uplinkDown: boolean;
  /**
   * For resolved kinds: the newest row of this lane for the client among the problem kinds and
   * the resolved kind itself (null when there is none). Ignored for other kinds.
   */
  lastRelated: { kind: string; status: OutboxStatus } | null;
}

export function decide(input: DecisionInput, noise: NoiseSettings): Decision {
  const { kind } = input;
  if (input.monitorSuppressed) return { action: "skip", reason: "suppressed by the monitor" };
  if (kind === "client.late" && !noise.late) return { action: "skip", reason: "late alerts are off" };
  if (kind === "server.started")
    return noise.serverStarted
      ? { action: "send" }
      : { action: "skip", reason: "server start alerts are off" };
  const pairs = RESOLVES[kind];
  if (pairs && !noise.resolved) return { action: "skip", reason: "resolved alerts are off" };

  if (input.settings?.paused) return { action: "suppress", reason: "client paused" };
  const muted = input.settings ? mutedUntil(input.settings, input.now) : null;
  if (muted !== null) return { action: "suppress", reason: `muted until ${new Date(muted).toISOString()}` };
  const window = activeWindow(noise.maintenance, input.now, noise.timeZone);
  if (window) return { action: "suppress", reason: `maintenance window ${window.text}` };
  if (input.uplinkDown && UPLINK_EXPLAINS.has(kind))
    return { action: "suppress", reason: "server uplink down" };

  if (pairs) {
    // "Back online" for an outage nobody was told about is noise; so is a second one.
    const last = input.lastRelated;
    if (!last || last.kind === kind) return { action: "suppress", reason: "its problem was never announced" };
    if (last.status === "suppressed") return { action: "suppress", reason: "its problem was held back" };
  }
  return { action: "send" };
}
