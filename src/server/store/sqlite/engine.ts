/**
 * The SQLite engine's connection discipline. bun:sqlite has one synchronous connection, and
 * the port is async: a transaction spans awaits, so other callers must not slip statements
 * into it. A mutex gives the connection to one transaction at a time; calls on the store's own
 * repositories run at once when no transaction is open and wait for it otherwise. Calls made
 * on the store inside a transaction (instead of on `tx`) would wait for themselves; they are
 * refused with an error that says so (AsyncLocalStorage knows which transaction a call is in).
 */

import type { Database } from "bun:sqlite";
import { AsyncLocalStorage } from "node:async_hooks";
import type { Runner } from "./sync.ts";
import { settle } from "./sync.ts";
import type { WalSync } from "./wal-sync.ts";

class Mutex {
  private held = false;
  private readonly waiting: (() => void)[] = [];

  get locked(): boolean {
    return this.held;
  }

  acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.held = false;
  }
}

/** What one open transaction must do when it commits or rolls back (nonces, see nonces.ts). */
export interface TransactionHooks {
  /** runs inside the transaction, just before COMMIT */
  beforeCommit(): void;
  /** the COMMIT succeeded */
  committed(): void;
  /** a savepoint was taken; returns a mark for rollbackTo */
  mark(): number;
  /** the writes since `mark` were rolled back */
  rollbackTo(mark: number): void;
}

export class TransactionMisuse extends Error {}

export interface TransactionMark {
  nonces: number;
  callbacks: number;
}

function runCallback(fn: () => void): void {
  try {
    fn();
  } catch {
    // an announcement that fails must not turn a committed transaction into an error
  }
}

interface OpenTransaction {
  engine: SqliteEngine;
}

const current = new AsyncLocalStorage<OpenTransaction>();

export class SqliteEngine {
  private readonly mutex = new Mutex();
  private open: OpenTransaction | null = null;
  /** the open transaction's afterCommit callbacks, in order (marks are lengths of this list) */
  private callbacks: (() => void)[] = [];
  private readonly begin;
  private readonly commit;
  private readonly rollback;
  private readonly savepoint;
  private readonly release;
  private readonly rollbackToSavepoint;
  private readonly relaxSync;
  private readonly restoreSync;
  private readonly totalChanges;

  constructor(
    readonly db: Database,
    private readonly hooks: TransactionHooks,
    /** a top-level transaction rolled back: in-memory views of its writes must be dropped */
    private readonly onRollback: (error: unknown) => void,
    /** the WAL's fsync off the event loop (wal-sync.ts); null for a database in memory */
    private readonly walSync: Pick<WalSync, "usable" | "sync" | "settled"> | null = null,
  ) {
    this.totalChanges = db.query<{ n: number }, []>("SELECT total_changes() AS n");
    this.relaxSync = db.query("PRAGMA synchronous = NORMAL");
    this.restoreSync = db.query("PRAGMA synchronous = FULL");
    this.begin = db.query("BEGIN IMMEDIATE");
    this.commit = db.query("COMMIT");
    this.rollback = db.query("ROLLBACK");
    this.savepoint = db.query("SAVEPOINT nested");
    this.release = db.query("RELEASE nested");
    this.rollbackToSavepoint = db.query("ROLLBACK TO nested");
  }

  /** Runs calls on the store's own repositories: at once, or after the open transaction. */
  readonly root: Runner = (call) => {
    if (this.open !== null && current.getStore() === this.open)
      return Promise.reject(
        new TransactionMisuse(
          "the store was used inside store.transaction(); use the transaction's repositories (tx) there",
        ),
      );
    if (!this.mutex.locked) return settle(call);
    return this.mutex.acquire().then(() => {
      try {
        return call();
      } finally {
        this.mutex.release();
      }
    });
  };

  /** Runs calls on a transaction's repositories: only inside that transaction. */
  readonly inTransaction: Runner = (call) => {
    if (this.open === null || current.getStore() !== this.open)
      return Promise.reject(
        new TransactionMisuse("a transaction's repositories were used after the transaction ended"),
      );
    return settle(call);
  };

  /**
   * `deferSync`: commit without fsync and resolve after the WAL's fsync ran in the thread pool
   * (wal-sync.ts), so the connection serves the next transaction meanwhile. Durable either way.
   */
  async transaction<T, Tx>(tx: Tx, fn: (tx: Tx) => Promise<T>, deferSync = false): Promise<T> {
    if (this.open !== null && current.getStore() === this.open)
      throw new TransactionMisuse("store.transaction() inside a transaction; nest with tx.transaction()");
    await this.mutex.acquire();
    const open: OpenTransaction = { engine: this };
    this.open = open;
    let result: T;
    let callbacks: (() => void)[];
    const walSync = deferSync && this.walSync?.usable ? this.walSync : null;
    let wrote = true;
    try {
      if (walSync) this.relaxSync.run();
      const changesBefore = walSync ? (this.totalChanges.get() as { n: number }).n : 0;
      this.begin.run();
      try {
        result = await current.run(open, () => fn(tx));
        this.hooks.beforeCommit();
        if (walSync) wrote = (this.totalChanges.get() as { n: number }).n !== changesBefore;
        this.commit.run();
        this.hooks.committed();
      } catch (e) {
        // SQLite may have rolled back already (a full disk, say); a failed COMMIT leaves it open
        if (this.db.inTransaction) this.rollback.run();
        this.rollbackTo({ nonces: 0, callbacks: 0 });
        this.onRollback(e);
        throw e;
      }
      callbacks = this.callbacks;
    } finally {
      if (walSync) this.restoreSync.run();
      this.callbacks = [];
      this.open = null;
      this.mutex.release();
    }
    // A failed fsync fails the callers (503: the clients send again), yet the commit is in
    // SQLite's view of the file, so the announcements of what it changed still go out.
    let syncError: unknown = null;
    if (walSync) await (wrote ? walSync.sync() : walSync.settled()).catch((e: unknown) => (syncError = e));
    // after the release: a callback may use the store
    for (const fn of callbacks) runCallback(fn);
    if (syncError) throw syncError;
    return result;
  }

  /** Registers a callback for after the open transaction's commit. */
  afterCommit(fn: () => void): void {
    if (this.open === null || current.getStore() !== this.open)
      throw new TransactionMisuse("afterCommit() outside its transaction");
    this.callbacks.push(fn);
  }

  /** Where the open transaction stands, to roll back to (a savepoint, a failed group-commit unit). */
  mark(): TransactionMark {
    return { nonces: this.hooks.mark(), callbacks: this.callbacks.length };
  }

  /** Forgets what the engine remembers of the writes after `mark` (they were rolled back). */
  rollbackTo(mark: TransactionMark): void {
    this.hooks.rollbackTo(mark.nonces);
    this.callbacks.length = mark.callbacks;
  }

  /** A savepoint inside the open transaction. */
  async nested<T, Tx>(tx: Tx, fn: (tx: Tx) => Promise<T>): Promise<T> {
    if (this.open === null || current.getStore() !== this.open)
      throw new TransactionMisuse("tx.transaction() outside its transaction");
    this.savepoint.run();
    const mark = this.mark();
    try {
      const result = await fn(tx);
      this.release.run();
      return result;
    } catch (e) {
      if (this.db.inTransaction) {
        this.rollbackToSavepoint.run();
        this.release.run();
      }
      this.rollbackTo(mark);
      throw e;
    }
  }

  /** True while a transaction holds the connection (for callers that batch around it). */
  get busy(): boolean {
    return this.mutex.locked;
  }
}
