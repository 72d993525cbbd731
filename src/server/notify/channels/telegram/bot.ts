/**
 * The Telegram bot: commands and the alert buttons. Only allow-listed chats (the --telegram-chat
 * ids) get answers or can act; any other chat is ignored and logged once, with the id to add.
 * Commands read and change clients through the Store (policy JSON: muted_until, paused) and
 * publish "client.changed" so the dashboard and the monitor see the change.
 */
import { Bot, type Context, webhookCallback } from "grammy";
import type { UserFromGetMe } from "grammy/types";
import { parseDuration } from "../../../../config/duration.ts";
import type { Logger } from "../../../../logger.ts";
import type { Broker } from "../../../broker.ts";
import type { ClientSettings } from "../../../monitor/settings.ts";
import { settlesWithin } from "../../../settles-within.ts";
import type { ClientRecord, Store } from "../../../store/index.ts";
import { parseTelegramTarget } from "./chat.ts";
import { sanitizedTelegramError } from "./errors.ts";
import { escapeHtml as esc, splitHtml } from "./html.ts";
import { clientReply, clientsReply, HELP, type ReplyContext, startReply, statusReply } from "./replies.ts";

export interface SentinelBotDeps {
  token: string;
  apiRoot?: string;
  /** skips getMe (tests, or a known bot) */
  botInfo?: UserFromGetMe;
  /** --telegram-chat values; the chat part is the allow-list */
  chats: readonly string[];
  store: Store;
  broker: Broker;
  now: () => number;
  logger: Logger;
  publicUrl: string | null;
  timeZone: string;
}

export const DEFAULT_MUTE_MS = 3_600_000;
export const MAX_MUTE_MS = 30 * 86_400_000;
const ALLOWED_UPDATES = ["message", "callback_query"] as const;
/** stop(): how long Telegram gets to confirm the last update before the bot stops without it */
const CONFIRM_AT_STOP_MS = 1_500;

/** "NAME 2h" or "my laptop 30m" or "NAME": the last word is a duration when it parses as one. */
export function parseMuteArgs(text: string): { name: string; ms: number } | string {
  const words = text.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return "Usage: /mute NAME [DURATION], e.g. /mute laptop 2h";
  const last = words.length > 1 ? parseDuration(words.at(-1) as string) : null;
  const ms = last ?? DEFAULT_MUTE_MS;
  if (ms <= 0 || ms > MAX_MUTE_MS) return "The duration must be between 1s and 30d.";
  return { name: (last === null ? words : words.slice(0, -1)).join(" "), ms };
}

/** grammy declares its signals with the abort-controller polyfill's type; at run time it takes the platform's. */
type GrammySignal = NonNullable<Parameters<Bot["init"]>[0]>;
const asGrammySignal = (signal: AbortSignal) => signal as unknown as GrammySignal;

export class SentinelBot {
  readonly bot: Bot;
  private readonly allowed: Set<string>;
  private readonly ignored = new Set<string>();
  private polling: Promise<void> | null = null;
  private stopping = false;
  /** aborts every Bot API call of this bot (stop() fires it), whatever grammy passed along */
  private readonly halt = new AbortController();

  constructor(private readonly deps: SentinelBotDeps) {
    this.bot = new Bot(deps.token, {
      ...(deps.botInfo ? { botInfo: deps.botInfo } : {}),
      client: { ...(deps.apiRoot ? { apiRoot: deps.apiRoot.replace(/\/+$/, "") } : {}) },
    });
    // grammy's own calls at start (getMe, deleteWebhook, with retries) and the update it
    // confirms at stop carry no signal or timeout we control: a black-holed Bot API would hold
    // them, and so the shutdown, for minutes.
    this.bot.api.config.use((prev, method, payload, signal) =>
      prev(
        method,
        payload,
        asGrammySignal(
          signal ? AbortSignal.any([signal as unknown as AbortSignal, this.halt.signal]) : this.halt.signal,
        ),
      ),
    );
    this.allowed = new Set(
      deps.chats
        .map((c) => parseTelegramTarget(c))
        .filter((t) => t !== null)
        .map((t) => String(t.chatId)),
    );
    this.install();
  }

