/**
 * What a notification says, independent of any channel. The notifier snapshots it into the
 * outbox row (payload_json) when the event happens, so a message rendered minutes later (after
 * a retry or a restart) still tells what was true then. Plain JSON only.
 */
import type { EventKind, EventSeverity, NotificationKind } from "../../protocol/events.ts";
import type { IpInfo } from "../geo/types.ts";
import type { ReportDigest } from "../reports/digest.ts";

/**
 * Event kinds, plus the kinds the notifier makes itself ("test" is the dashboard's "send test
 * message"; it never goes through the outbox). Defined beside the event kinds, so the wording
 * table the dashboard shares (protocol/event-text.ts) can name them.
 */
export type { NotificationKind };

export interface NotificationClient {
  id: string;
  name: string;
}

/** Facts gathered at enqueue time that the event row alone does not carry. */
export interface NotificationFacts {
  /** the client's overall status and its one-sentence reason when the notification was made */
  status?: string;
  reason?: string;
  /** client.offline: the last accepted report and the exit it showed */
  lastSeenAt?: number | null;
  lastExit?: { ipv4: IpInfo | null; ipv6: IpInfo | null } | null;
  /** client.online / *.ended: how long the problem lasted */
  downtimeMs?: number | null;
  /** reminder: the problem being reminded of, and since when it lasts */
  remindOf?: EventKind;
  since?: number;
  /** a problem announced late because a mute, maintenance window or uplink outage held it back */
  heldBackBy?: string;
  /** uplink.up: clients whose offline alerts the outage held back */
  heldBack?: string[];
  /** server.started: client counts by status */
  counts?: Record<string, number>;
  /** a digest of one client's alerts beyond --notify-client-limit: the limit, e.g. "6/1h" */
  limit?: string;
  /** a scheduled report (--report-schedule): what it says (reports/digest.ts) */
  report?: ReportDigest;
}

export interface Notification {
  kind: NotificationKind;
  severity: EventSeverity;
  eventId: number | null;
  client: NotificationClient | null;
  from: string | null;
  to: string | null;
  /** when it happened (ms) */
  at: number;
  /** the event's evidence, as the monitor stored it */
  evidence: Record<string, unknown>;
  facts: NotificationFacts;
  /** digest: the folded notifications, oldest first (filled in at delivery) */
  items?: Notification[];
}
