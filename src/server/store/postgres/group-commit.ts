/**
 * Group commit on PostgreSQL: the reports that arrive in one event-loop turn share one
 * transaction on one connection, and the statements nearly every report makes are made once
 * for all of them, set-based: one INSERT for their nonces, one SELECT … FOR UPDATE for their
 * clients, one UPDATE for their heartbeats, one COMMIT (one WAL flush). An unchanged report
 * costs a share of five statements instead of five of its own.
 *
 * The units of a batch run concurrently, each against a Transaction of its own that gathers
 * those three calls (nonces.use, clients.getForUpdate, clients.heartbeat) from every unit
 * waiting on one and answers them from the shared statement (clients.lockColumns, what an
 * unchanged report reads, is gathered with getForUpdate). Everything else a unit does (a
 * changed report's writes, in tx.transaction, a savepoint) runs alone on the connection, in
 * turn, after the heartbeats gathered so far are written (so rows are read and written in the
 * order the units asked).
 *
 * A unit that fails leaves nothing behind, as a transaction of its own would: its savepoints
 * rolled back, its gathered heartbeat dropped, its fresh nonces deleted again, its afterCommit
 * callbacks never run; its neighbours commit. A unit that fails after writing outside a
 * savepoint cannot be undone alone: then the whole batch rolls back and its neighbours fail
 * as a storage failure (503, send again). A failed commit fails them all. Callers answer only
 * after the commit, so an acknowledged report is on disk.
 */
import type { TransactionSQL } from "bun";
import { BatchAborted, StoreOverloaded, storageFailure } from "../errors.ts";
import type { ClientColumns, ClientRecord, Heartbeat, Transaction } from "../types.ts";
import { AfterCommit } from "./after-commit.ts";
import { heartbeatClients, lockClients } from "./clients.ts";
import { forgetNonces, nonceKey, useNonces } from "./repositories.ts";

export interface GroupCommitOptions {
  /** batches committing at once, each on a connection of its own */
  concurrent: number;
  /** reports in one batch at most */
  maxBatch: number;
  /** reports waiting for a batch beyond which a new one is refused at once (503 + Retry-After) */
  maxWaiting: number;
}

interface Pending {
  work: (tx: Transaction) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class PgGroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  private running = 0;

  constructor(
    private readonly begin: <T>(fn: (sql: TransactionSQL) => Promise<T>) => Promise<T>,
    /** a plain transaction over `sql` whose afterCommit callbacks go to `after` */
    private readonly open: (sql: TransactionSQL, after: AfterCommit) => Transaction,
    private readonly options: GroupCommitOptions,
  ) {}

  run<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
    if (this.queue.length >= this.options.maxWaiting)
      return Promise.reject(
        new StoreOverloaded(`${this.queue.length} reports are waiting for the database already`),
      );
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  /** At the end of this turn (every request read in it has queued), start what a free connection can take. */
  private schedule(): void {
    if (this.scheduled || this.running >= this.options.concurrent || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.running < this.options.concurrent && this.queue.length > 0) {
        this.running++;
        void this.commit(this.queue.splice(0, this.options.maxBatch)).finally(() => {
          this.running--;
          this.schedule();
        });
      }
    });
  }

  private async commit(pending: Pending[]): Promise<void> {
    let units: Unit[] = [];
    try {
      await this.begin(async (sql) => {
        const batch = new Batch(sql);
        units = pending.map((p) => {
          const after = new AfterCommit();
          return new Unit(p, batch, after, this.open(sql, after));
        });
        await Promise.all(units.map((u) => u.run()));
        await batch.finish(units);
      });
    } catch (error) {
      // nothing of this batch is stored: each unit fails with its own error, or the batch's (also
      // a unit still working: a connection that died ends the transaction without waiting for it)
      const shared = storageFailure(error) === null ? new BatchAborted(error) : error;
      pending.forEach((p, i) => {
        const outcome = units[i]?.outcome;
        p.reject(outcome && !outcome.ok ? outcome.error : shared);
      });
      return;
    }
    for (const u of units) {
      if (u.outcome?.ok) {
        u.after.run();
        u.pending.resolve(u.outcome.value);
      } else u.pending.reject(u.outcome?.error);
    }
  }
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** One report's unit of work in a batch: what it wrote, and how it ended. */
class Unit {
  readonly tx: Transaction;
  /** nonce hashes this unit used (fresh): deleted again if it fails */
  readonly nonces: string[] = [];
  /** it wrote something that only the whole batch's rollback can undo */
  touched = false;
  /** inside its own tx.transaction: its outer tx must not be used meanwhile */
  inSection = false;
  /** unset while it works */
  outcome?: Outcome;
  /** settles when the unit has ended (after its gathered heartbeat was dropped, if it failed) */
  readonly ended: Promise<void>;
  private end!: () => void;