  isAllowed(chat: { id: number; username?: string } | undefined): boolean {
    if (!chat) return false;
    return (
      this.allowed.has(String(chat.id)) ||
      (chat.username !== undefined && this.allowed.has(`@${chat.username}`))
    );
  }

  private install() {
    const { bot, deps } = this;
    bot.catch((err) =>
      deps.logger.error(`telegram bot: handling an update failed: ${this.clean(err.error ?? err).message}`),
    );
    bot.use(async (ctx, next) => {
      if (this.isAllowed(ctx.chat)) return next();
      const id = String(ctx.chat?.id ?? ctx.from?.id ?? "?");
      if (!this.ignored.has(id)) {
        this.ignored.add(id);
        deps.logger.warn(
          `telegram bot: ignoring chat ${id} (not allowed); add --telegram-chat ${id} to allow it`,
        );
      }
    });
    bot.command("start", (ctx) => this.reply(ctx, startReply(ctx.chat.id, true)));
    bot.command("help", (ctx) => this.reply(ctx, HELP));
    bot.command("ping", (ctx) =>
      this.reply(ctx, `pong 🏓 (server time ${new Date(deps.now()).toISOString()})`),
    );
    bot.command("status", async (ctx) =>
      this.reply(ctx, statusReply(await deps.store.clients.list(), this.replyContext())),
    );
    bot.command("clients", async (ctx) =>
      this.reply(ctx, clientsReply(await deps.store.clients.list(), this.replyContext())),
    );
    bot.command("client", (ctx) =>
      this.withClient(ctx, ctx.match, async (c) =>
        this.reply(
          ctx,
          clientReply(c, await deps.store.events.query({ clientId: c.id, limit: 5 }), this.replyContext()),
        ),
      ),
    );
    bot.command("mute", (ctx) => {
      const args = parseMuteArgs(ctx.match);
      if (typeof args === "string") return this.reply(ctx, args);
      return this.withClient(ctx, args.name, async (c) => this.reply(ctx, await this.mute(ctx, c, args.ms)));
    });
    bot.command("unmute", (ctx) =>
      this.withClient(ctx, ctx.match, async (c) => {
        await this.changeSettings(ctx, c, { muted_until: null }, "client.unmute");
        return this.reply(ctx, `🔔 <b>${esc(c.name)}</b> alerts again.`);
      }),
    );
    bot.command("pause", (ctx) =>
      this.withClient(ctx, ctx.match, async (c) => {
        await this.changeSettings(ctx, c, { paused: true }, "client.pause");
        return this.reply(
          ctx,
          `⏸ <b>${esc(c.name)}</b> is paused: reports are recorded, nothing is alerted. /resume ${esc(c.name)}`,
        );
      }),
    );
    bot.command("resume", (ctx) =>
      this.withClient(ctx, ctx.match, async (c) => {
        await this.changeSettings(ctx, c, { paused: false }, "client.resume");
        return this.reply(ctx, `▶️ <b>${esc(c.name)}</b> is judged and alerted again.`);
      }),
    );
    bot.callbackQuery(/^mute:(.+):(\d+)$/, async (ctx) => {
      const [, id, seconds] = ctx.match as RegExpMatchArray;
      const client = await deps.store.clients.get(id as string);
      if (!client) return ctx.answerCallbackQuery({ text: "That client no longer exists." });
      const text = await this.mute(ctx, client, Number(seconds) * 1000);
      await ctx.answerCallbackQuery({ text: text.replace(/<[^>]+>/g, "") });
      return this.reply(ctx, text);
    });
  }

  private replyContext(): ReplyContext {
    return { now: this.deps.now(), timeZone: this.deps.timeZone, publicUrl: this.deps.publicUrl };
  }

  private async mute(ctx: Context, c: ClientRecord, ms: number): Promise<string> {
    const until = this.deps.now() + Math.min(ms, MAX_MUTE_MS);
    await this.changeSettings(ctx, c, { muted_until: until }, "client.mute");
    return `🔕 <b>${esc(c.name)}</b> muted until ${new Date(until).toISOString().replace("T", " ").slice(0, 16)} UTC. /unmute ${esc(c.name)}`;
  }

