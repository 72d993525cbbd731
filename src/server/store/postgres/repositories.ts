/** Events, history, API tokens, meta, nonces, rate limits and stats on PostgreSQL. */
import type { SQL } from "bun";
import type {
  ApiTokenRepository,
  ClientHistoryRow,
  EventRepository,
  HistoryRepository,
  MetaRepository,
  NonceRepository,
  RateLimitRepository,
  StatsRepository,
} from "../types.ts";
import { inTransaction } from "./db.ts";
import { type Row, toEvent, toHistory, toToken } from "./rows.ts";

/** Joins WHERE conditions (fragments) with AND; `TRUE` when there are none. */
export function where(db: SQL, conditions: SQL.Query<unknown>[]): SQL.Query<unknown> {
  return conditions.reduce((all, c) => db`${all} AND ${c}`, db`TRUE`);
}

const count = (rows: Row[]) => Number(rows[0]?.n ?? 0);

export function pgEvents(db: SQL): EventRepository {
  return {
    async append(e) {
      const [r] =
        await db`INSERT INTO events (client_id, kind, from_status, to_status, evidence_json, at, suppressed)
        VALUES (${e.clientId}, ${e.kind}, ${e.from}, ${e.to}, ${db.json(e.evidence)}, ${e.at}, ${e.suppressed})
        RETURNING id`;
      return Number((r as Row).id);
    },
    async query(q) {
      const conditions = [];
      if (q.clientId !== undefined) conditions.push(db`client_id = ${q.clientId}`);
      if (q.since !== undefined) conditions.push(db`at >= ${q.since}`);
      if (q.before !== undefined) conditions.push(db`id < ${q.before}`);
      if (q.kinds?.length) conditions.push(db`kind = ANY(${q.kinds}::text[])`);
      if (q.search)
        // strpos on lower(): LIKE would read % and _ in the text as wildcards; "C" folds ASCII
        // only, as SQLite's lower() does
        conditions.push(db`(strpos(lower((evidence_json ->> 'reason') COLLATE "C"), ${q.search.text.toLowerCase()}) > 0
          OR client_id = ANY(${[...q.search.clientIds]}::text[]) OR kind = ANY(${[...q.search.kinds]}::text[]))`);
      const rows =
        await db`SELECT * FROM events WHERE ${where(db, conditions)} ORDER BY id DESC LIMIT ${q.limit}`;
      return rows.map(toEvent);
    },
    async count() {
      return count(await db`SELECT count(*) AS n FROM events`);
    },
  };
}

