/**
 * Event kinds: every state change the server stores as an event ("flip"). Shared by the
 * monitor (which raises them), alerts (which render them) and the dashboard (which colours them).
 * docs/verdicts.md says when each one fires.
 */

export const EVENT_KINDS = [
  "client.first_seen",
  "client.late",
  "client.offline",
  "client.online",
  "exit.changed",
  "exit.inconsistent",
  "bypass.started",
  "bypass.ended",
  "dns_leak.started",
  "dns_leak.ended",
  "dns.suspect",
  "ipv6_leak.started",
  "ipv6_leak.ended",
  "expectation.violated",
  "exit.new_network",
  "exit.unexpected",
  "home.changed",
  "client.flapping",
  // trends a client's own past says are unusual (off for alerts unless --notify-anomalies)
  "anomaly.leak_rate",
  "anomaly.flap_rate",
  "anomaly.report_gaps",
  // server-wide (client id null): the server's own uplink, raised by the home-identity check
  "uplink.down",
  "uplink.up",
  "server.started",
] as const;

export type EventKind = (typeof EVENT_KINDS)[number];

/** The anomaly flags, for the pages and reports that list them. */
export const ANOMALY_KINDS: EventKind[] = EVENT_KINDS.filter((k) => k.startsWith("anomaly."));

/**
 * What the notifier sends besides events: reminders, digests, the dashboard's test message, and
 * scheduled reports (--report-schedule).
 */
export type NotifierKind = "reminder" | "digest" | "test" | "report";

/** Everything an alert can be about. */
export type NotificationKind = EventKind | NotifierKind;

/** red: protection is gone; yellow: needs a look; green: a problem ended; info: worth recording. */
export type EventSeverity = "red" | "yellow" | "green" | "info";

export const EVENT_SEVERITY: Readonly<Record<EventKind, EventSeverity>> = {
  "client.first_seen": "info",
  "client.late": "yellow",
  "client.offline": "red",
  "client.online": "green",
  "exit.changed": "info",
  "exit.inconsistent": "yellow",
  "bypass.started": "red",
  "bypass.ended": "green",
  "dns_leak.started": "red",
  "dns_leak.ended": "green",
  "dns.suspect": "yellow",
  "ipv6_leak.started": "red",
  "ipv6_leak.ended": "green",
  "expectation.violated": "yellow",
  "exit.new_network": "yellow",
  "exit.unexpected": "red",
  "home.changed": "info",
  "client.flapping": "yellow",
  "anomaly.leak_rate": "yellow",
  "anomaly.flap_rate": "yellow",
  "anomaly.report_gaps": "yellow",
  "uplink.down": "red",
  "uplink.up": "green",
  "server.started": "info",
};

const KNOWN_KINDS: ReadonlySet<string> = new Set(EVENT_KINDS);

/** True for a known event kind; use it to validate `?kind=` filters and stored rows. */
export function isEventKind(text: string): text is EventKind {
  return KNOWN_KINDS.has(text);
}
