/**
 * SQLite's change feed. One server process owns the database, so there is nobody to tell; but
 * the CLI writes to the same file (adds, removes, rotates clients). PRAGMA data_version moves
 * when another connection commits: polled a few times a second, it becomes "store.external",
 * and the caches that listen drop what they hold. The engine also says "store.external" when
 * one of its own transactions rolled back, since caches may hold what it wrote.
 */
import type { Database } from "bun:sqlite";
import type { ChangeFeed, ChangeMessages, ChangeTopic } from "../types.ts";

type Handler = <K extends ChangeTopic>(topic: K, message: ChangeMessages[K]) => void;

const POLL_MS = 100;

export class SqliteChangeFeed implements ChangeFeed {
  private readonly handlers = new Set<Handler>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private seenVersion = 0;

  constructor(
    private readonly db: Database,
    /** false while a transaction holds the connection (the poll must not slip into it) */
    private readonly idle: () => boolean,
  ) {}

  publish(): void {
    // no other process listens
  }

  subscribe(handler: Handler): () => void {
    this.handlers.add(handler);
    if (!this.timer) {
      this.seenVersion = this.version();
      this.timer = setInterval(() => this.poll(), POLL_MS);
      this.timer.unref?.();
    }
    return () => {
      this.handlers.delete(handler);
      if (this.handlers.size === 0) this.close();
    };
  }

  /** Tells every subscriber to drop what it caches. */
  external(): void {
    for (const h of this.handlers) {
      try {
        h("store.external", {});
      } catch {
        // one broken subscriber must not stop the others
      }
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private poll(): void {
    if (!this.idle()) return;
    try {
      const v = this.version();
      if (v === this.seenVersion) return;
      this.seenVersion = v;
    } catch {
      return; // a closed or broken database: its own errors are reported elsewhere
    }
    this.external();
  }

  private version(): number {
    return (this.db.query("PRAGMA data_version").get() as { data_version: number }).data_version;
  }
}