export function pgHistory(db: SQL): HistoryRepository {
  return {
    async record(clientId, row) {
      // one statement: insert unless the client's latest row says the same (detail aside)
      const causes = row.causes ?? null;
      const detail = row.detail ? db.json(row.detail) : null;
      const inserted =
        await db`INSERT INTO client_history (client_id, at, status, liveness, exit_ipv4, exit_ipv6, resolvers, causes, detail_json)
        SELECT ${clientId}, ${row.at}, ${row.status}, ${row.liveness}, ${row.exitIpv4}, ${row.exitIpv6}, ${row.resolvers},
          ${causes}, ${detail}::json
        WHERE NOT EXISTS (
          SELECT 1 FROM (
            SELECT * FROM client_history WHERE client_id = ${clientId} ORDER BY at DESC, id DESC LIMIT 1
          ) latest
          WHERE latest.status = ${row.status} AND latest.liveness = ${row.liveness}
            AND latest.exit_ipv4 IS NOT DISTINCT FROM ${row.exitIpv4}::text
            AND latest.exit_ipv6 IS NOT DISTINCT FROM ${row.exitIpv6}::text
            AND latest.resolvers IS NOT DISTINCT FROM ${row.resolvers}::text
            AND latest.causes IS NOT DISTINCT FROM ${causes}::text
        )`;
      return inserted.count === 1;
    },
    async range(clientId, from, to) {
      const before = await db`SELECT * FROM client_history WHERE client_id = ${clientId} AND at < ${from}
        ORDER BY at DESC, id DESC LIMIT 1`;
      const within = await db`SELECT * FROM client_history WHERE client_id = ${clientId}
        AND at >= ${from} AND at <= ${to} ORDER BY at, id`;
      return [...before, ...within].map(toHistory);
    },
    async rangeMany(clientIds, from, to, opts) {
      // the row in force at `from`: one index seek per client; then the rows inside the window
      const who =
        clientIds === null
          ? db`SELECT id AS client_id FROM clients`
          : db`SELECT unnest(${[...clientIds]}::text[]) AS client_id`;
      const columns = opts?.statusOnly
        ? db`h.id, h.client_id, h.at, h.status, h.liveness, h.causes`
        : db`h.*`;
      const inForce =
        opts?.inForce === false
          ? db``
          : db`SELECT ${columns} FROM (${who}) c CROSS JOIN LATERAL (
                SELECT * FROM client_history x WHERE x.client_id = c.client_id AND x.at < ${from}
                ORDER BY x.at DESC, x.id DESC LIMIT 1
              ) h
              UNION ALL`;
      // ids in byte order, as SQLite's
      const rows = await db`SELECT * FROM (${inForce}
          SELECT ${columns} FROM client_history h WHERE h.at >= ${from} AND h.at <= ${to}
            AND h.client_id IN (${who})
        ) rows ORDER BY client_id COLLATE "C", at, id`;
      if (opts?.statusOnly)
        return rows.map(
          (r: Row): ClientHistoryRow => ({
            clientId: r.client_id,
            at: Number(r.at),
            status: r.status,
            liveness: r.liveness,
            causes: r.causes ?? null,
            exitIpv4: null,
            exitIpv6: null,
            resolvers: null,
          }),
        );
      return rows.map((r: Row): ClientHistoryRow => ({ clientId: r.client_id, ...toHistory(r) }));
    },
    async firstAt() {
      const [r] = await db`SELECT min(at) AS t FROM client_history`;
      return r?.t === null || r?.t === undefined ? null : Number(r.t);
    },
    async exitTimes(clientId, from, to) {
      // the same sum as SQLite's: each row's stretch until the next row (or `to`), clipped to
      // the window that the last row before `from` opens; ips compare byte by byte
      const rows = await db`WITH stretches AS (
          SELECT coalesce(exit_ipv4, exit_ipv6) AS ip, liveness, at,
                 lead(at) OVER (ORDER BY at, id) AS next_at
          FROM client_history
          WHERE client_id = ${clientId} AND at <= ${to} AND at >= coalesce(
            (SELECT max(at) FROM client_history WHERE client_id = ${clientId} AND at < ${from}), ${from}::bigint)
        ), times AS (
          SELECT ip, sum(greatest(0, least(coalesce(next_at, ${to}::bigint), ${to}::bigint) - greatest(at, ${from}::bigint))) AS ms
          FROM stretches
          WHERE ip IS NOT NULL AND liveness IN ('online', 'late')
          GROUP BY ip
        )
        SELECT ip, ms FROM times WHERE ms > 0 ORDER BY ms DESC, ip COLLATE "C"`;
      return rows.map((r: Row) => ({ ip: r.ip, ms: Number(r.ms) }));
    },
    async recordServerDowntime(from, to) {
      await db`INSERT INTO server_downtime (from_at, to_at) VALUES (${from}, ${to})`;
    },
    async serverDowntimes(from, to) {
      const rows =
        await db`SELECT from_at, to_at FROM server_downtime WHERE to_at >= ${from} AND from_at <= ${to}
        ORDER BY from_at`;
      return rows.map((r: Row) => ({ from: Number(r.from_at), to: Number(r.to_at) }));
    },
    async prune(before) {
      // one statement, so one unit: keep each client's latest row before the cut (it says what
      // was true when the window opens)
      const [r] = await db`WITH h AS (
          DELETE FROM client_history WHERE at < ${before} AND id NOT IN
            (SELECT max(id) FROM client_history WHERE at < ${before} GROUP BY client_id)
          RETURNING 1
        ), e AS (
          DELETE FROM events WHERE at < ${before} RETURNING 1
        ), d AS (
          DELETE FROM server_downtime WHERE to_at < ${before} RETURNING 1
        )
        SELECT (SELECT count(*) FROM h) + (SELECT count(*) FROM e) + (SELECT count(*) FROM d) AS n`;
      return Number((r as Row).n);
    },
  };
}

export function pgTokens(db: SQL): ApiTokenRepository {
  return {
    async create(t) {
      await db`INSERT INTO api_tokens (id, name, role, token_hash, created_at)
        VALUES (${t.id}, ${t.name}, ${t.role}, ${t.tokenHash}, ${t.createdAt})`;
    },
    async list() {
      return (await db`SELECT * FROM api_tokens ORDER BY lower(name)`).map(toToken);
    },
    async findActiveByHash(hash) {
      const [r] = await db`SELECT * FROM api_tokens WHERE token_hash = ${hash} AND revoked_at IS NULL`;
      return r ? toToken(r) : null;
    },
    async touch(id, at) {
      await db`UPDATE api_tokens SET last_used_at = ${at} WHERE id = ${id}`;
    },
    async revoke(nameOrId, at) {
      const res = await db`UPDATE api_tokens SET revoked_at = ${at}
        WHERE (id = ${nameOrId} OR lower(name) = lower(${nameOrId}::text COLLATE "C")) AND revoked_at IS NULL`;
      return res.count > 0;
    },
  };
}

