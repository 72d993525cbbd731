/**
 * PostgreSQL's change feed: every replica LISTENs on one channel and NOTIFYs it after its
 * commits; a listener drops its own origin (the caller delivers its own messages locally). A
 * replica that takes thousands of reports a second would send as many NOTIFYs, each a round
 * trip and a turn of PostgreSQL's notification queue: messages published within a few
 * milliseconds travel together, `{origin, messages: [[topic, message], …]}`, up to the payload
 * limit. Bun keeps the LISTEN connection alive and re-subscribes after it drops (a database
 * restart); what was sent while it was down is lost, so a re-subscription tells every
 * subscriber "store.external" (drop what you cache).
 */
import type { SQL } from "bun";
import type { ChangeFeed, ChangeMessages, ChangeTopic } from "../types.ts";

type Handler = <K extends ChangeTopic>(topic: K, message: ChangeMessages[K]) => void;
type Item = [ChangeTopic, unknown];

export const CHANGES_CHANNEL = "sentinel_changes";

/** PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more. */
const MAX_PAYLOAD_BYTES = 7_900;
/** How long a message may wait for others to travel with (well inside the 1 s promise). */
const BATCH_MS = 5;
const RETRY_LISTEN_MS = 1_000;

export interface ChangeFeedLog {
  warn(message: string, fields?: Record<string, unknown>): void;
}

const bytes = (s: string) => Buffer.byteLength(s);

/** One message as items that each fit a payload: a big events.created is split. */
export function splitMessage(topic: ChangeTopic, message: unknown, room = MAX_PAYLOAD_BYTES - 200): Item[] {
  if (bytes(JSON.stringify([topic, message])) <= room) return [[topic, message]];
  if (topic === "events.created") {
    const { eventIds, kinds } = message as ChangeMessages["events.created"];
    if (eventIds.length > 1) {
      const half = Math.ceil(eventIds.length / 2);
      return [
        ...splitMessage(topic, { eventIds: eventIds.slice(0, half), kinds: kinds.slice(0, half) }, room),
        ...splitMessage(topic, { eventIds: eventIds.slice(half), kinds: kinds.slice(half) }, room),
      ];
    }
  }
  // too large to say precisely: "something changed, drop your caches" is always true
  return [["store.external", {}]];
}

/** Items packed into as few payloads as fit, in order. */
export function pack(origin: string, items: readonly Item[]): string[] {
  const head = `{"origin":${JSON.stringify(origin)},"messages":[`;
  const payloads: string[] = [];
  let parts: string[] = [];
  let size = bytes(head) + 2;
  for (const item of items) {
    const part = JSON.stringify(item);
    const partBytes = bytes(part) + 1;
    if (parts.length && size + partBytes > MAX_PAYLOAD_BYTES) {
      payloads.push(`${head}${parts.join(",")}]}`);
      parts = [];
      size = bytes(head) + 2;
    }
    parts.push(part);
    size += partBytes;
  }
  if (parts.length) payloads.push(`${head}${parts.join(",")}]}`);
  return payloads;
}

export class PgChangeFeed implements ChangeFeed {
  private readonly handlers = new Set<Handler>();
  private subscription: SQL.ListenSubscription | null = null;
  private listening = false;
  /** LISTEN acknowledgements so far: every one after the first follows a lost connection */
  private acknowledged = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private queue: Item[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private sending: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: SQL,
    /** this process's id: its own notifications come back and are dropped */
    readonly origin: string,
    private readonly log?: ChangeFeedLog,
  ) {}

  publish<K extends ChangeTopic>(topic: K, message: ChangeMessages[K]): void {
    if (this.closed) return;
    this.queue.push(...splitMessage(topic, message));
    this.flushTimer ??= setTimeout(() => this.flush(), BATCH_MS);
  }

  /** Sends what is queued now (close and tests use it; otherwise a timer does). */
  flush(): Promise<unknown> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const items = this.queue;
    this.queue = [];
    for (const payload of pack(this.origin, items)) {
      const sent = this.db.notify(CHANGES_CHANNEL, payload).catch((e: Error) => {
        // best effort: the database stays the truth, and a listener that missed messages while
        // the database was away hears "store.external" when it re-subscribes
        this.log?.warn("change feed: notify failed", { messages: items.length, error: e.message });
      });
      this.sending = Promise.all([this.sending, sent]);
    }
    return this.sending;
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
    await this.flush();
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
    let parsed: { origin?: unknown; messages?: unknown };
    try {
      parsed = JSON.parse(payload);
    } catch {
      return; // not ours
    }
    if (parsed.origin === this.origin || !Array.isArray(parsed.messages)) return;
    for (const item of parsed.messages)
      if (Array.isArray(item) && typeof item[0] === "string")
        this.deliver(item[0] as ChangeTopic, item[1] as ChangeMessages[ChangeTopic]);
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
