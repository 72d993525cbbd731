/**
 * The notification outbox in bun:sqlite. Lanes, heads and claims: see OutboxRepository in
 * ../types.ts and the schema in schema/outbox.ts.
 */
import type { Database } from "bun:sqlite";
import type { OutboxRepository, OutboxRow, OutboxStatus } from "../types.ts";
import type { Sync } from "./sync.ts";

type Cell = string | number | null;
type Row = Record<string, Cell>;

function toRow(r: Row): OutboxRow {
  return {
    id: r.id as number,
    eventId: (r.event_id as number | null) ?? null,
    clientId: (r.client_id as string | null) ?? null,
    kind: r.kind as string,
    channel: r.channel as string,
    target: r.target as string,
    idempotencyKey: r.idempotency_key as string,
    payload: JSON.parse(r.payload_json as string),
    status: r.status as OutboxStatus,
    digestId: (r.digest_id as number | null) ?? null,
    attempts: r.attempts as number,
    partsSent: r.parts_sent as number,
    nextAttemptAt: r.next_attempt_at as number,
    claimedBy: (r.claimed_by as string | null) ?? null,
    claimedUntil: (r.claimed_until as number | null) ?? null,
    lastError: (r.last_error as string | null) ?? null,
    createdAt: r.created_at as number,
    deliveredAt: (r.delivered_at as number | null) ?? null,
  };
}

/**
 * The oldest open row of every lane at $now. Digest members are never heads (their digest is),
 * and a digest that still collects (never tried, not yet due) does not hold its lane: later
 * alerts go out meanwhile and the digest takes its turn when its window ends. (A per-client
 * digest collects for up to the limit's period.)
 */
const COLLECTING = "(kind = 'digest' AND status = 'pending' AND attempts = 0 AND next_attempt_at > $now)";
const HEADS = `SELECT o.* FROM outbox o JOIN (
    SELECT MIN(id) AS id FROM outbox WHERE status IN ('pending', 'sending') AND digest_id IS NULL AND NOT ${COLLECTING}
    GROUP BY channel, target
  ) h ON h.id = o.id`;

