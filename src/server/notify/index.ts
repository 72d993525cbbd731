/**
 * createNotifications: the alerting feature as one object the server wires in (see
 * docs/alerts.md, "Wiring"). It builds the configured channels, the Notifier the monitor calls
 * inside its transactions, the OutboxDispatcher, and the Telegram bot.
 */
import { readFileSync } from "node:fs";
import type { UserFromGetMe } from "grammy/types";
import type { Logger } from "../../cli/common.ts";
import type { Broker } from "../broker.ts";
import type { OutboxStatus } from "../store/outbox.ts";
import type { Store } from "../store/types.ts";
import { SentinelBot } from "../telegram/bot.ts";
import type { Channel, PaceRule } from "./channel.ts";
import { TelegramChannel } from "./channels/telegram/channel.ts";
import { OutboxDispatcher } from "./dispatcher.ts";
import type { ChannelHealth } from "./health.ts";
import { Notifier } from "./notifier.ts";
import type { NotifyOptions } from "./options.ts";
import { parseMaintenanceWindow } from "./schedule.ts";

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
  };
}

export interface Notifications {
  notifier: Notifier;
  dispatcher: OutboxDispatcher;
  channels: Channel[];
  /** null when Telegram is not configured or --telegram-mode off */
  bot: SentinelBot | null;
  /** webhook mode: the handler to mount at POST /telegram/webhook (after start()); null otherwise */
  webhook(): ((req: Request) => Promise<Response>) | null;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** per channel: its state from recent deliveries (see health.ts); plus the whole queue's counts */
  channelStatus(): { channels: ChannelHealth[]; queue: Record<OutboxStatus, number> };
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

export function createNotifications(deps: NotificationsDeps): Notifications {
  const { store, broker, now, logger, options } = deps;
  const publicUrl = options.publicUrl ?? null;
  const token = telegramToken(options);
  const channels: Channel[] = [];
  let telegram: TelegramChannel | null = null;
  if (token) {
    telegram = new TelegramChannel({
      token,
      chats: options.telegramChat,
      apiRoot: options.telegramApiRoot,
      publicUrl,
      timeZone: options.notifyTimezone,
      ...(deps.testing?.requestTimeoutMs ? { requestTimeoutMs: deps.testing.requestTimeoutMs } : {}),
      ...(deps.testing?.pace ? { pace: deps.testing.pace } : {}),
    });
    channels.push(telegram);
  } else if (options.telegramChat.length)
    logger.warn("telegram: chats are configured but no bot token; alerts are off");

  const maintenance = options.maintenanceWindow
    .map(parseMaintenanceWindow)
    .filter((w) => typeof w !== "string");
  const notifier = new Notifier({
    store,
    broker,
    channels,
    noise: {
      resolved: options.notifyResolved,
      late: options.notifyLate,
      serverStarted: options.notifyServerStarted,
      maintenance,
      timeZone: options.notifyTimezone,
    },
    digest: { threshold: options.digestThreshold, windowMs: options.digestWindow },
    reminderIntervalMs: options.reminderInterval,
    logEvent: (line) => logger.info(line),
  });
  const dispatcher = new OutboxDispatcher({
    store,
    channels,
    now,
    logger,
    broker,
    ...(deps.testing?.leaseMs ? { leaseMs: deps.testing.leaseMs } : {}),
  });
  const bot =
    token && options.telegramMode !== "off"
      ? new SentinelBot({
          token,
          apiRoot: options.telegramApiRoot,
          ...(deps.testing?.botInfo ? { botInfo: deps.testing.botInfo } : {}),
          chats: options.telegramChat,
          store,
          broker,
          now,
          logger,
          publicUrl,
          timeZone: options.notifyTimezone,
        })
      : null;

  let sweepTimer: ReturnType<typeof setInterval> | undefined;
  let webhook: ((req: Request) => Promise<Response>) | null = null;
  const sweep = () => {
    try {
      notifier.sweep(now());
      store.outbox.prune(now() - KEEP_FINISHED_MS);
    } catch (e) {
      logger.error(`notify: reminder sweep failed: ${(e as Error).message}`);
    }
  };

  return {
    notifier,
    dispatcher,
    channels,
    bot,
    webhook: () => webhook,
    async start() {
      for (const c of channels) for (const p of c.validateConfig()) logger.warn(`${c.name}: ${p}`);
      if (channels.length === 0)
        logger.info(
          "notify: no alert channel configured (see --telegram-token, --telegram-chat); every event is logged instead",
        );
      dispatcher.start();
      sweepTimer = setInterval(sweep, deps.testing?.sweepIntervalMs ?? 30_000);
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
      clearInterval(sweepTimer);
      // each is bounded on its own (~2 s with a dead Bot API); side by side, that is paid once
      await Promise.all([bot?.stop(), dispatcher.stop()]);
    },
    channelStatus: () => ({ channels: dispatcher.status(), queue: dispatcher.queue() }),
  };
}