  /** A chat changes a client: the change and its audit entry (the chat is the actor) commit together. */
  private async changeSettings(
    ctx: Context,
    c: ClientRecord,
    change: Partial<ClientSettings>,
    action: string,
  ) {
    const { store, now } = this.deps;
    const after = { ...c.settings, ...change };
    await store.transaction(async (tx) => {
      await tx.clients.updateSettings(c.id, after);
      await tx.auth.audit({
        at: now(),
        actor: `telegram:${ctx.chat?.id ?? ctx.from?.id ?? "?"}`,
        action,
        target: c.name,
        detail: { client_id: c.id, before: c.settings, after },
        sourceIp: null,
      });
    });
    this.deps.broker.publish("client.changed", { clientId: c.id });
    this.deps.logger.info(`telegram bot: settings of ${c.name} changed: ${JSON.stringify(change)}`);
  }

  private async withClient(ctx: Context, nameOrId: string, fn: (c: ClientRecord) => Promise<unknown>) {
    const name = nameOrId.trim();
    if (!name) return this.reply(ctx, "Which client? Give its name, e.g. /client laptop");
    const client =
      (await this.deps.store.clients.getByName(name)) ?? (await this.deps.store.clients.get(name));
    if (!client) return this.reply(ctx, `No client named <b>${esc(name)}</b>. /clients lists them.`);
    return fn(client);
  }

  private async reply(ctx: Context, html: string) {
    const thread = ctx.msg?.message_thread_id;
    for (const text of splitHtml(html)) {
      await ctx.reply(text, {
        parse_mode: "HTML",
        link_preview_options: { is_disabled: true },
        ...(thread !== undefined ? { message_thread_id: thread } : {}),
      });
    }
  }

  /** Long polling until stop(). Errors (bad token, network) are logged, never thrown. */
  startPolling(): void {
    if (this.polling) return;
    // getMe first with our signal: grammy's start() retries it without one, forever
    this.polling = this.bot
      .init(asGrammySignal(this.halt.signal))
      .then(() => this.bot.start({ allowed_updates: [...ALLOWED_UPDATES], drop_pending_updates: false }))
      .catch((e) => {
        if (this.stopping) return; // stop() aborted it
        this.deps.logger.error(`telegram bot: polling stopped: ${this.clean(e).message}`);
      });
  }

  /** Webhook mode: registers `url` with Telegram and returns the request handler to mount there. */
  async startWebhook(url: string, secretToken: string): Promise<(req: Request) => Promise<Response>> {
    try {
      await this.bot.init();
      await this.bot.api.setWebhook(url, {
        secret_token: secretToken,
        allowed_updates: [...ALLOWED_UPDATES],
      });
    } catch (e) {
      throw this.clean(e);
    }
    return webhookCallback(this.bot, "std/http", { secretToken });
  }

  /**
   * Ends polling within ~2 s whatever the Bot API does: grammy aborts the long poll and confirms
   * the last update with one more getUpdates, which gets CONFIRM_AT_STOP_MS; then every call
   * still in flight is aborted.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    const giveUp = setTimeout(() => this.halt.abort(), CONFIRM_AT_STOP_MS);
    try {
      if (this.bot.isRunning()) await this.bot.stop();
    } catch (e) {
      this.deps.logger.warn(
        `telegram bot: stopped without confirming the last update (${this.clean(e).message}); Telegram may send it again at the next start`,
      );
    } finally {
      clearTimeout(giveUp);
      this.halt.abort();
    }
    // grammy may be sleeping between retries (up to a 429's retry_after) before it notices
    await settlesWithin(this.polling, 500);
    this.polling = null;
  }

  /** grammy's errors name the Bot API URL, token included: only a redacted copy leaves this class. */
  private clean(e: unknown): Error {
    return sanitizedTelegramError(e, this.deps.token);
  }
}
