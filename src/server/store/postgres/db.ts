import type { SQL, TransactionSQL } from "bun";

/** True for the client of an open transaction or savepoint (it can make savepoints). */
export const inTransaction = (db: SQL): db is TransactionSQL =>
  typeof (db as Partial<TransactionSQL>).savepoint === "function";

/**
 * Runs several statements as one unit: a transaction on the pool, a savepoint inside an open
 * transaction (so a failure undoes only this unit, as the caller would expect of one method).
 */
export function atomically<T>(db: SQL, fn: (tx: TransactionSQL) => Promise<T>): Promise<T> {
  return (inTransaction(db) ? db.savepoint(fn) : db.begin(fn)) as Promise<T>;
}

/** The database's clock in ms since the epoch (leases compare against one clock, not each replica's). */
export const DB_NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";
