/**
 * From channel URLs to channels, each channel class in its own folder. tgram:// URLs given as
 * options are not a channel of their own: they add chats (with their filters) to the one bot
 * of --telegram-token/--telegram-chat. A tgram:// channel added in the dashboard is a channel of
 * its own that only sends (the bot answers the chats of the options).
 */
import type { Logger } from "../../../cli/common.ts";
import type { Channel } from "../channel.ts";
import type { MessageTemplates } from "../templates.ts";
import { channelName } from "../url.ts";
import { AppriseChannel } from "./apprise/channel.ts";
import type { AppriseConfig } from "./apprise/config.ts";
import { DiscordChannel } from "./discord/channel.ts";
import type { DiscordConfig } from "./discord/config.ts";
import { GotifyChannel } from "./gotify/channel.ts";
import type { GotifyConfig } from "./gotify/config.ts";
import type { UrlChannelContext } from "./http.ts";
import { type ClientStateSource, MqttChannel } from "./mqtt/channel.ts";
import type { MqttConfig } from "./mqtt/config.ts";
import { NtfyChannel } from "./ntfy/channel.ts";
import type { NtfyConfig } from "./ntfy/config.ts";
import { SlackChannel } from "./slack/channel.ts";
import type { SlackConfig } from "./slack/config.ts";
import { SmtpChannel } from "./smtp/channel.ts";
import type { SmtpConfig } from "./smtp/config.ts";
import { TelegramChannel } from "./telegram/channel.ts";
import { type CheckedUrl, checkNotifyUrl, type TelegramUrl } from "./urls.ts";
import { WebhookChannel } from "./webhook/channel.ts";
import type { WebhookConfig } from "./webhook/config.ts";

export interface BuildContext {
  templates: MessageTemplates;
  publicUrl: string | null;
  logger: Logger;
  states: ClientStateSource;
  requestTimeoutMs?: number;
  /** --telegram-api-root, for tgram:// channels of their own */
  telegramApiRoot?: string;
  /** extra trust for TLS servers with a private CA (tests) */
  tls?: { ca?: string };
}

export interface BuiltChannels {
  channels: Channel[];
  /** per channel, its URL as shown: secrets masked, filters kept */
  shown: string[];
  /** tgram:// URLs, for the Telegram channel */
  telegram: TelegramUrl[];
}

/** A name not in `taken`: the name itself, else "<name> #2", "#3", ... */
export function uniqueName(name: string, taken: ReadonlySet<string>): string {
  let unique = name;
  for (let i = 2; taken.has(unique); i++) unique = `${name} #${i}`;
  return unique;
}

/** Builds the channels of valid URLs (options were checked at start: an invalid one throws). */
export function buildUrlChannels(urls: readonly string[], b: BuildContext): BuiltChannels {
  const channels: Channel[] = [];
  const shown: string[] = [];
  const telegram: TelegramUrl[] = [];
  const names = new Set<string>();
  for (const text of urls) {
    const checked = checkNotifyUrl(text);
    if ("error" in checked) throw new Error(`--notify: ${checked.error}`);
    if (checked.url.scheme === "tgram") {
      telegram.push(checked.config as TelegramUrl);
      continue;
    }
    const name = uniqueName(channelName(checked.url), names);
    names.add(name);
    channels.push(buildChannel(checked, name, b));
    shown.push(checked.url.redacted);
  }
  return { channels, shown, telegram };
}

/** One channel from one checked URL, named `name` (its masked URL, made unique). */
export function buildChannel(checked: CheckedUrl, name: string, b: BuildContext): Channel {
  const { url, config } = checked;
  const timeoutMs = b.requestTimeoutMs ?? 15_000;
  const ctx: UrlChannelContext = {
    name,
    filter: url.filter,
    templates: b.templates,
    publicUrl: b.publicUrl,
    requestTimeoutMs: timeoutMs,
  };
  switch (url.scheme) {
    case "ntfy":
    case "ntfys":
      return new NtfyChannel(ctx, config as NtfyConfig);
    case "gotify":
    case "gotifys":
      return new GotifyChannel(ctx, config as GotifyConfig);
    case "discord+https":
      return new DiscordChannel(ctx, config as DiscordConfig);
    case "slack+https":
    case "slack+http":
      return new SlackChannel(ctx, config as SlackConfig);
    case "smtp":
    case "smtps":
      return new SmtpChannel(ctx, config as SmtpConfig, b.tls);
    case "webhook+https":
    case "webhook+http":
      return new WebhookChannel(ctx, config as WebhookConfig);
    case "mqtt":
    case "mqtts":
      return new MqttChannel(ctx, config as MqttConfig, {
        states: b.states,
        logger: b.logger,
        ...(b.tls ? { tls: b.tls } : {}),
      });
    case "apprise+https":
    case "apprise+http":
      return new AppriseChannel(ctx, config as AppriseConfig);
    case "tgram": {
      const t = config as TelegramUrl;
      return new TelegramChannel({
        name,
        token: t.token,
        chats: [t.chat],
        ...(b.telegramApiRoot ? { apiRoot: b.telegramApiRoot } : {}),
        templates: b.templates,
        filters: new Map([[t.chat, t.filter]]),
        buttons: false,
        requestTimeoutMs: timeoutMs,
      });
    }
  }
}