  constructor(
    readonly pending: Pending,
    private readonly batch: Batch,
    /** the unit's own afterCommit callbacks */
    readonly after: AfterCommit,
    /** a plain transaction on the batch's connection whose callbacks go to `after` */
    readonly plain: Transaction,
  ) {
    this.tx = batch.transactionFor(this);
    this.ended = new Promise((resolve) => {
      this.end = resolve;
    });
  }

  async run(): Promise<void> {
    try {
      this.outcome = { ok: true, value: await this.pending.work(this.tx) };
    } catch (error) {
      this.outcome = { ok: false, error };
      this.after.ended = true;
      this.batch.dropHeartbeats(this);
    } finally {
      this.end();
    }
  }
}

const GATHERED: Record<string, readonly string[]> = {
  nonces: ["use"],
  clients: ["getForUpdate", "lockColumns", "heartbeat"],
};

/** One batch's connection: gathered statements, and everything else one at a time. */
class Batch {
  /** the tail of the work on the connection: everything that is not gathered runs after it */
  private tail: Promise<unknown> = Promise.resolve();
  private gathering = false;
  private nonceUses: { unit: Unit; hash: string; expiresAt: number; now: number; done: Settle<boolean> }[] =
    [];
  private locks: { id: string; whole: boolean; done: Settle<ClientRecord | ClientColumns | null> }[] = [];
  /** the last unit that read each client locked: the next one waits for it to end */
  private readonly lockedBy = new Map<string, Unit>();
  /** heartbeats gathered and not written yet: the last one per client wins */
  private readonly beats = new Map<string, { unit: Unit; beat: Heartbeat }>();

  constructor(private readonly sql: TransactionSQL) {}

  /** The Transaction a unit sees: the gathered calls, and the rest of its plain transaction in turn. */
  transactionFor(unit: Unit): Transaction {
    const repositories = new Map<PropertyKey, unknown>();
    const batch = this;
    const checkOutside = () => {
      if (unit.inSection) throw new Error("inside tx.transaction(), use the transaction it passes");
    };
    return new Proxy(unit.plain, {
      get(plain, prop) {
        if (prop === "transaction")
          return <T>(fn: (tx: Transaction) => Promise<T>) => {
            checkOutside();
            return batch.section(unit, fn);
          };
        if (prop === "afterCommit")
          return (fn: () => void) => {
            checkOutside();
            plain.afterCommit(fn);
          };
        let repository = repositories.get(prop);
        if (repository === undefined) {
          const real = (plain as unknown as Record<PropertyKey, Record<string, unknown>>)[prop];
          if (typeof real !== "object" || real === null) return real;
          const gathered = GATHERED[prop as string] ?? [];
          repository = new Proxy(real, {
            get(target, method) {
              const fn = target[method as string];
              if (typeof fn !== "function") return fn;
              return (...args: unknown[]) => {
                checkOutside();
                if (gathered.includes(method as string))
                  return batch.gathered(unit, `${String(prop)}.${String(method)}`, args);
                return batch.inTurn(async () => {
                  unit.touched = true;
                  return (fn as (...a: unknown[]) => unknown).apply(target, args);
                });
              };
            },
          });
          repositories.set(prop, repository);
        }
        return repository;
      },
    });
  }

  private gathered(unit: Unit, call: string, args: unknown[]): Promise<unknown> {
    if (call === "clients.heartbeat") {
      const [id, beat] = args as [string, Heartbeat];
      this.beats.delete(id); // re-inserted last: written in the order given
      this.beats.set(id, { unit, beat });
      return Promise.resolve();
    }
    if (call === "nonces.use")
      return new Promise((resolve, reject) => {
        const [clientId, nonce, expiresAt, now] = args as [string, string, number, number];
        const hash = nonceKey(clientId, nonce).toString();
        this.nonceUses.push({ unit, hash, expiresAt, now, done: { resolve, reject } });
        this.gather();
      });
    return this.lockFor(unit, args[0] as string, call === "clients.getForUpdate");
  }

