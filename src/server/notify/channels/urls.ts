/**
 * The start-time check of `--notify` URLs: the shared part (url.ts) and what each scheme needs
 * (channels/<name>/config.ts). Light on purpose: option parsing must not load mail or MQTT
 * client libraries.
 */
import type { RouteFilter } from "../filter.ts";
import { type ChannelUrl, parseChannelUrl, type Scheme } from "../url.ts";
import { parseAppriseUrl } from "./apprise/config.ts";
import { parseDiscordUrl } from "./discord/config.ts";
import { parseGotifyUrl } from "./gotify/config.ts";
import { parseMqttUrl } from "./mqtt/config.ts";
import { parseNtfyUrl } from "./ntfy/config.ts";
import { parseSlackUrl } from "./slack/config.ts";
import { parseSmtpUrl } from "./smtp/config.ts";
import { parseTelegramTarget } from "./telegram/chat.ts";
import { parseWebhookUrl } from "./webhook/config.ts";

export interface TelegramUrl {
  token: string;
  chat: string;
  filter: RouteFilter;
}

function parseTelegramUrl(url: URL): TelegramUrl | string {
  const token = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  if (!/^\d+:[\w-]{20,}$/.test(token))
    return "the bot token does not look like 123456:ABC-DEF... (from @BotFather)";
  const chat = decodeURIComponent(url.pathname.replace(/^\/+|\/+$/g, ""));
  if (!chat) return "needs a chat: tgram://BOT_TOKEN/CHAT_ID[:THREAD]";
  if (!parseTelegramTarget(chat)) return `${chat} is not a chat id, @channel or CHAT_ID:THREAD`;
  return { token, chat, filter: { only: null, min: null, clients: null, tags: null } };
}

type Parsed<C> = (url: URL) => C | string;
const PARSERS: Record<Scheme, Parsed<unknown>> = {
  ntfy: parseNtfyUrl,
  ntfys: parseNtfyUrl,
  gotify: parseGotifyUrl,
  gotifys: parseGotifyUrl,
  "discord+https": parseDiscordUrl,
  "slack+https": parseSlackUrl,
  "slack+http": parseSlackUrl,
  smtp: parseSmtpUrl,
  smtps: parseSmtpUrl,
  "webhook+https": parseWebhookUrl,
  "webhook+http": parseWebhookUrl,
  mqtt: parseMqttUrl,
  mqtts: parseMqttUrl,
  "apprise+https": parseAppriseUrl,
  "apprise+http": parseAppriseUrl,
  tgram: parseTelegramUrl,
};

export interface CheckedUrl {
  url: ChannelUrl;
  config: unknown;
}

/** The whole check of one --notify URL; the error names no secret. */
export function checkNotifyUrl(text: string): CheckedUrl | { error: string } {
  const url = parseChannelUrl(text);
  if ("error" in url) return url;
  const config = PARSERS[url.scheme](url.url);
  if (typeof config === "string") return { error: `${url.redacted}: ${config}` };
  if (url.scheme === "tgram") (config as TelegramUrl).filter = url.filter;
  return { url, config };
}

/** For the option check: the first problem among the URLs, or undefined. */
export function notifyUrlsProblem(urls: readonly string[]): string | undefined {
  for (const text of urls) {
    const r = checkNotifyUrl(text);
    if ("error" in r) return r.error;
  }
  return undefined;
}
