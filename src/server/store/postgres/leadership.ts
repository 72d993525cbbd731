/**
 * Leadership on PostgreSQL: the replica whose session holds one advisory lock leads. The lock
 * lives on one connection this replica reserves for it alone (a pooled connection could be
 * handed to other work, or replaced silently after a drop). PostgreSQL frees the lock the
 * moment that session ends: a killed replica's socket closes, a lost network is noticed by TCP
 * keepalives. Followers try for the lock every `retryMs`.
 *
 * The leader writes a lease row (who, since when, heartbeat on the database's clock) for
 * operators and /readyz, and heartbeats on the lock's own connection: a heartbeat that fails
 * or hangs means the session (and the lock) may be gone, so the leader steps down at once and
 * closes that connection, which ends the session and frees the lock if it was still held.
 */
import { hostname } from "node:os";
import type { SQL } from "bun";
import type { Leadership } from "../types.ts";
import { DB_NOW_MS } from "./db.ts";

/** The advisory lock's key: any constant; advisory locks are per database. */
export const LEADER_LOCK_KEY = 0x5e47_1e1dn;

export interface LeadershipOptions {
  replicaId: string;
  /** how often a follower tries for the lock (ms) */
  retryMs?: number;
  /** how often the leader proves its session is alive (ms) */
  heartbeatMs?: number;
  /** a heartbeat that takes longer than this counts as lost (ms) */
  heartbeatTimeoutMs?: number;
  /** a lease row whose heartbeat is older than this is nobody's (ms) */
  leaseTtlMs?: number;
  log?: { info(message: string, fields?: Record<string, unknown>): void };
}

type Reserved = Awaited<ReturnType<SQL["reserve"]>>;

/** A replica id operators can read in the lease row: host, process, and a random tail. */
export const defaultReplicaId = () => `${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export class PgLeadership implements Leadership {
  private readonly retryMs: number;
  private readonly heartbeatMs: number;
  private readonly heartbeatTimeoutMs: number;
  private readonly leaseTtlMs: number;
  private conn: Reserved | null = null;
  private leading = false;
  private running = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private onChange: (leading: boolean) => void = () => {};
  /** the tick in progress, so stop() can wait for it */
  private ticking: Promise<void> = Promise.resolve();

  constructor(
    /** a client of its own (max 1 connection): the lock's connection is never the pool's */
    private readonly lockClient: SQL,
    /** the pool, for reading the lease */
    private readonly pool: SQL,
    private readonly options: LeadershipOptions,
  ) {
    this.retryMs = options.retryMs ?? 2_000;
    this.heartbeatMs = options.heartbeatMs ?? 2_000;
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 5_000;
    this.leaseTtlMs = options.leaseTtlMs ?? 15_000;
  }

  get replicaId(): string {
    return this.options.replicaId;
  }

  async start(onChange: (leading: boolean) => void): Promise<void> {
    this.onChange = onChange;
    this.running = true;
    await this.tick();
  }

  isLeader(): boolean {
    return this.leading;
  }

  async current(): Promise<{ replica: string; since: number } | null> {
    const [r] = await this.pool`SELECT replica, since FROM leader_lease
      WHERE heartbeat_at > ${this.pool.unsafe(DB_NOW_MS)} - ${this.leaseTtlMs}`;
    return r ? { replica: r.replica, since: Number(r.since) } : null;
  }

  /** Checks the lock's connection now (the pool saw a connection close). */
  check(): void {
    if (this.running && this.leading) this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.ticking;
    const conn = this.conn;
    this.conn = null;
    if (conn && this.leading) {
      try {
        await withTimeout(
          conn`DELETE FROM leader_lease WHERE replica = ${this.options.replicaId}`,
          this.heartbeatTimeoutMs,
          "giving up the lease",
        );
      } catch {
        // closing the connection below frees the lock anyway
      }
    }
    // close, not release: a released connection goes back to the pool with its session (and lock)
    await conn?.close().catch(() => {});
    this.setLeading(false);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick();
    }, ms);
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    try {
      if (this.leading) await this.heartbeat();
      else await this.compete();
    } catch (e) {
      this.lose(e as Error);
    }
    this.schedule(this.leading ? this.heartbeatMs : this.retryMs);
  }

  private async compete(): Promise<void> {
    this.conn ??= await withTimeout(
      this.lockClient.reserve(),
      this.heartbeatTimeoutMs,
      "reserving a connection",
    );
    const conn = this.conn;
    const [r] = await withTimeout(
      conn`SELECT pg_try_advisory_lock(${LEADER_LOCK_KEY}) AS ok, pg_backend_pid() AS pid`,
      this.heartbeatTimeoutMs,
      "trying the leader lock",
    );
    if (!r?.ok || !this.running) {
      if (r?.ok) await conn`SELECT pg_advisory_unlock(${LEADER_LOCK_KEY})`;
      return;
    }
    const now = conn.unsafe(DB_NOW_MS);
    await withTimeout(
      conn`INSERT INTO leader_lease (id, replica, backend_pid, since, heartbeat_at)
        VALUES (1, ${this.options.replicaId}, ${r.pid}, ${now}, ${now})
        ON CONFLICT (id) DO UPDATE SET replica = excluded.replica, backend_pid = excluded.backend_pid,
          since = excluded.since, heartbeat_at = excluded.heartbeat_at`,
      this.heartbeatTimeoutMs,
      "writing the lease",
    );
    this.options.log?.info("leadership: this replica leads", { replica: this.options.replicaId });
    this.setLeading(true);
  }

  private async heartbeat(): Promise<void> {
    const conn = this.conn;
    if (!conn) throw new Error("the leader's connection is gone");
    const res = await withTimeout(
      conn`UPDATE leader_lease SET heartbeat_at = ${conn.unsafe(DB_NOW_MS)}
        WHERE replica = ${this.options.replicaId}`,
      this.heartbeatTimeoutMs,
      "the leader's heartbeat",
    );
    // someone rewrote the lease: only a holder of the lock does, so ours is gone
    if (res.count !== 1) throw new Error("the lease names another replica");
  }

  private lose(e: Error): void {
    const conn = this.conn;
    this.conn = null;
    // ends the session (and with it the lock, if it was still held); a hung close must not block
    void conn?.close().catch(() => {});
    if (this.leading) {
      this.options.log?.info("leadership: lost", { replica: this.options.replicaId, error: e.message });
      this.setLeading(false);
    }
  }

  private setLeading(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    try {
      this.onChange(leading);
    } catch (e) {
      // the listener's failure is its own; the lock's state is what it is
      this.options.log?.info("leadership: a listener failed", { error: (e as Error).message });
    }
  }
}
