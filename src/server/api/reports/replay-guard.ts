/**
 * Refuses a nonce a client has used before, for as long as its timestamp could still pass the
 * freshness check. Memory answers "seen before?"; the database keeps a log of what was
 * accepted, one row per commit, so a restart remembers too.
 *
 * Why not a (client, nonce) primary key, as before: every report's insert landed on a random
 * page of a growing B-tree, the largest single cost of an unchanged report. Now the nonces a
 * commit accepted are appended as one row (persist(), called just before the commit).
 */
import type { NonceRepository } from "../../store/index.ts";
import { nonceHash } from "../../store/nonce-hash.ts";

const PRUNE_EVERY_MS = 5_000;

/**
 * Nonce hashes with an expiry each (to the second), in typed arrays with open addressing: ~40
 * bytes per nonce where a Map took ~120 (10,000 clients at 30 s keep ~100,000; a max-rate
 * burst millions).
 */
export class ExpiringHashSet {
  /** hash + 1 (0 = empty slot, -1 = removed) */
  private keys: Float64Array;
  /** seconds since the epoch, rounded up */
  private expiries: Uint32Array;
  private used = 0; // occupied or removed slots
  private count = 0;

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

  /** Drops every entry that expired before `now` (and the removed slots). */
  prune(now: number): void {
    this.rebuild(Math.ceil(now / 1000), this.size * 3);
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

export class ReplayGuard {
  /** nonce hashes and their expiry (ms) */
  private readonly seen = new ExpiringHashSet();
  /** accepted since the last persist() */
  private unwritten: number[] = [];
  private unwrittenExpiry = 0;
  private prunedAt = 0;

  constructor(private readonly log: NonceRepository) {}

  /** Reads the log again: at start, and after a commit failed (memory may hold rolled-back nonces). */
  load(now: number): void {
    this.seen.clear();
    this.unwritten = [];
    for (const { hashes, expiresAt } of this.log.live(now))
      for (const hash of hashes) this.seen.add(hash, expiresAt);
  }

  /**
   * Records the nonce; false when it was used before (a replay). Call inside the transaction
   * that stores the report, `persist` before it commits, and `forget` the nonce if the work fails.
   */
  use(clientId: string, nonce: string, expiresAt: number, now: number): boolean {
    if (now - this.prunedAt >= PRUNE_EVERY_MS) this.prune(now);
    const hash = nonceHash(clientId, nonce);
    if (this.seen.has(hash)) return false;
    this.seen.add(hash, expiresAt);
    this.unwritten.push(hash);
    this.unwrittenExpiry = Math.max(this.unwrittenExpiry, expiresAt);
    return true;
  }

  /** The write that used the nonce failed, so the nonce was never used. */
  forget(clientId: string, nonce: string): void {
    this.seen.delete(nonceHash(clientId, nonce));
  }

  /** Appends the nonces accepted since the last call as one log row (in the caller's transaction). */
  persist(): void {
    const hashes = this.unwritten.filter((h) => this.seen.has(h));
    if (hashes.length) this.log.append(hashes, this.unwrittenExpiry);
    this.unwritten = [];
    this.unwrittenExpiry = 0;
  }

  get size(): number {
    return this.seen.size;
  }

  /** Memory only; the sweeper prunes the log (store.nonces.prune). */
  private prune(now: number): void {
    this.prunedAt = now;
    this.seen.prune(now);
  }
}
