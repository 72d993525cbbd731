/**
 * Refuses a nonce a client has used before, for as long as its timestamp could still pass the
 * freshness check. Memory answers "seen before?"; the database keeps an append-only log of
 * what was accepted, so a restart remembers too.
 *
 * Why not a (client, nonce) primary key, as before: every report's insert landed on a random
 * page of a growing B-tree, the largest single cost of an unchanged report. Appending a row
 * touches the last page only.
 */
import type { NonceRepository } from "../../store/index.ts";

import { nonceHash } from "../../store/nonce-hash.ts";

const PRUNE_EVERY_MS = 5_000;

export class ReplayGuard {
  /** nonce hash → expiry (ms) */
  private readonly seen = new Map<number, number>();
  private prunedAt = 0;

  constructor(private readonly log: NonceRepository) {}

  /** Reads the log again: at start, and after a commit failed (memory may hold rolled-back nonces). */
  load(now: number): void {
    this.seen.clear();
    for (const { hash, expiresAt } of this.log.live(now)) this.seen.set(hash, expiresAt);
  }

  /**
   * Records the nonce; false when it was used before (a replay). Call inside the transaction
   * that stores the report, and `forget` it if that work fails.
   */
  use(clientId: string, nonce: string, expiresAt: number, now: number): boolean {
    if (now - this.prunedAt >= PRUNE_EVERY_MS) this.prune(now);
    const hash = nonceHash(clientId, nonce);
    if (this.seen.has(hash)) return false;
    this.log.append(hash, expiresAt);
    this.seen.set(hash, expiresAt);
    return true;
  }

  /** The write that used the nonce rolled back, so the nonce was never used. */
  forget(clientId: string, nonce: string): void {
    this.seen.delete(nonceHash(clientId, nonce));
  }

  get size(): number {
    return this.seen.size;
  }

  /** Memory only; the sweeper prunes the log (store.nonces.prune). */
  private prune(now: number): void {
    this.prunedAt = now;
    for (const [hash, expiresAt] of this.seen) if (expiresAt < now) this.seen.delete(hash);
  }
}