  /**
   * Two reports of one client in a batch are judged one after the other, as in transactions of
   * their own: the second reads the client once the first has ended, and sees what it wrote.
   * (A report locks one client: two units locking two clients each, in opposite orders, would
   * wait for each other here.)
   */
  private async lockFor(
    unit: Unit,
    id: string,
    whole: boolean,
  ): Promise<ClientRecord | ClientColumns | null> {
    const before = this.lockedBy.get(id);
    this.lockedBy.set(id, unit);
    if (before && before !== unit) await before.ended;
    return new Promise((resolve, reject) => {
      this.locks.push({ id, whole, done: { resolve, reject } });
      this.gather();
    });
  }

  /** Once every unit that can go on has asked (the end of this turn), one statement per kind. */
  private gather(): void {
    if (this.gathering) return;
    this.gathering = true;
    setImmediate(() => {
      this.gathering = false;
      const uses = this.nonceUses.splice(0);
      const locks = this.locks.splice(0);
      if (uses.length) void this.inTurn(() => this.useNonces(uses)).catch((e) => rejectAll(uses, e));
      if (locks.length) void this.inTurn(() => this.lock(locks)).catch((e) => rejectAll(locks, e));
    });
  }

  private async useNonces(uses: Batch["nonceUses"]): Promise<void> {
    // a hash twice in one statement is an error: the first use in the batch wins, as it would in turn
    const first = new Map<string, Batch["nonceUses"][number]>();
    for (const u of uses) if (!first.has(u.hash)) first.set(u.hash, u);
    const fresh = await useNonces(this.sql, [...first.values()], Math.min(...uses.map((u) => u.now)));
    for (const u of uses) {
      const used = first.get(u.hash) === u && fresh.has(u.hash);
      if (used) u.unit.nonces.push(u.hash);
      u.done.resolve(used);
    }
  }

  private async lock(locks: Batch["locks"]): Promise<void> {
    const rows = await lockClients(
      this.sql,
      [...new Set(locks.map((l) => l.id))],
      new Set(locks.filter((l) => l.whole).map((l) => l.id)),
    );
    for (const l of locks) {
      const row = rows.get(l.id) ?? null;
      const beat = this.beats.get(l.id)?.beat;
      l.done.resolve(row && beat ? { ...row, ...beat } : row);
    }
  }

  /**
   * A unit's own savepoint, alone on the connection; it counts as written once it commits. The
   * heartbeats gathered before it are written first, the unit's own inside the savepoint (undone
   * with it).
   */
  private section<T>(unit: Unit, fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.inTurn(async () => {
      unit.inSection = true;
      try {
        const own = this.takeHeartbeats(unit);
        const value = await unit.plain.transaction(async (inner) => {
          for (const [id, beat] of own) await inner.clients.heartbeat(id, beat);
          return fn(inner);
        });
        unit.touched = true;
        return value;
      } finally {
        unit.inSection = false;
      }
    }, unit);
  }

  /** Runs `fn` alone on the connection, after what is queued and the heartbeats gathered so far (but `own`'s). */
  private inTurn<T>(fn: () => Promise<T>, own?: Unit): Promise<T> {
    const run = this.tail.then(async () => {
      const beats = [...this.beats].filter(([, b]) => b.unit !== own);
      if (beats.length) {
        for (const [id, { unit }] of beats) {
          this.beats.delete(id);
          unit.touched = true;
        }
        await heartbeatClients(
          this.sql,
          beats.map(([id, { beat }]) => [id, beat] as const),
        );
      }
      return fn();
    });
    this.tail = run.catch(() => {});
    return run;
  }

  /** The heartbeats `unit` gathered, no longer gathered. */
  private takeHeartbeats(unit: Unit): [string, Heartbeat][] {
    const own = [...this.beats].filter(([, b]) => b.unit === unit);
    for (const [id] of own) this.beats.delete(id);
    return own.map(([id, { beat }]) => [id, beat]);
  }

  dropHeartbeats(unit: Unit): void {
    this.takeHeartbeats(unit);
  }

  /** Before the commit: the last heartbeats, and the failed units' nonces forgotten. */
  async finish(units: Unit[]): Promise<void> {
    const failed = units.filter((u) => !u.outcome?.ok);
    const stuck = failed.find((u) => u.touched);
    if (stuck) throw (stuck.outcome as { error: unknown }).error;
    const forget = failed.flatMap((u) => u.nonces);
    await this.inTurn(async () => {
      if (forget.length) await forgetNonces(this.sql, forget);
    });
  }
}

interface Settle<T> {
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function rejectAll(waiting: { done: Settle<never> }[], error: unknown): void {
  for (const w of waiting) w.done.reject(error);
}
