/**
 * Group commit: report writes made in the same event-loop turn share one transaction, so one
 * fsync covers every request read in that turn: under load a turn reads many, and idle nothing
 * waits. The fsync runs in the thread pool (wal-sync.ts) while the next group gathers. A unit
 * of work must be atomic by itself (its writes in one
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
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly transaction: <T>(fn: (tx: Transaction) => Promise<T>) => Promise<T>,
    private readonly marks: { mark(): TransactionMark; rollbackTo(mark: TransactionMark): void },
    private readonly maxBatch = 512,
  ) {}

  run<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
      if (this.queue.length >= this.maxBatch) void this.commitQueued();
      else if (this.inFlight.size === 0) this.schedule();
      // else: the group waits for the fsync under way; its own fsync could not start sooner,
      // and meanwhile more reports join it (fewer, larger commits under load)
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => void this.commitQueued());
  }

  /** Commits what is queued now; resolves once every group committed so far is on disk. */
  async flush(): Promise<void> {
    await this.commitQueued();
    await Promise.all(this.inFlight);
  }

  private commitQueued(): Promise<void> {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return Promise.resolve();
    const group = this.commit(batch).finally(() => {
      this.inFlight.delete(group);
      if (this.inFlight.size === 0 && this.queue.length > 0) this.schedule();
    });
    this.inFlight.add(group);
    return group;
  }

  /** One transaction for the batch; settles every caller, never rejects itself. */
  private async commit(batch: Pending[]): Promise<void> {
    const outcomes: Outcome[] = [];
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
    }
    batch.forEach((item, i) => {
      const o = outcomes[i] as Outcome;
      if (o.ok) item.resolve(o.value);
      else item.reject(o.error);
    });
  }
}
