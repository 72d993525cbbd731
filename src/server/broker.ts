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

export class Broker {
  private readonly handlers = new Map<keyof BrokerMessages, Set<Handler<never>>>();
  private readonly unsubscribeFeed: (() => void) | null;

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

  subscriberCount(topic: keyof BrokerMessages): number {
    return this.handlers.get(topic)?.size ?? 0;
  }

  /** Stops listening to the change feed. */
  close(): void {
    this.unsubscribeFeed?.();
  }

  private deliver<K extends keyof BrokerMessages>(topic: K, msg: BrokerMessages[K]): void {
    for (const h of this.handlers.get(topic) ?? []) {
      try {
        (h as Handler<K>)(msg);
      } catch {
        // one broken subscriber must not stop the others or the publisher
      }
    }
  }
}
