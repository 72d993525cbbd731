/**
 * createNotifications: the alerting feature as one object the server wires in (see
 * docs/alerts.md, "Wiring"). It builds the configured channels, the Notifier the monitor calls
 * inside its transactions, the OutboxDispatcher, and the Telegram bot.
 */
import { readFileSync } from "node:fs";
import type { UserFromGetMe } from "grammy/types";
import type { Logger } from "../../logger.ts";
import type { Keyring } from "../auth/keyring.ts";
import type { Broker } from "../broker.ts";
import { periodic } from "../services.ts";
import type { ClientRecord, OutboxStatus, Store } from "../store/index.ts";
import type { PaceRule } from "./channel.ts";
import type { ClientStateSource } from "./channels/mqtt/channel.ts";
import { type BuildContext, buildChannel, buildUrlChannels } from "./channels/registry.ts";
import { SentinelBot } from "./channels/telegram/bot.ts";
import { TelegramChannel } from "./channels/telegram/channel.ts";
import type { TelegramUrl } from "./channels/urls.ts";
import { ChannelDirectory, type ConfiguredChannel } from "./directory.ts";
import { OutboxDispatcher } from "./dispatcher.ts";
import type { RouteFilter } from "./filter.ts";
import type { ChannelHealth } from "./health.ts";
import { parseClientLimit } from "./limit.ts";
import { Notifier } from "./notifier.ts";
import type { NotifyOptions } from "./options.ts";
import { parseMaintenanceWindow } from "./schedule.ts";
import { MessageTemplates } from "./templates.ts";

export { OutboxDispatcher } from "./dispatcher.ts";
export type { ChannelHealth, ChannelState } from "./health.ts";
export { Notifier } from "./notifier.ts";
export { notifySpecs } from "./options.ts";
export type { Notification } from "./types.ts";

/** Finished outbox rows are kept this long for the API and dashboard, then pruned. */
const KEEP_FINISHED_MS = 30 * 86_400_000;

export interface NotificationsDeps {
  store: Store;
  broker: Broker;
  now: () => number;
  logger: Logger;
  /** notifySpecs values; publicUrl is the server's --public-url (dashboard links, webhook URL) */
  options: NotifyOptions & { publicUrl?: string | null };
  /** tests: skip getMe, shorten Telegram's pacing and timeouts, sweep more often */
  testing?: {
    botInfo?: UserFromGetMe;
    pace?: { privateChat: PaceRule; groupChat: PaceRule };
    requestTimeoutMs?: number;
    sweepIntervalMs?: number;
    leaseMs?: number;
    /** trust for TLS servers with a test CA (SMTP, MQTT) */
    tls?: { ca?: string };
  };
  /** opens the URLs of channels added in the dashboard (sealed like client secrets) */
  keyring?: Keyring | null;
}

export interface Notifications {
  notifier: Notifier;
  dispatcher: OutboxDispatcher;
  /** the channels in effect: the options' and the dashboard's */
  directory: ChannelDirectory;
  /** null when Telegram is not configured or --telegram-mode off */
  bot: SentinelBot | null;
  /** webhook mode: the handler to mount at POST /telegram/webhook (after start()); null otherwise */
  webhook(): ((req: Request) => Promise<Response>) | null;
  /** every replica: reads the dashboard's channels and follows their changes (before start) */
  load(): Promise<void>;
  /** the leader: connections, dispatcher, reminders, bot */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** stops following the dashboard's channels (at shutdown, after stop) */
  close(): void;
  /** per channel: its state from recent deliveries (see health.ts); plus the whole queue's counts */
  channelStatus(): Promise<{ channels: ChannelHealth[]; queue: Record<OutboxStatus, number> }>;
}

/** The bot token from --telegram-token / SENTINEL_TELEGRAM_TOKEN, else --telegram-token-file. */
export function telegramToken(options: {
  telegramToken?: string | undefined;
  telegramTokenFile?: string | undefined;
}): string | null {
  if (options.telegramToken) return options.telegramToken.trim();
  if (options.telegramTokenFile) return readFileSync(options.telegramTokenFile, "utf8").trim() || null;
  return null;
}

/** What the MQTT channel publishes as retained state: the store's clients, changes from the broker. */
export function clientStates(store: Store, broker: Broker): ClientStateSource {
  const view = (c: ClientRecord) => ({
    id: c.id,
    name: c.name,
    status: c.status,
    liveness: c.liveness,
    reason: c.state?.reason ?? null,
    exit: c.exit,
    lastReportAt: c.lastReportAt,
  });
  return {
    list: async () => (await store.clients.list()).map(view),
    get: async (id) => {
      const c = await store.clients.get(id);
      return c ? view(c) : null;
    },
    subscribe(onChange) {
      const offUpdated = broker.subscribe("client.updated", (m) => m.changed && onChange(m.clientId));
      const offChanged = broker.subscribe("client.changed", (m) => onChange(m.clientId));
      return () => {
        offUpdated();
        offChanged();
      };
    },
  };
}

/**
 * --telegram-token/--telegram-chat and tgram:// URLs are one bot: a tgram:// URL adds its chat
 * (with its filters) and gives the token when --telegram-token does not. Two different tokens
 * are refused: the bot's commands and allow-list belong to one bot.
 */
