/**
 * Clients in memory for the report path, so an unchanged heartbeat costs no database read.
 * The database stays the truth: our own writers update or forget entries (broker
 * "client.changed"), and writes by other processes (the CLI adding, removing or rotating a
 * client) are noticed through SQLite's data_version, which clears the cache.
 */
import type { Broker } from "./broker.ts";
import type { ClientRecord, Store } from "./store/index.ts";

const MAX_ENTRIES = 100_000;
const CHECK_EVERY_MS = 100;

export class ClientCache {
  private readonly records = new Map<string, ClientRecord>();
  private seenVersion: number;
  private checkedAt = 0;

  constructor(
    private readonly store: Store,
    broker: Broker,
  ) {
    this.seenVersion = store.clients.externalChangeCounter();
    broker.subscribe("client.changed", ({ clientId }) => this.forget(clientId));
  }

  get(id: string): ClientRecord | null {
    // Asking SQLite is a statement per report; once every 100 ms sees CLI changes soon enough.
    const t = Date.now();
    if (t - this.checkedAt >= CHECK_EVERY_MS) {
      this.checkedAt = t;
      const version = this.store.clients.externalChangeCounter();
      if (version !== this.seenVersion) {
        this.records.clear();
        this.seenVersion = version;
      }
    }
    const cached = this.records.get(id);
    if (cached) return cached;
    const loaded = this.store.clients.get(id);
    if (loaded) this.set(loaded);
    return loaded;
  }

  /** Reads the client from the store again (e.g. its secret failed: the CLI may have rotated it). */
  reload(id: string): ClientRecord | null {
    const loaded = this.store.clients.get(id);
    if (loaded) this.set(loaded);
    else this.forget(id);
    return loaded;
  }

  /**
   * Replaces the entry after a committed write. The report path never reads a client's last
   * report, so the cache does not keep it (10,000 of them are ~6 MB).
   */
  set(record: ClientRecord): void {
    if (this.records.size >= MAX_ENTRIES && !this.records.has(record.id)) this.records.clear();
    this.records.set(record.id, record.lastReport === null ? record : { ...record, lastReport: null });
  }

  forget(id: string): void {
    this.records.delete(id);
  }

  /** After a failed commit: what the cache holds may never have reached the disk. */
  clear(): void {
    this.records.clear();
  }
}
