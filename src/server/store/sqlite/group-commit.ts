/**
 * Group commit: report writes made in the same event-loop turn share one transaction, so one
 * fsync covers every request read in that turn: under load a turn reads many, and idle nothing
 * waits. The fsync runs in the thread pool (wal-sync.ts) while the next turn's group is judged. A unit of work must be atomic by itself (its writes in one
 * tx.transaction, a savepoint), so one that fails leaves nothing behind while the others
 * commit; most units (an unchanged report) write nothing, and a savepoint each cost two
 * statements per report. What a failed unit left in memory (nonces,
 * afterCommit callbacks) is forgotten. A failed commit fails
 * them all. Callers answer only after the commit, so an acknowledged report is on disk.
 */
import type { GroupCommit, Transaction } from "../types.ts";
import type { TransactionMark } from "./engine.ts";

interface Pending {
  work: (tx: Transaction) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class SqliteGroupCommit implements GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  /** groups being committed or waiting for their fsync */
  private syncing = 0;

  constructor(
    private readonly transaction: <T>(fn: (tx: Transaction) => Promise<T>) => Promise<T>,
    private readonly marks: { mark(): TransactionMark; rollbackTo(mark: TransactionMark): void },
    private readonly maxBatch = 512,
  ) {}

  run<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
      if (this.queue.length >= this.maxBatch) void this.flush();
      else if (this.syncing === 0) this.schedule();
      // else: the group waits for the fsync under way; its own fsync could not start sooner,
      // and meanwhile more reports join it (fewer, larger commits under load)
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => void this.flush());
  }

  async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const outcomes: Outcome[] = [];
    this.syncing++;
    try {
      await this.transaction(async (tx) => {
        for (const item of batch) {
          const mark = this.marks.mark();
          try {
            outcomes.push({ ok: true, value: await item.work(tx) });
          } catch (error) {
            this.marks.rollbackTo(mark);
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    } finally {
      if (--this.syncing === 0 && this.queue.length > 0) this.schedule();
    }
    batch.forEach((item, i) => {
      const o = outcomes[i] as Outcome;
      if (o.ok) item.resolve(o.value);
      else item.reject(o.error);
    });
  }
}
