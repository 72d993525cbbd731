/**
 * In-process publish/subscribe for things that just happened (after their transaction
 * committed): the dispatcher wakes on new outbox rows, the dashboard pushes SSE fragments.
 * Delivery is best effort; the database stays the source of truth.
 */
export interface BrokerMessages {
  /** a report was accepted (state may or may not have changed) */
  "client.updated": { clientId: string; changed: boolean };
  /** a client was added, removed or its settings changed */
  "client.changed": { clientId: string };
  /** events were stored (ids ascending) */
  /** one transaction's events: their ids and, in the same order, their kinds */
  "events.created": { eventIds: number[]; kinds: string[] };
  /** notification rows were queued */
  "outbox.enqueued": { count: number };
}

type Handler<K extends keyof BrokerMessages> = (msg: BrokerMessages[K]) => void;

export class Broker {
  private readonly handlers = new Map<keyof BrokerMessages, Set<Handler<never>>>();

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
    for (const h of this.handlers.get(topic) ?? []) {
      try {
        (h as Handler<K>)(msg);
      } catch {
        // one broken subscriber must not stop the others or the publisher
      }
    }
  }

  subscriberCount(topic: keyof BrokerMessages): number {
    return this.handlers.get(topic)?.size ?? 0;
  }
}
