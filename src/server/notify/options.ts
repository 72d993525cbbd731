/**
 * Alerting options (merged into serverSpecs by the server command). Precedence as everywhere:
 * flag > env SENTINEL_* > TOML > default. The bot token is a secret: never shown in help or errors.
 */
import type { OptionSpecs, Options } from "../../config/options.ts";
import { parseTelegramTarget } from "./channels/telegram/chat.ts";
import { notifyUrlsProblem } from "./channels/urls.ts";
import { parseClientLimit } from "./limit.ts";
import { isTimeZone, parseMaintenanceWindow } from "./schedule.ts";
import { URL_LIST_SEPARATOR } from "./url.ts";

export const notifySpecs = {
  notify: {
    kind: "list",
    description:
      "Alert channel as a URL (repeatable): ntfy(s)://, gotify(s)://, discord+https://, slack+https://, smtp(s)://, webhook+https://, mqtt(s)://, apprise+https://, tgram:// (see docs/alerts.md); secrets in it are never shown",
    valueHint: "URL",
    secret: true,
    listSeparator: URL_LIST_SEPARATOR,
    check: (v: string[]) => notifyUrlsProblem(v),
  },
  notifyClientLimit: {
    kind: "string",
    description:
      "At most N alerts per client and channel in PERIOD (e.g. 6/1h); the rest fold into one digest at the end of the period",
    valueHint: "N/PERIOD",
    check: (v: string) => {
      const r = parseClientLimit(v);
      return typeof r === "string" ? r : undefined;
    },
  },
  messageTemplates: {
    kind: "string",
    description:
      "Directory of message templates overriding the built-in ones (FORMAT.liquid, FORMAT/KIND.liquid; see docs/alerts.md)",
    valueHint: "DIR",
  },
  telegramToken: {
    kind: "string",
    description: "Telegram bot token from @BotFather (prefer the env var or --telegram-token-file)",
    secret: true,
    valueHint: "TOKEN",
  },
  telegramTokenFile: {
    kind: "string",
    description: "File holding the Telegram bot token (e.g. a systemd credential)",
    valueHint: "FILE",
  },
  telegramChat: {
    kind: "list",
    description:
      "Chat that gets alerts and may use bot commands, ID or ID:THREAD for a forum topic (repeatable)",
    valueHint: "ID[:THREAD]",
    check: (v: string[]) =>
      v
        .map((c) => (parseTelegramTarget(c) ? undefined : `"${c}" is not a chat id or ID:THREAD`))
        .find(Boolean),
  },
  telegramApiRoot: {
    kind: "string",
    description: "Bot API server URL (a self-hosted Bot API server, or a fake in tests)",
    default: "https://api.telegram.org",
    valueHint: "URL",
    check: (v: string) => (/^https?:\/\/[^\s/]+/.test(v) ? undefined : "must be an http:// or https:// URL"),
  },
  telegramMode: {
    kind: "string",
    description:
      "How the bot receives commands: polling, webhook (at <public-url>/telegram/webhook) or off (alerts only)",
    default: "polling",
    check: (v: string) =>
      ["polling", "webhook", "off"].includes(v) ? undefined : "must be polling, webhook or off",
  },
  telegramWebhookSecret: {
    kind: "string",
    description:
      "Secret Telegram sends with webhook calls (1-256 of A-Z a-z 0-9 _ -); default: random at each start",
    secret: true,
    check: (v: string) =>
      /^[\w-]{1,256}$/.test(v) ? undefined : "must be 1-256 characters of A-Z, a-z, 0-9, _ and -",
  },
  notifyResolved: {
    kind: "boolean",
    description:
      "Send resolved messages (back online, leak ended, uplink back); --no-notify-resolved turns them off",
    default: true,
  },
  notifyLate: {
    kind: "boolean",
    description: "Alert when a client is late (before it counts as offline)",
    default: false,
  },
  notifyServerStarted: {
    kind: "boolean",
    description: "Send a message with client counts when the server starts",
    default: false,
  },
  reminderInterval: {
    kind: "duration",
    description: "Remind while a client stays red, this often; 0 turns reminders off",
    default: 6 * 3_600_000,
    check: (v: number) => (v === 0 || v >= 60_000 ? undefined : "must be 0 (off) or at least 1m"),
  },
  maintenanceWindow: {
    kind: "list",
    description:
      'Weekly window with alerts held back, e.g. "sun 02:00-04:00", "mon-fri 23:30-00:30", "daily 03:00-03:15" (repeatable)',
    valueHint: "DAYS HH:MM-HH:MM",
    check: (v: string[]) =>
      v.map((w) => parseMaintenanceWindow(w)).find((r): r is string => typeof r === "string"),
  },
  notifyTimezone: {
    kind: "string",
    description: "IANA time zone for maintenance windows and times in messages",
    default: "UTC",
    valueHint: "ZONE",
    check: (v: string) => (isTimeZone(v) ? undefined : "is not an IANA time zone like UTC or Europe/Berlin"),
  },
  digestThreshold: {
    kind: "int",
    description:
      "This many alerts to one chat within the digest window fold the rest into one message; 0 turns digests off",
    default: 5,
    check: (v: number) => (v === 0 || v >= 2 ? undefined : "must be 0 (off) or at least 2"),
  },
  digestWindow: {
    kind: "duration",
    description: "Window for counting a burst of alerts (and how long a digest collects)",
    default: 10_000,
    check: (v: number) => (v >= 1_000 && v <= 600_000 ? undefined : "must be between 1s and 10m"),
  },
} satisfies OptionSpecs;

export type NotifyOptions = Options<typeof notifySpecs>;
