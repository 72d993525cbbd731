/**
 * The SQLite engine's nonces: memory answers "seen before?"; the database keeps a log of what
 * was accepted, one row per commit, so a restart remembers too.
 *
 * Why not a (client, nonce) primary key: every report's insert landed on a random page of a
 * growing B-tree, the largest single cost of an unchanged report. Now the nonces a transaction
 * used are appended as one row just before it commits, and forgotten if it rolls back.
 */
import type { Database } from "bun:sqlite";
import { nonceHash } from "../nonce-hash.ts";
import type { NonceRepository } from "../types.ts";
import type { TransactionHooks } from "./engine.ts";
import { packHashes, unpackHashes } from "./nonce-log.ts";
import type { Sync } from "./sync.ts";

const PRUNE_EVERY_MS = 5_000;

/**
 * Nonce hashes with an expiry each (to the second), in typed arrays with open addressing: ~40
 * bytes per nonce where a Map took ~120 (10,000 clients at 30 s keep ~100,000; a max-rate
 * burst millions).
 *
 * Pruning marks expired slots removed in place; a new table is allocated only when adds fill
 * the old one or it has become mostly empty. (Allocating one per prune, every 5 s, left 6 MB of
 * dead arrays per prune at 100,000 nonces for the garbage collector, which frees them only in a
 * full collection: the server's memory peak grew by tens of MB between those.)
 */
export class ExpiringHashSet {
  /** hash + 1 (0 = empty slot, -1 = removed) */
  private keys: Float64Array;
  /** seconds since the epoch, rounded up */
  private expiries: Uint32Array;
  private used = 0; // occupied or removed slots
  private count = 0;
  /** how many tables were allocated (tests hold pruning to it) */
  rebuilds = 0;

  constructor(capacity = 1024) {
    this.keys = new Float64Array(capacity);
    this.expiries = new Uint32Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  has(hash: number): boolean {
    return this.slotOf(hash) !== -1;
  }

  add(hash: number, expiresAt: number): void {
    if ((this.used + 1) * 2 > this.keys.length) this.rebuild(0, this.size * 3);
    const mask = this.keys.length - 1;
    let i = hash % this.keys.length;
    while (this.keys[i] !== 0) i = (i + 1) & mask;
    this.keys[i] = hash + 1;
    this.expiries[i] = Math.ceil(expiresAt / 1000);
    this.used++;
    this.count++;
  }

  delete(hash: number): void {
    const i = this.slotOf(hash);
    if (i === -1) return;
    this.keys[i] = -1;
    this.count--;
  }

  clear(): void {
    this.keys = new Float64Array(1024);
    this.expiries = new Uint32Array(1024);
    this.used = 0;
    this.count = 0;
  }

  /** Drops every entry that expired before `now`. */
  prune(now: number): void {
    const keepFromS = Math.ceil(now / 1000);
    const { keys, expiries } = this;
    for (let i = 0; i < keys.length; i++)
      if ((keys[i] as number) > 0 && (expiries[i] as number) < keepFromS) {
        keys[i] = -1;
        this.count--;
      }
    // mostly empty after a burst: give the memory back
    if (keys.length > 1024 && this.count * 12 < keys.length) this.rebuild(0, this.count * 3);
  }

  private slotOf(hash: number): number {
    const mask = this.keys.length - 1;
    const key = hash + 1;
    for (let i = hash % this.keys.length; this.keys[i] !== 0; i = (i + 1) & mask)
      if (this.keys[i] === key) return i;
    return -1;
  }

  /** A fresh table (at least 1,024 slots, load <= 1/3) with the entries expiring at or after keepFromS. */
  private rebuild(keepFromS: number, wanted: number): void {
    const { keys, expiries } = this;
    let capacity = 1024;
    while (capacity < wanted) capacity *= 2;
    this.rebuilds++;
    this.keys = new Float64Array(capacity);
    this.expiries = new Uint32Array(capacity);
    this.used = 0;
    this.count = 0;
    const mask = capacity - 1;
    for (let j = 0; j < keys.length; j++) {
      const key = keys[j] as number;
      if (key <= 0 || (expiries[j] as number) < keepFromS) continue;
      let i = (key - 1) % capacity;
      while (this.keys[i] !== 0) i = (i + 1) & mask;
      this.keys[i] = key;
      this.expiries[i] = expiries[j] as number;
      this.used++;
      this.count++;
    }
  }
}

/**
 * Nonce memory plus its log. `inTransaction` is the repository a transaction sees: its uses
 * become one log row at commit (the engine calls the TransactionHooks). `autocommit` is the
 * store's own: each use is logged at once.
 */
export class SqliteNonces implements TransactionHooks {
  private readonly seen = new ExpiringHashSet();
  private loaded = false;
  private prunedAt = 0;
  /** used by the open transaction, in order (marks are lengths of this list) */
  private pending: number[] = [];
  private pendingExpiry = 0;

  readonly inTransaction: Sync<NonceRepository>;
  readonly autocommit: Sync<NonceRepository>;

  constructor(private readonly db: Database) {
    const prune = (now: number) => this.prune(now);
    this.inTransaction = {
      use: (clientId, nonce, expiresAt, now) => {
        const hash = this.take(clientId, nonce, expiresAt, now);
        if (hash === null) return false;
        this.pending.push(hash);
        this.pendingExpiry = Math.max(this.pendingExpiry, expiresAt);
        return true;
      },
      prune,
    };
    this.autocommit = {
      use: (clientId, nonce, expiresAt, now) => {
        const hash = this.take(clientId, nonce, expiresAt, now);
        if (hash === null) return false;
        this.append([hash], expiresAt);
        return true;
      },
      prune,
    };
  }

  get size(): number {
    return this.seen.size;
  }

  beforeCommit(): void {
    if (this.pending.length) this.append(this.pending, this.pendingExpiry);
  }

  committed(): void {
    this.pending = [];
    this.pendingExpiry = 0;
  }

  mark(): number {
    return this.pending.length;
  }

  rollbackTo(mark: number): void {
    for (const hash of this.pending.splice(mark)) this.seen.delete(hash);
    if (mark === 0) this.pendingExpiry = 0;
  }

  /** Memory after a restart: every log row not yet expired. */
  private load(now: number): void {
    this.loaded = true;
    const rows = this.db
      .query<{ hashes: Uint8Array; expiresAt: number }, [number]>(
        "SELECT hashes, expires_at AS expiresAt FROM nonce_log WHERE expires_at >= ?",
      )
      .all(now);
    for (const { hashes, expiresAt } of rows)
      for (const hash of unpackHashes(hashes)) this.seen.add(hash, expiresAt);
  }

  /** The nonce's hash, remembered; null when it was used before. */
  private take(clientId: string, nonce: string, expiresAt: number, now: number): number | null {
    if (!this.loaded) this.load(now);
    if (now - this.prunedAt >= PRUNE_EVERY_MS) {
      this.prunedAt = now;
      this.seen.prune(now);
    }
    const hash = nonceHash(clientId, nonce);
    if (this.seen.has(hash)) return null;
    this.seen.add(hash, expiresAt);
    return hash;
  }

  private append(hashes: readonly number[], expiresAt: number): void {
    this.db
      .query("INSERT INTO nonce_log (expires_at, hashes) VALUES (?, ?)")
      .run(expiresAt, packHashes(hashes));
  }

  private prune(now: number): number {
    this.seen.prune(now);
    return this.db.query("DELETE FROM nonce_log WHERE expires_at < ?").run(now).changes;
  }
}
