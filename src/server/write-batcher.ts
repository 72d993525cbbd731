/**
 * Group commit: report writes made in the same event-loop turn share one transaction, so one
 * fsync (synchronous=FULL) covers every request read in that turn: under load a turn reads
 * many, and idle nothing waits. A unit of work must be atomic by itself (its writes in one
 * store.transaction, which nests as a savepoint), so one that fails leaves nothing behind while
 * the others commit; most units (an unchanged report) write nothing, and a savepoint each cost
 * two statements per report. A failed commit fails them all. Callers answer only after the
 * commit, so an acknowledged report is on disk.
 */
import type { Store } from "./store/index.ts";

interface Pending {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class WriteBatcher {
  private queue: Pending[] = [];
  private scheduled = false;
  private readonly beforeCommit: (() => void)[] = [];

  constructor(
    private readonly store: Store,
    /** the commit failed: in-memory views of what was written must be dropped */
    private readonly onCommitFailure: (error: unknown) => void = () => {},
    private readonly maxBatch = 512,
  ) {}

  /** Runs `fn` inside every batch's transaction, after its units and before the commit. */
  onBeforeCommit(fn: () => void): void {
    this.beforeCommit.push(fn);
  }

  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
      if (this.queue.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Runs everything queued in one transaction now. */
  flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      this.store.transaction(() => {
        for (const item of batch) {
          try {
            outcomes.push({ ok: true, value: item.work() });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
        for (const fn of this.beforeCommit) fn();
      });
    } catch (error) {
      this.onCommitFailure(error);
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => {
      const o = outcomes[i];
      if (o?.ok) item.resolve(o.value);
      else item.reject(o?.error);
    });
  }
}
