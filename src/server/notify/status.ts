/**
 * The dashboard's view of the notification channels (src/server/web/channels.ts): each
 * channel's state from its recent deliveries and queue, where it comes from, "send test
 * message", which goes straight to the channel so the person clicking sees the channel's own
 * answer, and the channels added in the dashboard (stored.ts). A test counts like a delivery:
 * a failed one turns the channel red, and one that gets through lets what waits in that lane go
 * at once.
 */

import type { Keyring } from "../auth/keyring.ts";
import type { Broker } from "../broker.ts";
import type { Store } from "../store/index.ts";
import type { ChannelStatusProvider } from "../web/channels.ts";
import type { Notifications } from "./index.ts";
import { StoredChannels } from "./stored.ts";

export function channelStatusProvider(deps: {
  notifications: Notifications;
  store: Store;
  keyring: Keyring;
  broker: Broker;
  now: () => number;
}): ChannelStatusProvider {
  const { notifications, store, now } = deps;
  const { directory } = notifications;
  const stored = new StoredChannels({ store, keyring: deps.keyring, directory, broker: deps.broker, now });
  return {
    async list() {
      const health = (await notifications.channelStatus()).channels;
      return health.map((h) => {
        const entry = directory.find(h.name);
        return { ...h, origin: entry?.origin ?? "options", url: entry?.url ?? null };
      });
    },
    async sendTest(name) {
      const channel = directory.find(name)?.channel;
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
      const { outbox } = store;
      for (const target of targets) {
        for (const message of channel.render(notification, target)) {
          try {
            await channel.send(target, message);
          } catch (e) {
            const error = channel.describeError(e);
            await outbox.recordAttempt(name, target, now(), `test message: ${error}`);
            throw new Error(`${name} → ${target}: ${error}`);
          }
        }
        await outbox.recordAttempt(name, target, now(), null);
        await notifications.dispatcher.retryNow(name, target);
      }
    },
    add: (url, by) => stored.add(url, by),
    edit: (name, url, by) => stored.edit(name, url, by),
    remove: (name, by) => stored.remove(name, by),
  };
}