function telegramSetup(options: NotifyOptions, urls: TelegramUrl[]) {
  const tokens = new Set(urls.map((u) => u.token));
  const given = telegramToken(options);
  if (given) tokens.add(given);
  if (tokens.size > 1)
    throw new Error("--notify: a tgram:// URL names another bot than --telegram-token (one bot per server)");
  const chats = [...options.telegramChat];
  const filters = new Map<string, RouteFilter>();
  for (const u of urls) {
    if (chats.includes(u.chat)) throw new Error(`--notify: Telegram chat ${u.chat} is given twice`);
    chats.push(u.chat);
    filters.set(u.chat, u.filter);
  }
  return { token: given ?? urls[0]?.token ?? null, chats, filters };
}

export function createNotifications(deps: NotificationsDeps): Notifications {
  const { store, broker, now, logger, options } = deps;
  const publicUrl = options.publicUrl ?? null;
  const templates = MessageTemplates.load(
    { publicUrl, timeZone: options.notifyTimezone },
    logger,
    options.messageTemplates ?? null,
  );
  const context: BuildContext = {
    templates,
    publicUrl,
    logger,
    states: clientStates(store, broker),
    telegramApiRoot: options.telegramApiRoot,
    ...(deps.testing?.requestTimeoutMs ? { requestTimeoutMs: deps.testing.requestTimeoutMs } : {}),
    ...(deps.testing?.tls ? { tls: deps.testing.tls } : {}),
  };
  const built = buildUrlChannels(options.notify, context);
  const { token, chats, filters } = telegramSetup(options, built.telegram);
  const fixed: ConfiguredChannel[] = [];
  if (token)
    fixed.push({
      channel: new TelegramChannel({
        token,
        chats,
        apiRoot: options.telegramApiRoot,
        templates,
        filters,
        ...(deps.testing?.requestTimeoutMs ? { requestTimeoutMs: deps.testing.requestTimeoutMs } : {}),
        ...(deps.testing?.pace ? { pace: deps.testing.pace } : {}),
      }),
      origin: "options",
      id: null,
      url: null,
    });
  else if (options.telegramChat.length)
    logger.warn("telegram: chats are configured but no bot token; alerts are off");
  for (const [i, channel] of built.channels.entries())
    fixed.push({ channel, origin: "options", id: null, url: built.shown[i] ?? null });
  const directory = new ChannelDirectory({
    fixed,
    store,
    keyring: deps.keyring ?? null,
    build: (checked, name) => buildChannel(checked, name, context),
    broker,
    logger,
  });
  const clientLimit = options.notifyClientLimit ? parseClientLimit(options.notifyClientLimit) : null;

  const maintenance = options.maintenanceWindow
    .map(parseMaintenanceWindow)
    .filter((w) => typeof w !== "string");
  const notifier = new Notifier({
    store,
    broker,
    channels: directory,
    noise: {
      resolved: options.notifyResolved,
      late: options.notifyLate,
      serverStarted: options.notifyServerStarted,
      maintenance,
      timeZone: options.notifyTimezone,
    },
    digest: { threshold: options.digestThreshold, windowMs: options.digestWindow },
    clientLimit: typeof clientLimit === "string" ? null : clientLimit,
    reminderIntervalMs: options.reminderInterval,
    logEvent: (line) => logger.info(line),
  });
  const dispatcher = new OutboxDispatcher({
    store,
    channels: directory,
    howToFix: (name) => directory.howToFix(name),
    now,
    logger,
    broker,
    ...(deps.testing?.leaseMs ? { leaseMs: deps.testing.leaseMs } : {}),
  });
  // a channel fixed or added on the Alerts page sends what waits for it at once
  directory.onChange(() => dispatcher.wake());
  const bot =
    token && options.telegramMode !== "off"
      ? new SentinelBot({
          token,
          apiRoot: options.telegramApiRoot,
          ...(deps.testing?.botInfo ? { botInfo: deps.testing.botInfo } : {}),
          chats,
          store,
          broker,
          now,
          logger,
          publicUrl,
          timeZone: options.notifyTimezone,
        })
      : null;

  let webhook: ((req: Request) => Promise<Response>) | null = null;
  const reminders = periodic(
    "notify: reminder sweep",
    deps.testing?.sweepIntervalMs ?? 30_000,
    async () => {
      await notifier.sweep(now());
      await store.outbox.prune(now() - KEEP_FINISHED_MS);
    },
    logger,
  );

  return {
    notifier,
    dispatcher,
    directory,
    bot,
    webhook: () => webhook,
    async load() {
      directory.listen();
      await directory.load();
    },
    async start() {
      const channels = directory.list();
      for (const c of channels) for (const p of c.validateConfig()) logger.warn(`${c.name}: ${p}`);
      if (channels.length === 0)
        logger.info(
          "notify: no alert channel configured (see --notify, --telegram-token, --telegram-chat, or add one on the Alerts page); every event is logged instead",
        );
      await directory.start();
      dispatcher.start();
      reminders.start();
      if (!bot) return;
      if (options.telegramMode === "webhook") {
        if (!publicUrl)
          throw new Error("--telegram-mode webhook needs --public-url (Telegram must reach the server)");
        const secret = options.telegramWebhookSecret ?? crypto.randomUUID().replaceAll("-", "");
        try {
          webhook = await bot.startWebhook(`${publicUrl.replace(/\/+$/, "")}/telegram/webhook`, secret);
        } catch (e) {
          logger.error(`telegram bot: setting the webhook failed: ${(e as Error).message}`);
        }
      } else bot.startPolling();
    },
    async stop() {
      await reminders.stop();
      // each is bounded on its own (~2 s with a dead Bot API); side by side, that is paid once
      await Promise.all([bot?.stop(), dispatcher.stop()]);
      await directory.stop();
    },
    close: () => directory.close(),
    channelStatus: async () => ({ channels: await dispatcher.status(), queue: await dispatcher.queue() }),
  };
}
