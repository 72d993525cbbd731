/**
 * The dashboard's view of the notification channels (src/server/web/channels.ts): health,
 * last error and queue counts per channel, and "send test message", which goes straight to
 * the channel so the person clicking sees the channel's own answer.
 */

import type { Store } from "../store/index.ts";
import type { ChannelStatusProvider } from "../web/channels.ts";
import type { Notifications } from "./index.ts";

export function channelStatusProvider(
  notifications: Notifications,
  store: Store,
  now: () => number,
): ChannelStatusProvider {
  return {
    async list() {
      const counts = await store.stats.outboxByChannel();
      const count = (channel: string, status: "pending" | "failed") =>
        counts.find((r) => r.channel === channel && r.status === status)?.count ?? 0;
      return (await notifications.channelStatus()).channels.map((c) => {
        const lastError = c.problems[0] ?? c.lanes.map((l) => l.lastError).find((e) => e !== null) ?? null;
        return {
          name: c.name,
          ok: c.ok,
          lastError,
          pending: count(c.name, "pending"),
          failed: count(c.name, "failed"),
        };
      });
    },
    async sendTest(name) {
      const channel = notifications.channels.find((c) => c.name === name);
      if (!channel) throw new Error(`no channel named ${name}`);
      const problems = channel.validateConfig();
      if (problems.length) throw new Error(problems.join("; "));
      const targets = channel.targets();
      if (!targets.length) throw new Error(`${name} has no targets configured`);
      const notification = {
        kind: "test" as const,
        severity: "info" as const,
        eventId: null,
        client: null,
        from: null,
        to: null,
        at: now(),
        evidence: { reason: "Sent from the dashboard to check this channel." },
        facts: {},
      };
      for (const target of targets) {
        for (const message of channel.render(notification, target)) {
          try {
            await channel.send(target, message);
          } catch (e) {
            throw new Error(`${name} → ${target}: ${channel.describeError(e)}`);
          }
        }
      }
    },
  };
}
