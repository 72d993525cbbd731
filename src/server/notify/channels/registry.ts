/**
 * From `--notify` URLs to channels, each channel class in its own folder. tgram:// URLs are not
 * a channel of their own: they add chats (with their filters) to the one Telegram channel,
 * exactly like --telegram-token/--telegram-chat.
 */
import type { Logger } from "../../../cli/common.ts";
import type { Channel } from "../channel.ts";
import type { ClientTagSource } from "../filter.ts";
import type { MessageTemplates } from "../templates.ts";
import { channelName, type Scheme } from "../url.ts";
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
import { checkNotifyUrl, type TelegramUrl } from "./urls.ts";
import { WebhookChannel } from "./webhook/channel.ts";
import type { WebhookConfig } from "./webhook/config.ts";

export interface BuildContext {
  templates: MessageTemplates;
  tags: ClientTagSource;
  publicUrl: string | null;
  logger: Logger;
  states: ClientStateSource;
  requestTimeoutMs?: number;
  /** extra trust for TLS servers with a private CA (tests) */
  tls?: { ca?: string };
}

export interface BuiltChannels {
  channels: Channel[];
  /** tgram:// URLs, for the Telegram channel */
  telegram: TelegramUrl[];
}

/** Builds the channels of valid URLs (options were checked at start: an invalid one throws). */
export function buildUrlChannels(urls: readonly string[], b: BuildContext): BuiltChannels {
  const channels: Channel[] = [];
  const telegram: TelegramUrl[] = [];
  const names = new Set<string>();
  for (const text of urls) {
    const checked = checkNotifyUrl(text);
    if ("error" in checked) throw new Error(`--notify: ${checked.error}`);
    const { url, config } = checked;
    if (url.scheme === "tgram") {
      telegram.push(config as TelegramUrl);
      continue;
    }
    let name = channelName(url);
    for (let i = 2; names.has(name); i++) name = `${channelName(url)} #${i}`;
    names.add(name);
    const ctx: UrlChannelContext = {
      name,
      filter: url.filter,
      templates: b.templates,
      tags: b.tags,
      publicUrl: b.publicUrl,
      requestTimeoutMs: b.requestTimeoutMs ?? 15_000,
    };
    channels.push(createChannel(url.scheme, ctx, config, b));
  }
  return { channels, telegram };
}

function createChannel(
  scheme: Exclude<Scheme, "tgram">,
  ctx: UrlChannelContext,
  config: unknown,
  b: BuildContext,
) {
  switch (scheme) {
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
  }
}