export function pgMeta(db: SQL): MetaRepository {
  return {
    async get(key) {
      const [r] = await db`SELECT value FROM meta WHERE key = ${key}`;
      return r ? (r as Row).value : null;
    },
    async set(key, value) {
      await db`INSERT INTO meta (key, value) VALUES (${key}, ${value})
        ON CONFLICT (key) DO UPDATE SET value = excluded.value`;
    },
  };
}

/** 64 bits of wyhash of "<client id>.<nonce>": a false "replay" once in ~10^13 at a million live nonces. */
export const nonceKey = (clientId: string, nonce: string): bigint =>
  BigInt.asIntN(64, Bun.hash.wyhash(`${clientId}.${nonce}`));

/**
 * Many nonce uses in one statement (group commit): the hashes (nonceKey, as decimal strings)
 * that were fresh. A hash must appear once; an expired row is taken over, as in `use`. In hash
 * order, like every multi-row lock here, so concurrent batches never deadlock.
 */
export async function useNonces(
  db: SQL,
  uses: readonly { hash: string; expiresAt: number }[],
  now: number,
): Promise<Set<string>> {
  const rows = await db`INSERT INTO nonces (hash, expires_at)
    SELECT * FROM unnest(${uses.map((u) => u.hash)}::bigint[], ${uses.map((u) => u.expiresAt)}::bigint[]) AS v(hash, expires_at)
    ORDER BY v.hash
    ON CONFLICT (hash) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at < ${now}
    RETURNING hash`;
  return new Set(rows.map((r: Row) => String(r.hash)));
}

/** Forgets nonces a unit used before it failed (group commit: its report was not stored). */
export async function forgetNonces(db: SQL, hashes: readonly string[]): Promise<void> {
  await db`DELETE FROM nonces WHERE hash = ANY(${[...hashes]}::bigint[])`;
}

export function pgNonces(db: SQL): NonceRepository {
  return {
    async use(clientId, nonce, expiresAt, now) {
      // A row that already expired is taken over (its nonce could no longer pass the
      // freshness check anyway). A concurrent use of the same nonce on another replica
      // waits for that transaction and then sees its row.
      const rows =
        await db`INSERT INTO nonces (hash, expires_at) VALUES (${nonceKey(clientId, nonce)}, ${expiresAt})
        ON CONFLICT (hash) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at < ${now}
        RETURNING 1`;
      return rows.length === 1;
    },
    async prune(now) {
      return (await db`DELETE FROM nonces WHERE expires_at < ${now}`).count;
    },
  };
}

/** How often one process deletes rate-limit rows whose bucket is full again (they mean nothing). */
const LIMITS_CLEANUP_MS = 60_000;
/**
 * Only rows full for this long go: a client reporting every 30 s would have its row deleted and
 * written again each minute (100,000 rows at once at 100,000 clients, a second during which its
 * takes wait on the deleted rows' locks), for nothing.
 */
const LIMITS_IDLE_MS = 600_000;

interface Take {
  bucket: string;
  key: string;
  ratePerS: number;
  burst: number;
  now: number;
  resolve: (wait: number) => void;
  reject: (error: unknown) => void;
}

/**
 * Token buckets shared by the replicas. Outside a transaction, the takes asked for in one
 * event-loop turn (every report read in it takes one) travel together: one statement per
 * bucket and rate for all their keys, instead of one each.
 */
