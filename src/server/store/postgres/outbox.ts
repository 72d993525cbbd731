/**
 * The notification outbox on PostgreSQL. Lanes, heads and claims: see OutboxRepository in
 * ../types.ts. Every claim and hand-back is one conditional UPDATE, so replicas (and a leader
 * that lost its lead mid-send) never both own a row.
 */
import type { SQL } from "bun";
import type { OutboxRepository, OutboxStatus } from "../types.ts";
import { where } from "./repositories.ts";
import { num, type Row, toLane, toOutbox } from "./rows.ts";

export function pgOutbox(db: SQL): OutboxRepository {
  /** A digest that still collects at `now`: it holds nothing back until it is due. */
  const collecting = (now: number) =>
    db`(kind = 'digest' AND status = 'pending' AND attempts = 0 AND next_attempt_at > ${now})`;
  /** The oldest open row of every lane; digest members are never heads (their digest is). */
  const heads = (now: number) => db`SELECT o.* FROM outbox o JOIN (
      SELECT min(id) AS id FROM outbox WHERE status IN ('pending', 'sending') AND digest_id IS NULL
        AND NOT ${collecting(now)}
      GROUP BY channel, target
    ) h ON h.id = o.id`;
  const one = (rows: Row[]) => (rows[0] ? toOutbox(rows[0]) : null);

  return {
    async insert(row) {
      const [r] = await db`INSERT INTO outbox (event_id, client_id, kind, channel, target, idempotency_key,
          payload_json, status, digest_id, next_attempt_at, created_at, last_error)
        VALUES (${row.eventId}, ${row.clientId}, ${row.kind}, ${row.channel}, ${row.target}, ${row.idempotencyKey},
          ${db.json(row.payload)}, ${row.status}, ${row.digestId ?? null}, ${row.nextAttemptAt}, ${row.createdAt},
          ${row.lastError ?? null})
        ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`;
      return r ? Number((r as Row).id) : null;
    },
    async get(id) {
      return one(await db`SELECT * FROM outbox WHERE id = ${id}`);
    },
    async list(q) {
      const conditions = [];
      if (q.status) conditions.push(db`status = ${q.status}`);
      if (q.clientId) conditions.push(db`client_id = ${q.clientId}`);
      if (q.before !== undefined) conditions.push(db`id < ${q.before}`);
      const rows =
        await db`SELECT * FROM outbox WHERE ${where(db, conditions)} ORDER BY id DESC LIMIT ${q.limit}`;
      return rows.map(toOutbox);
    },
    async dueHeads(now, limit) {
      const rows = await db`${heads(now)}
        WHERE (o.status = 'pending' AND o.next_attempt_at <= ${now}) OR (o.status = 'sending' AND o.claimed_until <= ${now})
        ORDER BY o.id LIMIT ${limit}`;
      return rows.map(toOutbox);
    },
    async nextDueAt(now) {
      const [r] = await db`SELECT min(t) AS t FROM (
          SELECT CASE WHEN o.status = 'pending' THEN o.next_attempt_at ELSE o.claimed_until END AS t
          FROM (${heads(now)}) o
          UNION ALL SELECT min(next_attempt_at) FROM outbox WHERE digest_id IS NULL AND ${collecting(now)}
        ) due`;
      return r?.t === null || r?.t === undefined ? null : Number(r.t);
    },
    async claim(id, owner, now, leaseUntil) {
      const res =
        await db`UPDATE outbox SET status = 'sending', claimed_by = ${owner}, claimed_until = ${leaseUntil}
        WHERE id = ${id} AND ((status = 'pending' AND next_attempt_at <= ${now})
          OR (status = 'sending' AND claimed_until <= ${now}))`;
      return res.count === 1;
    },
    async progress(id, owner, partsSent, leaseUntil) {
      const res = await db`UPDATE outbox SET parts_sent = ${partsSent}, claimed_until = ${leaseUntil}
        WHERE id = ${id} AND status = 'sending' AND claimed_by = ${owner}`;
      return res.count === 1;
    },
    async complete(id, owner, now) {
      // one statement: the row and its digest members are delivered together
      const [r] = await db`WITH done AS (
          UPDATE outbox SET status = 'delivered', delivered_at = ${now}, claimed_by = NULL, claimed_until = NULL,
            last_error = NULL
          WHERE id = ${id} AND status = 'sending' AND claimed_by = ${owner}
          RETURNING id
        ), members AS (
          UPDATE outbox SET status = 'delivered', delivered_at = ${now} WHERE digest_id IN (SELECT id FROM done)
        )
        SELECT count(*) AS n FROM done`;
      return Number((r as Row).n) === 1;
    },
    async release(id, owner, next) {
      const res = await db`UPDATE outbox SET status = 'pending', claimed_by = NULL, claimed_until = NULL,
          next_attempt_at = ${next.at}, attempts = attempts + ${next.countAttempt ? 1 : 0}::int,
          last_error = COALESCE(${next.error}::text, last_error)
        WHERE id = ${id} AND status = 'sending' AND claimed_by = ${owner}`;
      return res.count === 1;
    },
    async fail(id, owner, error) {
      const [r] = await db`WITH done AS (
          UPDATE outbox SET status = 'failed', claimed_by = NULL, claimed_until = NULL, attempts = attempts + 1,
            last_error = ${error}
          WHERE id = ${id} AND status = 'sending' AND claimed_by = ${owner}
          RETURNING id
        ), members AS (
          UPDATE outbox SET status = 'failed', last_error = ${error} WHERE digest_id IN (SELECT id FROM done)
        )
        SELECT count(*) AS n FROM done`;
      return Number((r as Row).n) === 1;
    },
    async releaseClaims(owner, at) {
      const res = await db`UPDATE outbox SET status = 'pending', claimed_by = NULL, claimed_until = NULL,
          next_attempt_at = ${at}
        WHERE status = 'sending' AND claimed_by = ${owner}`;
      return res.count;
    },
    async openDigest(channel, target, now, clientId = null) {
      const client = clientId === null ? db`client_id IS NULL` : db`client_id = ${clientId}`;
      return one(
        await db`SELECT * FROM outbox WHERE channel = ${channel} AND target = ${target} AND kind = 'digest'
          AND status = 'pending' AND ${client} AND next_attempt_at > ${now} ORDER BY id DESC LIMIT 1`,
      );
    },
    async clientWindow(channel, target, clientId, since) {
      const [r] = await db`SELECT count(*) AS n, min(created_at) AS oldest FROM outbox
        WHERE channel = ${channel} AND target = ${target} AND client_id = ${clientId} AND created_at >= ${since}
          AND status <> 'suppressed' AND digest_id IS NULL AND kind <> 'digest'`;
      return { count: Number((r as Row).n), oldestAt: num((r as Row).oldest) };
    },
    async digestMembers(digestId) {
      return (await db`SELECT * FROM outbox WHERE digest_id = ${digestId} ORDER BY id`).map(toOutbox);
    },
    async countRecent(channel, target, since, excludeKinds) {
      const [r] = await db`SELECT count(*) AS n FROM outbox WHERE channel = ${channel} AND target = ${target}
        AND created_at >= ${since} AND status <> 'suppressed' AND kind <> ALL(${[...excludeKinds]}::text[])`;
      return Number((r as Row).n);
    },
    async lastForClient(clientId, kinds, channel, target) {
      const client = clientId === null ? db`client_id IS NULL` : db`client_id = ${clientId}`;
      return one(
        await db`SELECT * FROM outbox WHERE ${client} AND channel = ${channel} AND target = ${target}
          AND kind = ANY(${[...kinds]}::text[]) ORDER BY id DESC LIMIT 1`,
      );
    },
    async forEvent(eventId, channel, target) {
      return (
        await db`SELECT * FROM outbox WHERE event_id = ${eventId} AND channel = ${channel} AND target = ${target}
          ORDER BY id`
      ).map(toOutbox);
    },
    async countByStatus() {
      const out: Record<OutboxStatus, number> = {
        pending: 0,
        sending: 0,
        delivered: 0,
        failed: 0,
        suppressed: 0,
      };
      for (const r of await db`SELECT status, count(*) AS n FROM outbox GROUP BY status`)
        out[(r as Row).status as OutboxStatus] = Number((r as Row).n);
      return out;
    },
    async queues() {
      const rows = await db`SELECT channel,
          count(*) FILTER (WHERE status IN ('pending', 'sending')) AS waiting,
          min(created_at) FILTER (WHERE status IN ('pending', 'sending')) AS oldest,
          count(*) FILTER (WHERE status = 'failed') AS failed
        FROM outbox WHERE digest_id IS NULL GROUP BY channel`;
      return new Map(
        rows.map((r: Row) => [
          r.channel as string,
          { waiting: Number(r.waiting), oldestWaitingAt: num(r.oldest), failed: Number(r.failed) },
        ]),
      );
    },
    async recordAttempt(channel, target, at, error) {
      if (error === null)
        await db`INSERT INTO channel_lanes (channel, target, last_ok_at) VALUES (${channel}, ${target}, ${at})
          ON CONFLICT (channel, target) DO UPDATE SET last_ok_at = excluded.last_ok_at, failing_since = NULL`;
      else
        await db`INSERT INTO channel_lanes (channel, target, failing_since, last_error, last_error_at)
          VALUES (${channel}, ${target}, ${at}, ${error}, ${at})
          ON CONFLICT (channel, target) DO UPDATE
            SET failing_since = coalesce(channel_lanes.failing_since, excluded.failing_since),
              last_error = excluded.last_error, last_error_at = excluded.last_error_at`;
    },
    async lanes() {
      return (await db`SELECT * FROM channel_lanes ORDER BY channel, target`).map(toLane);
    },
    async retryNow(channel, target, at) {
      // attempts > 0: a retry delay, not a digest that still collects
      const res = await db`UPDATE outbox SET next_attempt_at = ${at}
        WHERE channel = ${channel} AND target = ${target} AND status = 'pending' AND attempts > 0
          AND next_attempt_at > ${at}`;
      return res.count;
    },
    async prune(before) {
      const res = await db`DELETE FROM outbox WHERE status IN ('delivered', 'failed', 'suppressed')
        AND created_at < ${before}`;
      return res.count;
    },
  };
}
