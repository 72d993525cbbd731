/**
 * The words for every kind of event and notification, in one typed table shared by the
 * dashboard (timeline and event list titles) and every alert channel (headlines), so a new kind
 * does not compile until it has both. Plain data with no server imports: anything may use it.
 */
import type { EventSeverity, NotificationKind } from "./events.ts";

export interface KindText {
  /** stands alone, in the dashboard's timeline and event list: "Back online" */
  title: string;
  /**
   * an alert's headline: follows the client's name ("living-room-pi is back online"); for
   * server-wide kinds it stands alone ("Server uplink down")
   */
  headline: string;
}

export const KIND_TEXT: Readonly<Record<NotificationKind, KindText>> = {
  "client.first_seen": { title: "First report", headline: "reported for the first time" },
  "client.late": { title: "Late", headline: "is late" },
  "client.offline": { title: "Offline", headline: "is offline" },
  "client.online": { title: "Back online", headline: "is back online" },
  "exit.changed": { title: "Exit changed", headline: "exit changed" },
  "exit.inconsistent": { title: "Exit providers disagree", headline: "exit is inconsistent" },
  "bypass.started": { title: "Bypass: traffic leaves through home", headline: "traffic bypasses the VPN" },
  "bypass.ended": { title: "Bypass ended", headline: "bypass resolved" },
  "dns_leak.started": { title: "DNS leak", headline: "DNS leak" },
  "dns_leak.ended": { title: "DNS leak ended", headline: "DNS leak resolved" },
  "dns.suspect": { title: "DNS suspect", headline: "DNS looks suspicious" },
  "ipv6_leak.started": { title: "IPv6 leak", headline: "IPv6 leak" },
  "ipv6_leak.ended": { title: "IPv6 leak ended", headline: "IPv6 leak resolved" },
  "expectation.violated": { title: "Unexpected exit", headline: "exit breaks an expectation" },
  "exit.new_network": { title: "New exit network", headline: "exit is in a network not seen before" },
  "exit.unexpected": { title: "Exit outside the lock", headline: "exit is outside its locked networks" },
  "home.changed": { title: "Home identity changed", headline: "home address changed" },
  "client.flapping": { title: "Flapping", headline: "is flapping" },
  "anomaly.leak_rate": { title: "Unusual leak rate", headline: "leaks more often than usual" },
  "anomaly.flap_rate": { title: "Unusual flap rate", headline: "changes state more often than usual" },
  "anomaly.report_gaps": {
    title: "Report gaps drifting",
    headline: "reports arrive later than their interval",
  },
  "uplink.down": { title: "Server uplink down", headline: "Server uplink down" },
  "uplink.up": { title: "Server uplink back", headline: "Server uplink back" },
  "server.started": { title: "Server started", headline: "Sentinel server started" },
  reminder: { title: "Reminder", headline: "is still" },
  digest: { title: "Digest", headline: "alerts" },
  test: { title: "Test message", headline: "Test message: VPN Sentinel alerts reach this chat" },
  report: { title: "Report", headline: "VPN Sentinel report" },
};

/** The mark every alert starts with, by severity (a resolved problem is green). */
export const SEVERITY_EMOJI: Readonly<Record<EventSeverity, string>> = {
  red: "🔴",
  yellow: "🟡",
  green: "✅",
  info: "ℹ️",
};

/** The dashboard title of a stored kind; an unknown one (from a newer version) shows as itself. */
export function kindTitle(kind: string): string {
  return Object.hasOwn(KIND_TEXT, kind) ? KIND_TEXT[kind as NotificationKind].title : kind;
}
