/**
 * What the dashboard needs from the notification side. The outbox/dispatcher implements it;
 * the dashboard only renders it, so the two can change independently.
 */
import type { ServerWarning } from "../warnings.ts";
import { ago } from "./format.ts";

export interface ChannelStatus {
  name: string;
  /** "options": from --notify/--telegram-* (read-only here); "dashboard": added here, editable */
  origin: "options" | "dashboard";
  /** the URL with every secret masked, filters included; null for --telegram-token/--telegram-chat */
  url: string | null;
  /**
   * From what happened to the channel's messages, deliveries and test messages alike:
   * working: the last one to every target got through; failing: the last one to a target did
   * not, or the configuration is invalid; untried: nothing was sent yet (not green: unknown).
   */
  state: "working" | "failing" | "untried";
  /** failing: since the first failure after the last success (null: a configuration problem) */
  failingSince: number | null;
  lastOkAt: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  /** messages waiting to go out, and since when the oldest waits */
  waiting: number;
  oldestWaitingAt: number | null;
  /** messages given up on (kept 30 days) */
  failed: number;
}

/** Who changes a channel, for the audit log. */
export interface ChannelActor {
  actor: string;
  sourceIp: string | null;
}

/** A change that cannot be made, with the status to answer: 400 bad input, 404 no such channel, 409 exists. */
export class ChannelChangeError extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

export interface ChannelStatusProvider {
  list(): Promise<ChannelStatus[]>;
  /** Sends a test message now; rejects with a human message when the channel refuses. */
  sendTest(name: string): Promise<void>;
  /**
   * Channels added in the dashboard: each change is audited and in effect at once (no restart).
   * They resolve to the channel's name and reject with ChannelChangeError on bad input; the
   * error never names a secret.
   */
  add(url: string, by: ChannelActor): Promise<string>;
  /** `url` may keep secrets masked as *** (as the page shows it): the stored ones stay */
  edit(name: string, url: string, by: ChannelActor): Promise<string>;
  remove(name: string, by: ChannelActor): Promise<void>;
}

const nothingHere = async (): Promise<never> => {
  throw new ChannelChangeError(404, "alerts are not wired into this server");
};

/** Until a channel is configured (or wired), the page says so instead of failing. */
export const noChannels: ChannelStatusProvider = {
  list: async () => [],
  sendTest: async (name) => {
    throw new Error(`no channel named ${name}`);
  },
  add: nothingHere,
  edit: nothingHere,
  remove: nothingHere,
};

/** One warning per failing channel, on every page: alerts that do not get out must not go unnoticed. */
export function channelWarnings(channels: readonly ChannelStatus[], now: number): ServerWarning[] {
  return channels
    .filter((c) => c.state === "failing")
    .map((c) => ({
      code: "channel_failing",
      title: [
        `Alerts are not getting out: ${c.name} is failing`,
        c.failingSince !== null ? ` since ${ago(c.failingSince, now)}` : "",
        c.waiting ? ` (${c.waiting} waiting)` : "",
      ].join(""),
      message: c.lastError ?? "The channel's configuration is not valid.",
      href: "/channels",
    }));
}
