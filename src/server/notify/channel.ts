/**
 * The channel interface: everything the dispatcher needs from a delivery channel (Telegram
 * today; webhook, ntfy, Gotify, Discord, Slack, email, MQTT later). One folder per channel under
 * channels/<name>/, with its own tests. A channel is stateless about retries: the outbox owns
 * backoff, pacing and give-up, so every channel gets them the same way.
 */
import type { Notification } from "./types.ts";

/**
 * How the dispatcher should treat a failed send: try again with backoff; give up on this message;
 * give up on it and pause the target because it refuses us (bot blocked, kicked, chat gone), so
 * queued messages wait instead of failing one after another; or wait exactly as told (429).
 */
export type ErrorClass = "retryable" | "permanent" | "unreachable" | { retryAfterMs: number };

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
  /** one notification as one or more messages (split to fit the channel's size limit) */
  render(notification: Notification, target: string): M[];
  /** `signal` aborts the request when the server stops (a hung service must not hold shutdown) */
  send(target: string, message: M, signal?: AbortSignal): Promise<SendResult>;
  classifyError(err: unknown): ErrorClass;
  pace(target: string): PaceRule;
  /** a short description of an error for last_error and the channel status (never a secret) */
  describeError(err: unknown): string;
}