export function sqliteOutbox(db: Database): Sync<OutboxRepository> {
  // biome-ignore lint/suspicious/noExplicitAny: bun:sqlite binding objects are loosely typed
  const run = (sql: string, params: Record<string, any>) => db.query(sql).run(params).changes;
  const all = (sql: string, params: Record<string, Cell> = {}) =>
    db.query<Row, [Record<string, Cell>]>(sql).all(params).map(toRow);
  const one = (sql: string, params: Record<string, Cell>) => {
    const r = db.query<Row, [Record<string, Cell>]>(sql).get(params);
    return r ? toRow(r) : null;
  };
  const kindList = (kinds: readonly string[], params: Record<string, Cell>) => {
    kinds.forEach((k, i) => {
      params[`k${i}`] = k;
    });
    return kinds.length ? kinds.map((_, i) => `$k${i}`).join(", ") : "NULL";
  };

  return {
    insert(row) {
      const res = db
        .query(
          `INSERT OR IGNORE INTO outbox (event_id, client_id, kind, channel, target, idempotency_key, payload_json, status,
             digest_id, next_attempt_at, created_at, last_error)
           VALUES ($eventId, $clientId, $kind, $channel, $target, $key, $payload, $status, $digestId, $next, $createdAt, $error)`,
        )
        .run({
          eventId: row.eventId,
          clientId: row.clientId,
          kind: row.kind,
          channel: row.channel,
          target: row.target,
          key: row.idempotencyKey,
          payload: JSON.stringify(row.payload),
          status: row.status,
          digestId: row.digestId ?? null,
          next: row.nextAttemptAt,
          createdAt: row.createdAt,
          error: row.lastError ?? null,
        });
      return res.changes === 1 ? Number(res.lastInsertRowid) : null;
    },
    get(id) {
      return one("SELECT * FROM outbox WHERE id = $id", { id });
    },
    list(q) {
      const where: string[] = [];
      const params: Record<string, Cell> = { limit: q.limit };
      if (q.status) {
        where.push("status = $status");
        params.status = q.status;
      }
      if (q.clientId) {
        where.push("client_id = $clientId");
        params.clientId = q.clientId;
      }
      if (q.before !== undefined) {
        where.push("id < $before");
        params.before = q.before;
      }
      return all(
        `SELECT * FROM outbox ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT $limit`,
        params,
      );
    },
    dueHeads(now, limit) {
      return all(
        `${HEADS} WHERE (o.status = 'pending' AND o.next_attempt_at <= $now) OR (o.status = 'sending' AND o.claimed_until <= $now)
         ORDER BY o.id LIMIT $limit`,
        { now, limit },
      );
    },
    nextDueAt(now) {
      const r = db
        .query<{ t: number | null }, [Record<string, Cell>]>(
          `SELECT MIN(t) AS t FROM (
             SELECT CASE WHEN o.status = 'pending' THEN o.next_attempt_at ELSE o.claimed_until END AS t FROM (${HEADS}) o
             UNION ALL SELECT MIN(next_attempt_at) FROM outbox WHERE digest_id IS NULL AND ${COLLECTING})`,
        )
        .get({ now });
      return r?.t ?? null;
    },
    claim(id, owner, now, leaseUntil) {
      return (
        run(
          `UPDATE outbox SET status = 'sending', claimed_by = $owner, claimed_until = $until
           WHERE id = $id AND ((status = 'pending' AND next_attempt_at <= $now) OR (status = 'sending' AND claimed_until <= $now))`,
          { id, owner, now, until: leaseUntil },
        ) === 1
      );
    },
    progress(id, owner, partsSent, leaseUntil) {
      return (
        run(
          `UPDATE outbox SET parts_sent = $parts, claimed_until = $until
           WHERE id = $id AND status = 'sending' AND claimed_by = $owner`,
          { id, owner, parts: partsSent, until: leaseUntil },
        ) === 1
      );
    },
    complete(id, owner, now) {
      return db.transaction(() => {
        const done =
          run(
            `UPDATE outbox SET status = 'delivered', delivered_at = $now, claimed_by = NULL, claimed_until = NULL, last_error = NULL
             WHERE id = $id AND status = 'sending' AND claimed_by = $owner`,
            { id, owner, now },
          ) === 1;
        if (done)
          run("UPDATE outbox SET status = 'delivered', delivered_at = $now WHERE digest_id = $id", {
            id,
            now,
          });
        return done;
      })();
    },
    release(id, owner, next) {
      return (
        run(
          `UPDATE outbox SET status = 'pending', claimed_by = NULL, claimed_until = NULL, next_attempt_at = $at,
             attempts = attempts + $inc, last_error = COALESCE($error, last_error)
           WHERE id = $id AND status = 'sending' AND claimed_by = $owner`,
          { id, owner, at: next.at, inc: next.countAttempt ? 1 : 0, error: next.error },
        ) === 1
      );
    },
    fail(id, owner, error) {
      return db.transaction(() => {
        const done =
          run(
            `UPDATE outbox SET status = 'failed', claimed_by = NULL, claimed_until = NULL, attempts = attempts + 1, last_error = $error
             WHERE id = $id AND status = 'sending' AND claimed_by = $owner`,
            { id, owner, error },
          ) === 1;
        if (done)
          run("UPDATE outbox SET status = 'failed', last_error = $error WHERE digest_id = $id", {
            id,
            error,
          });
        return done;
      })();
    },
    releaseClaims(owner, at) {
      return run(
        `UPDATE outbox SET status = 'pending', claimed_by = NULL, claimed_until = NULL, next_attempt_at = $at
         WHERE status = 'sending' AND claimed_by = $owner`,
        { owner, at },
      );
    },
    openDigest(channel, target, now, clientId = null) {
      return one(
        `SELECT * FROM outbox WHERE channel = $channel AND target = $target AND kind = 'digest' AND status = 'pending'
           AND client_id IS $clientId AND next_attempt_at > $now ORDER BY id DESC LIMIT 1`,
        { channel, target, now, clientId },
      );
    },
    clientWindow(channel, target, clientId, since) {
      const r = db
        .query<{ n: number; oldest: number | null }, [Record<string, Cell>]>(
          `SELECT count(*) AS n, MIN(created_at) AS oldest FROM outbox
           WHERE channel = $channel AND target = $target AND client_id = $clientId AND created_at >= $since
             AND status != 'suppressed' AND digest_id IS NULL AND kind != 'digest'`,
        )
        .get({ channel, target, clientId, since });
      return { count: r?.n ?? 0, oldestAt: r?.oldest ?? null };
    },
    digestMembers(digestId) {
      return all("SELECT * FROM outbox WHERE digest_id = $digestId ORDER BY id", { digestId });
    },
    countRecent(channel, target, since, excludeKinds) {
      const params: Record<string, Cell> = { channel, target, since };
      const r = db
        .query<{ n: number }, [Record<string, Cell>]>(
          `SELECT count(*) AS n FROM outbox WHERE channel = $channel AND target = $target AND created_at >= $since
             AND status != 'suppressed' AND kind NOT IN (${kindList(excludeKinds, params)})`,
        )
        .get(params);
      return r?.n ?? 0;
    },
    lastForClient(clientId, kinds, channel, target) {
      const params: Record<string, Cell> = { clientId, channel, target };
      return one(
        `SELECT * FROM outbox WHERE client_id IS $clientId AND channel = $channel AND target = $target
           AND kind IN (${kindList(kinds, params)}) ORDER BY id DESC LIMIT 1`,
        params,
      );
    },
    forEvent(eventId, channel, target) {
      return all(
        "SELECT * FROM outbox WHERE event_id = $eventId AND channel = $channel AND target = $target ORDER BY id",
        {
          eventId,
          channel,
          target,
        },
      );
    },
    countByStatus() {
      const out: Record<OutboxStatus, number> = {
        pending: 0,
        sending: 0,
        delivered: 0,
        failed: 0,
        suppressed: 0,
      };
      for (const r of db
        .query<{ status: OutboxStatus; n: number }, []>(
          "SELECT status, count(*) AS n FROM outbox GROUP BY status",
        )
        .all())
        out[r.status] = r.n;
      return out;
    },
    queues() {
      const rows = db
        .query<{ channel: string; waiting: number; oldest: number | null; failed: number }, []>(
          `SELECT channel, sum(status IN ('pending', 'sending')) AS waiting,
             min(CASE WHEN status IN ('pending', 'sending') THEN created_at END) AS oldest,
             sum(status = 'failed') AS failed
           FROM outbox WHERE digest_id IS NULL GROUP BY channel`,
        )
        .all();
      return new Map(
        rows.map((r) => [r.channel, { waiting: r.waiting, oldestWaitingAt: r.oldest, failed: r.failed }]),
      );
    },
    recordAttempt(channel, target, at, error) {
      if (error === null)
        run(
          `INSERT INTO channel_lanes (channel, target, last_ok_at) VALUES ($channel, $target, $at)
           ON CONFLICT (channel, target) DO UPDATE SET last_ok_at = excluded.last_ok_at, failing_since = NULL`,
          { channel, target, at },
        );
      else
        run(
          `INSERT INTO channel_lanes (channel, target, failing_since, last_error, last_error_at)
           VALUES ($channel, $target, $at, $error, $at)
           ON CONFLICT (channel, target) DO UPDATE SET failing_since = coalesce(failing_since, excluded.failing_since),
             last_error = excluded.last_error, last_error_at = excluded.last_error_at`,
          { channel, target, at, error },
        );
    },
    lanes() {
      return db
        .query<Row, []>("SELECT * FROM channel_lanes ORDER BY channel, target")
        .all()
        .map((r) => ({
          channel: r.channel as string,
          target: r.target as string,
          lastOkAt: (r.last_ok_at as number | null) ?? null,
          failingSince: (r.failing_since as number | null) ?? null,
          lastError: (r.last_error as string | null) ?? null,
          lastErrorAt: (r.last_error_at as number | null) ?? null,
        }));
    },
    retryNow(channel, target, at) {
      // attempts > 0: a retry delay, not a digest that still collects
      return run(
        `UPDATE outbox SET next_attempt_at = $at
         WHERE channel = $channel AND target = $target AND status = 'pending' AND attempts > 0 AND next_attempt_at > $at`,
        { channel, target, at },
      );
    },
    prune(before) {
      return run(
        "DELETE FROM outbox WHERE status IN ('delivered', 'failed', 'suppressed') AND created_at < $before",
        { before },
      );
    },
  };
}
