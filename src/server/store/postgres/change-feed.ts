/**
 * PostgreSQL's change feed: every replica LISTENs on one channel and NOTIFYs it after its
 * commits, with `{origin, topic, message}` as the payload; a listener drops its own origin (the
 * caller delivers its own messages locally). Bun keeps the LISTEN connection alive and
 * re-subscribes after it drops (a database restart); what was sent while it was down is lost,
 * so a re-subscription tells every subscriber "store.external" (drop what you cache).
 */
import type { SQL } from "bun";
import type { ChangeFeed, ChangeMessages, ChangeTopic } from "../types.ts";

type Handler = <K extends ChangeTopic>(topic: K, message: ChangeMessages[K]) => void;

export const CHANGES_CHANNEL = "sentinel_changes";

/** PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more. */
const MAX_PAYLOAD_BYTES = 7_900;
const RETRY_LISTEN_MS = 1_000;

export interface ChangeFeedLog {
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** The messages to send for one publish: split when the payload would be too large. */
export function envelopes(origin: string, topic: ChangeTopic, message: unknown): string[] {
  const payload = JSON.stringify({ origin, topic, message });
  if (Buffer.byteLength(payload) <= MAX_PAYLOAD_BYTES) return [payload];
  if (topic === "events.created") {
    const { eventIds, kinds } = message as ChangeMessages["events.created"];
    if (eventIds.length > 1) {
      const half = Math.ceil(eventIds.length / 2);
      return [
        ...envelopes(origin, topic, { eventIds: eventIds.slice(0, half), kinds: kinds.slice(0, half) }),
        ...envelopes(origin, topic, { eventIds: eventIds.slice(half), kinds: kinds.slice(half) }),
      ];
    }
  }
  // too large to say precisely: "something changed, drop your caches" is always true
  return [JSON.stringify({ origin, topic: "store.external", message: {} })];
}

export class PgChangeFeed implements ChangeFeed {
  private readonly handlers = new Set<Handler>();
  private subscription: SQL.ListenSubscription | null = null;
  private listening = false;
  /** LISTEN acknowledgements so far: every one after the first follows a lost connection */
  private acknowledged = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(
    private readonly db: SQL,
    /** this process's id: its own notifications come back and are dropped */
    readonly origin: string,
    private readonly log?: ChangeFeedLog,
  ) {}

  publish<K extends ChangeTopic>(topic: K, message: ChangeMessages[K]): void {
    if (this.closed) return;
    for (const payload of envelopes(this.origin, topic, message))
      this.db.notify(CHANGES_CHANNEL, payload).catch((e: Error) => {
        // best effort: the database stays the truth, and a listener that missed messages while
        // the database was away hears "store.external" when it re-subscribes
        this.log?.warn("change feed: notify failed", { topic, error: e.message });
      });
  }

  subscribe(handler: Handler): () => void {
    this.handlers.add(handler);
    if (!this.listening) this.listen();
    return () => {
      this.handlers.delete(handler);
    };
  }

  /** Resolves once LISTEN is acknowledged (tests and start-up use it). */
  async ready(): Promise<void> {
    if (!this.listening) this.listen();
    while (!this.subscription && !this.closed) await Bun.sleep(10);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const sub = this.subscription;
    this.subscription = null;
    await sub?.unlisten().catch(() => {});
  }

  private listen(): void {
    this.listening = true;
    this.db
      .listen(
        CHANGES_CHANNEL,
        (payload) => this.receive(payload),
        () => {
          if (this.acknowledged++ > 0) this.deliver("store.external", {});
        },
      )
      .then(
        (sub) => {
          if (this.closed) void sub.unlisten().catch(() => {});
          else this.subscription = sub;
        },
        (e: Error) => {
          // the database is away at start-up: try again until it is back
          this.log?.warn("change feed: listen failed, retrying", { error: e.message });
          if (!this.closed) this.retry = setTimeout(() => this.listen(), RETRY_LISTEN_MS);
        },
      );
  }

  private receive(payload: string): void {
    let parsed: { origin?: unknown; topic?: unknown; message?: unknown };
    try {
      parsed = JSON.parse(payload);
    } catch {
      return; // not ours
    }
    if (parsed.origin === this.origin || typeof parsed.topic !== "string") return;
    this.deliver(parsed.topic as ChangeTopic, parsed.message as ChangeMessages[ChangeTopic]);
  }

  private deliver<K extends ChangeTopic>(topic: K, message: ChangeMessages[K]): void {
    for (const h of this.handlers) {
      try {
        h(topic, message);
      } catch (e) {
        // one broken subscriber must not stop the others
        this.log?.warn("change feed: subscriber failed", { topic, error: (e as Error).message });
      }
    }
  }
}
