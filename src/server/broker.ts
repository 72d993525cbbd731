/**
 * Publish/subscribe for things that just happened (after their transaction committed): the
 * dispatcher wakes on new outbox rows, the dashboard pushes SSE fragments, caches forget
 * entries. With a change feed (the store's), what is published here also reaches the other
 * processes that share the database, and what they publish arrives here. Delivery is best
 * effort; the database stays the source of truth.
 */
import type { ChangeFeed, ChangeMessages } from "./store/index.ts";

export type BrokerMessages = ChangeMessages;

type Handler<K extends keyof BrokerMessages> = (msg: BrokerMessages[K]) => void;

/** A message as delivered, for a page that asks what it missed. */
export type Delivered = {
  [K in keyof BrokerMessages]: { topic: K; message: BrokerMessages[K] };
}[keyof BrokerMessages];

/** Deliveries kept for since(): at 1,000 clients every 30 s, about 30 s of reports. */
const RECENT = 1024;

export class Broker {
  private readonly handlers = new Map<keyof BrokerMessages, Set<Handler<never>>>();
  private readonly unsubscribeFeed: (() => void) | null;
  /** this process's broker, so a mark from another replica (or an earlier run) is not mistaken for ours */
  private readonly id = crypto.randomUUID().slice(0, 8);
  private delivered = 0;
  private readonly recent: Delivered[] = new Array(RECENT);

  constructor(private readonly feed: ChangeFeed | null = null) {
    this.unsubscribeFeed = feed?.subscribe((topic, message) => this.deliver(topic, message)) ?? null;
  }

  subscribe<K extends keyof BrokerMessages>(topic: K, handler: Handler<K>): () => void {
    let set = this.handlers.get(topic);
    if (!set) {
      set = new Set();
      this.handlers.set(topic, set);
    }
    set.add(handler as Handler<never>);
    return () => set.delete(handler as Handler<never>);
  }

  publish<K extends keyof BrokerMessages>(topic: K, msg: BrokerMessages[K]): void {
    this.deliver(topic, msg);
    this.feed?.publish(topic, msg);
  }

  /**
   * Where delivery stands now. A page takes it before it reads what it shows, and its event
   * stream hands it back (since) to learn what changed in between: a page is never left showing
   * what a change it did not hear about replaced.
   */
  mark(): string {
    return `${this.id}.${this.delivered}`;
  }

  /** What was delivered after `mark`, oldest first; null when that is not known here (too long ago, another process). */
  since(mark: string): Delivered[] | null {
    const [id, count] = mark.split(".");
    const from = Number(count);
    if (
      id !== this.id ||
      !Number.isInteger(from) ||
      from > this.delivered ||
      from < Math.max(0, this.delivered - RECENT)
    )
      return null;
    const missed: Delivered[] = [];
    for (let n = from; n < this.delivered; n++) missed.push(this.recent[n % RECENT] as Delivered);
    return missed;
  }

  subscriberCount(topic: keyof BrokerMessages): number {
    return this.handlers.get(topic)?.size ?? 0;
  }

  /** Stops listening to the change feed. */
  close(): void {
    this.unsubscribeFeed?.();
  }

  private deliver<K extends keyof BrokerMessages>(topic: K, msg: BrokerMessages[K]): void {
    this.recent[this.delivered++ % RECENT] = { topic, message: msg } as Delivered;
    for (const h of this.handlers.get(topic) ?? []) {
      try {
        (h as Handler<K>)(msg);
      } catch {
        // one broken subscriber must not stop the others or the publisher
      }
    }
  }
}
