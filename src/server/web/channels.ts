/**
 * What the dashboard needs from the notification side. The outbox/dispatcher implements it;
 * the dashboard only renders it, so the two can change independently.
 */
import type { ServerWarning } from "../warnings.ts";
import { ago } from "./format.ts";

export interface ChannelStatus {
  name: string;
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

export interface ChannelStatusProvider {
  list(): Promise<ChannelStatus[]>;
  /** Sends a test message now; rejects with a human message when the channel refuses. */
  sendTest(name: string): Promise<void>;
}

/** Until a channel is configured (or wired), the page says so instead of failing. */
export const noChannels: ChannelStatusProvider = {
  list: async () => [],
  sendTest: async (name) => {
    throw new Error(`no channel named ${name}`);
  },
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
