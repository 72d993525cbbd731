/**
 * `sentinel notify test [URL...]`: sends a test message through channel URLs (or every --notify
 * URL of the configuration) without starting a server, and says per channel what the service
 * answered. Exit code 1 when any channel failed, 2 for a URL that does not parse.
 */
import { defineCommand } from "citty";
import { cittyArgs, OptionError, type OptionSpecs } from "../config/options.ts";
import type { Channel } from "../server/notify/channel.ts";
import { buildChannel, uniqueName } from "../server/notify/channels/registry.ts";
import { type CheckedUrl, checkNotifyUrl } from "../server/notify/channels/urls.ts";
import { notifySpecs } from "../server/notify/options.ts";
import { MessageTemplates } from "../server/notify/templates.ts";
import type { Notification } from "../server/notify/types.ts";
import { channelName } from "../server/notify/url.ts";
import { commonSpecs, createLogger, loadOptions } from "./common.ts";
import { publicUrlSpecs } from "./server-options.ts";

export const notifyTestSpecs = {
  notify: notifySpecs.notify,
  messageTemplates: notifySpecs.messageTemplates,
  notifyTimezone: notifySpecs.notifyTimezone,
  telegramApiRoot: notifySpecs.telegramApiRoot,
  ...publicUrlSpecs,
  config: commonSpecs.config,
} satisfies OptionSpecs;

const testNotification = (at: number): Notification => ({
  kind: "test",
  severity: "info",
  eventId: null,
  client: null,
  from: null,
  to: null,
  at,
  evidence: { reason: "Sent by `sentinel notify test` to check this channel." },
  facts: {},
});

/** Sends one test message through every target of `channel`; null when it went through. */
async function sendTest(channel: Channel, n: Notification): Promise<string | null> {
  try {
    await channel.start?.();
    const problems = channel.validateConfig();
    if (problems.length) return problems.join("; ");
    for (const target of channel.targets())
      for (const message of channel.render(n, target)) await channel.send(target, message);
    return null;
  } catch (e) {
    return channel.describeError(e);
  } finally {
    await channel.stop?.().catch(() => undefined);
  }
}

const testCommand = defineCommand({
  meta: {
    name: "test",
    description: "Send a test message through channel URLs (default: every --notify URL), no server needed",
  },
  args: {
    url: { type: "positional", required: false, description: "Channel URL(s), as for --notify" },
    ...cittyArgs(notifyTestSpecs),
  },
  async run({ rawArgs }) {
    const { options, positionals } = loadOptions(notifyTestSpecs, rawArgs, "server");
    const urls = positionals.length ? positionals : options.notify;
    if (!urls.length) throw new OptionError("give a channel URL, or configure --notify");
    const checked: CheckedUrl[] = [];
    for (const u of urls) {
      const c = checkNotifyUrl(u);
      if ("error" in c) throw new OptionError(`notify test: ${c.error}`);
      checked.push(c);
    }
    const logger = createLogger({ logLevel: "error", logFormat: "pretty" }); // broken templates
    const publicUrl = options.publicUrl ?? null;
    const templates = MessageTemplates.load(
      { publicUrl, timeZone: options.notifyTimezone },
      logger,
      options.messageTemplates ?? null,
    );
    const context = {
      templates,
      publicUrl,
      logger,
      states: { list: async () => [], get: async () => null, subscribe: () => () => {} },
      telegramApiRoot: options.telegramApiRoot,
    };
    const names = new Set<string>();
    const channels: Channel[] = checked.map((c) => {
      const name = uniqueName(channelName(c.url), names);
      names.add(name);
      return buildChannel(c, name, context);
    });
    const n = testNotification(Date.now());
    let failed = 0;
    for (const channel of channels) {
      const problem = await sendTest(channel, n);
      if (problem) failed++;
      console.log(problem ? `FAILED ${channel.name}: ${problem}` : `ok     ${channel.name}`);
    }
    if (failed)
      throw Object.assign(new Error(`${failed} of ${channels.length} channels failed`), { exitCode: 1 });
  },
});

export default defineCommand({
  meta: { name: "notify", description: "Work with alert channels" },
  subCommands: { test: testCommand },
});
