/**
 * The channel interface: everything the dispatcher needs from a delivery channel (Telegram,
 * ntfy, Gotify, Discord, Slack, email, webhooks, MQTT, Apprise). One folder per channel under
 * channels/<name>/, with its own tests. A channel is stateless about retries: the outbox owns
 * backoff, pacing and give-up, so every channel gets them the same way.
 */
import type { RouteCandidate } from "./filter.ts";
import type { Notification } from "./types.ts";

/**
 * How the dispatcher should treat a failed send: try again with backoff; give up on this message;
 * give up on it and pause the target because it refuses us (bot blocked, kicked, chat gone), so
 * queued messages wait instead of failing one after another; stop the target until the
 * configuration is fixed ("disabled": 401/403/404/410, SMTP 5xx; its queued messages wait for
 * the next start instead of being retried forever); or wait exactly as told (429, Retry-After).
 */
export type ErrorClass = "retryable" | "permanent" | "unreachable" | "disabled" | { retryAfterMs: number };

/** Pacing the channel's service imposes per target; the dispatcher enforces it. */
export interface PaceRule {
  /** at least this long between two messages to the target */
  minIntervalMs: number;
  /** at most this many messages per rolling minute (absent: no such limit) */
  perMinute?: number;
}

export interface SendResult {
  /** the channel's id for the delivered message, for logs */
  messageId?: string;
}

export interface Channel<M = unknown> {
  /** stable name, stored in outbox rows ("telegram") */
  readonly name: string;
  /** configured targets (e.g. chat ids); one outbox row per notification per target */
  targets(): string[];
  /** problems with the configuration, as human sentences; empty when valid */
  validateConfig(): string[];
  /**
   * One notification as one or more messages (split to fit the channel's size limit).
   * `meta.key`: the outbox row's idempotency key, stable across retries (absent for test sends).
   */
  render(notification: Notification, target: string, meta?: { key?: string }): M[];
  /** `signal` aborts the request when the server stops (a hung service must not hold shutdown) */
  send(target: string, message: M, signal?: AbortSignal): Promise<SendResult>;
  classifyError(err: unknown): ErrorClass;
  pace(target: string): PaceRule;
  /** a short description of an error for last_error and the channel status (never a secret) */
  describeError(err: unknown): string;
  /** whether the target wants this notification (a channel URL's ?only, ?min, ?clients, ?tags); absent: all */
  accepts?(target: string, candidate: RouteCandidate): boolean;
  /** channels with a connection of their own (MQTT) open it here and close it in stop */
  start?(): Promise<void>;
  stop?(): Promise<void>;
}

/**
 * The channels in effect now. Those from options are fixed at start; those added in the
 * dashboard come and go while the server runs (directory.ts), so the notifier and the
 * dispatcher ask for the list each time instead of keeping one.
 */
export interface ChannelSource {
  list(): readonly Channel[];
}

/** A list that never changes (tests, `sentinel notify test`). */
export const fixedChannels = (channels: readonly Channel[]): ChannelSource => ({ list: () => channels });