export function pgRateLimits(db: SQL, cleanup: { at: number }): RateLimitRepository {
  const removeFull = async (now: number) => {
    if (now - cleanup.at < LIMITS_CLEANUP_MS) return;
    cleanup.at = now;
    await db`DELETE FROM rate_limits WHERE full_at < ${now - LIMITS_IDLE_MS}`;
  };
  /** The wait (s) until `key` has a token again, for a take that found none. */
  const waitOf = async (bucket: string, key: string, ratePerS: number, burst: number, now: number) => {
    const [r] =
      await db`SELECT tokens, updated_at FROM rate_limits WHERE bucket = ${bucket} AND key = ${key}`;
    if (!r) return 0;
    const tokens = Math.min(burst, r.tokens + (Math.max(0, now - Number(r.updated_at)) / 1000) * ratePerS);
    return (1 - tokens) / ratePerS;
  };
  /**
   * Refill by the time passed, take one token if there is one; the keys (each once) that got
   * one. Rows are taken in key order, so two replicas' (or two turns') statements over the same
   * keys wait for each other instead of deadlocking. The update's WHERE makes a refused take change nothing and return no row; a new bucket
   * starts full. `excluded.updated_at` is the take's own time.
   */
  const takeMany = async (
    bucket: string,
    ratePerS: number,
    burst: number,
    takes: readonly { key: string; now: number }[],
  ) => {
    const refilled = db`least(${burst}::float8,
      rate_limits.tokens + greatest(0, excluded.updated_at - rate_limits.updated_at) / 1000.0 * ${ratePerS}::float8)`;
    const rows = await db`INSERT INTO rate_limits (bucket, key, tokens, updated_at, full_at)
      SELECT ${bucket}, v.key, ${burst - 1}::float8, v.now, v.now + ceil(1000 / ${ratePerS}::float8)::bigint
      FROM unnest(${takes.map((t) => t.key)}::text[], ${takes.map((t) => t.now)}::bigint[]) AS v(key, now)
      ORDER BY v.key
      ON CONFLICT (bucket, key) DO UPDATE SET
        tokens = ${refilled} - 1,
        updated_at = excluded.updated_at,
        full_at = excluded.updated_at + ceil((${burst}::float8 - (${refilled} - 1)) * 1000 / ${ratePerS}::float8)::bigint
      WHERE ${refilled} >= 1
      RETURNING key`;
    return new Set(rows.map((r: Row) => r.key as string));
  };
  const settle = async (bucket: string, ratePerS: number, burst: number, takes: Take[]) => {
    try {
      const taken = await takeMany(bucket, ratePerS, burst, takes);
      for (const t of takes)
        t.resolve(taken.has(t.key) ? 0 : await waitOf(bucket, t.key, ratePerS, burst, t.now));
    } catch (e) {
      for (const t of takes) t.reject(e);
    }
  };

  if (inTransaction(db))
    return {
      async take(bucket, key, ratePerS, burst, now) {
        await removeFull(now);
        const taken = await takeMany(bucket, ratePerS, burst, [{ key, now }]);
        return taken.has(key) ? 0 : waitOf(bucket, key, ratePerS, burst, now);
      },
    };

  let waiting: Take[] = [];
  let scheduled = false;
  const flush = async () => {
    scheduled = false;
    const takes = waiting;
    waiting = [];
    // beside the takes, not before them: they need none of the rows it deletes; a cleanup that
    // fails leaves rows that mean nothing until the next one
    removeFull(Math.max(...takes.map((t) => t.now))).catch(() => {});
    // one statement per bucket and rate; a key asked twice goes again once this round is done
    const groups = new Map<string, Take[]>();
    const seen = new Set<string>();
    const again: Take[] = [];
    for (const t of takes) {
      const once = `${t.bucket}\0${t.key}`;
      if (seen.has(once)) {
        again.push(t);
        continue;
      }
      seen.add(once);
      const group = `${t.bucket}\0${t.ratePerS}\0${t.burst}`;
      groups.set(group, [...(groups.get(group) ?? []), t]);
    }
    await Promise.all(
      [...groups.values()].map((g) => {
        const { bucket, ratePerS, burst } = g[0] as Take;
        return settle(bucket, ratePerS, burst, g);
      }),
    );
    if (again.length) {
      waiting.push(...again);
      schedule();
    }
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => void flush());
  };
  return {
    take(bucket, key, ratePerS, burst, now) {
      return new Promise((resolve, reject) => {
        waiting.push({ bucket, key, ratePerS, burst, now, resolve, reject });
        schedule();
      });
    },
  };
}

export function pgStats(db: SQL): StatsRepository {
  return {
    async clientsByStatus() {
      const rows =
        await db`SELECT status, liveness, count(*) AS count FROM clients GROUP BY status, liveness`;
      return rows.map((r: Row) => ({ status: r.status, liveness: r.liveness, count: Number(r.count) }));
    },
    async outboxByChannel() {
      const rows = await db`SELECT channel, status, count(*) AS count FROM outbox GROUP BY channel, status`;
      return rows.map((r: Row) => ({ channel: r.channel, status: r.status, count: Number(r.count) }));
    },
    async oldestDueCheck(now) {
      const [r] = await db`SELECT min(next_check_at) AS t FROM clients WHERE next_check_at <= ${now}`;
      return r?.t === null || r?.t === undefined ? null : Number(r.t);
    },
  };
}
