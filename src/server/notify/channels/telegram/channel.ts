/**
 * The Telegram channel: renders a notification with the `telegram` message template (HTML parse
 * mode, templates/messages/telegram.liquid), split at 4096 characters, with mute buttons; sends
 * it with grammy's Api, and classifies Bot API errors for the outbox. Retries and 429 waits are
 * the outbox's job (per chat), so no auto-retry plugin here.
 */
import { Api, GrammyError, HttpError } from "grammy";
import type { InlineKeyboardMarkup } from "grammy/types";
import { redactText } from "../../../../cli/redact.ts";
import type { Channel, ErrorClass, PaceRule, SendResult } from "../../channel.ts";
import { type RouteCandidate, type RouteFilter, routeMatches } from "../../filter.ts";
import type { MessageTemplates } from "../../templates.ts";
import type { Notification } from "../../types.ts";
import { isGroupChat, parseTelegramTarget, type TelegramTarget } from "./chat.ts";
import { sanitizedTelegramError } from "./errors.ts";
import { splitHtml, TELEGRAM_MAX_CHARS } from "./html.ts";

export interface TelegramMessage {
  text: string;
  buttons?: InlineKeyboardMarkup;
}

export interface TelegramChannelConfig {
  /** default "telegram" (the bot's chats); a tgram:// channel added in the dashboard has its masked URL */
  name?: string;
  token: string;
  /** "CHAT_ID" or "CHAT_ID:THREAD_ID" */
  chats: string[];
  apiRoot?: string;
  templates: MessageTemplates;
  /**
   * mute buttons under problem alerts (default true): only where the bot answers them, i.e. the
   * chats of --telegram-chat and tgram:// options
   */
  buttons?: boolean;
  /** give up on one HTTP call after this long (a hung Bot API must not hold a lane forever) */
  requestTimeoutMs?: number;
  /** Telegram's limits by default; tests shorten them */
  pace?: { privateChat: PaceRule; groupChat: PaceRule };
  maxChars?: number;
  /** per chat: the ?only/?min/?clients/?tags of its tgram:// URL (chats from --telegram-chat get everything) */
  filters?: ReadonlyMap<string, RouteFilter>;
}

export const TELEGRAM_PACE = {
  privateChat: { minIntervalMs: 1_000 },
  groupChat: { minIntervalMs: 1_000, perMinute: 20 },
} as const satisfies { privateChat: PaceRule; groupChat: PaceRule };

/** Callback data of the mute buttons: "mute:<client id>:<seconds>" (Telegram allows 64 bytes). */
export const muteCallbackData = (clientId: string, seconds: number) => `mute:${clientId}:${seconds}`;

export const MUTE_BUTTONS: readonly { label: string; seconds: number }[] = [
  { label: "🔕 Mute 1 h", seconds: 3_600 },
  { label: "🔕 Mute 24 h", seconds: 86_400 },
];

/** 403 and "chat not found": the chat refuses us or is gone; waiting, not retrying, is right. */
const UNREACHABLE =
  /bot was blocked|bot was kicked|not a member|chat not found|user is deactivated|have no rights to send/i;

export class TelegramChannel implements Channel<TelegramMessage> {
  readonly name: string;
  readonly api: Api;
  private readonly parsed = new Map<string, TelegramTarget | null>();

  constructor(private readonly config: TelegramChannelConfig) {
    this.name = config.name ?? "telegram";
    this.api = new Api(config.token, {
      ...(config.apiRoot ? { apiRoot: config.apiRoot.replace(/\/+$/, "") } : {}),
      timeoutSeconds: Math.max(1, Math.ceil((config.requestTimeoutMs ?? 30_000) / 1000)),
    });
    for (const chat of config.chats) this.parsed.set(chat, parseTelegramTarget(chat));
  }

  targets(): string[] {
    return [...this.parsed.entries()].filter(([, t]) => t !== null).map(([s]) => s);
  }

  accepts(target: string, c: RouteCandidate): boolean {
    const filter = this.config.filters?.get(target);
    return filter ? routeMatches(filter, c) : true;
  }

  validateConfig(): string[] {
    const problems: string[] = [];
    if (!/^\d+:[\w-]{20,}$/.test(this.config.token))
      problems.push("the bot token does not look like 123456:ABC-DEF... (from @BotFather)");
    if (this.config.chats.length === 0) problems.push("no chat configured (--telegram-chat ID[:THREAD])");
    for (const [text, t] of this.parsed)
      if (!t) problems.push(`chat ${JSON.stringify(text)} is not a chat id, @channel or ID:THREAD`);
    return problems;
  }

  render(notification: Notification, _target: string): TelegramMessage[] {
    const chunks = splitHtml(
      this.config.templates.render("telegram", notification),
      this.config.maxChars ?? TELEGRAM_MAX_CHARS,
    );
    const messages: TelegramMessage[] = chunks.map((text) => ({ text }));
    const last = messages.at(-1);
    const problem =
      notification.severity === "red" ||
      notification.severity === "yellow" ||
      notification.kind === "reminder";
    if (last && notification.client && problem && this.config.buttons !== false) {
      const clientId = notification.client.id;
      last.buttons = {
        inline_keyboard: [
          MUTE_BUTTONS.map((b) => ({ text: b.label, callback_data: muteCallbackData(clientId, b.seconds) })),
        ],
      };
    }
    return messages;
  }

  async send(target: string, message: TelegramMessage, signal?: AbortSignal): Promise<SendResult> {
    const t = this.parsed.get(target) ?? parseTelegramTarget(target);
    if (!t) throw new Error(`bad telegram target ${JSON.stringify(target)}`);
    const sent = await this.api.sendMessage(
      t.chatId,
      message.text,
      {
        parse_mode: "HTML",
        link_preview_options: { is_disabled: true },
        ...(t.threadId !== undefined ? { message_thread_id: t.threadId } : {}),
        ...(message.buttons ? { reply_markup: message.buttons } : {}),
      },
      // grammy declares the abort-controller polyfill's type; it takes the platform's signal
      signal as Parameters<Api["sendMessage"]>[3],
    );
    return { messageId: String(sent.message_id) };
  }

  classifyError(err: unknown): ErrorClass {
    if (err instanceof GrammyError) {
      if (err.error_code === 429)
        return { retryAfterMs: Math.max(1, err.parameters.retry_after ?? 1) * 1000 };
      if (err.error_code === 403 || (err.error_code === 400 && UNREACHABLE.test(err.description)))
        return "unreachable";
      if (err.error_code >= 500) return "retryable";
      return "permanent";
    }
    if (err instanceof HttpError) return "retryable";
    return "retryable";
  }

  pace(target: string): PaceRule {
    const t = this.parsed.get(target) ?? parseTelegramTarget(target);
    const pace = this.config.pace ?? TELEGRAM_PACE;
    return t && isGroupChat(t) ? pace.groupChat : pace.privateChat;
  }

  describeError(err: unknown): string {
    const clean = sanitizedTelegramError(err, this.config.token).message;
    if (err instanceof GrammyError)
      return `telegram ${err.error_code}: ${redactText(err.description, [this.config.token])}`;
    if (err instanceof HttpError) return `telegram unreachable: ${clean}`;
    return clean;
  }
}
