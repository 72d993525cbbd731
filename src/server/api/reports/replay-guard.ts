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

export class ReplayGuard {
  /** nonce hash → expiry (ms) */
  private readonly seen = new Map<number, number>();
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
      for (const hash of hashes) this.seen.set(hash, expiresAt);
  }

  /**
   * Records the nonce; false when it was used before (a replay). Call inside the transaction
   * that stores the report, `persist` before it commits, and `forget` the nonce if the work fails.
   */
  use(clientId: string, nonce: string, expiresAt: number, now: number): boolean {
    if (now - this.prunedAt >= PRUNE_EVERY_MS) this.prune(now);
    const hash = nonceHash(clientId, nonce);
    if (this.seen.has(hash)) return false;
    this.seen.set(hash, expiresAt);
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
    for (const [hash, expiresAt] of this.seen) if (expiresAt < now) this.seen.delete(hash);
  }
}
