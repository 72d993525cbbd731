/** Events (flips), history rows, API tokens and server meta in bun:sqlite. */
import type { Database } from "bun:sqlite";
import type {
  ApiRole,
  ApiTokenRecord,
  ApiTokenRepository,
  ClientHistoryRow,
  EventRecord,
  EventRepository,
  HistoryRepository,
  HistoryRow,
  MetaRepository,
} from "../types.ts";
import { json, num, parse } from "./clients.ts";
import type { Sync } from "./sync.ts";

type Cell = string | number | null | undefined;
type Row = Record<string, Cell>;

function toEvent(r: Row): EventRecord {
  return {
    id: r.id as number,
    clientId: (r.client_id as string | null) ?? null,
    kind: r.kind as string,
    from: (r.from_status as string | null) ?? null,
    to: (r.to_status as string | null) ?? null,
    evidence: (parse(r.evidence_json) as Record<string, unknown>) ?? {},
    at: r.at as number,
    suppressed: r.suppressed === 1,
  };
}

function toToken(r: Row): ApiTokenRecord {
  return {
    id: r.id as string,
    name: r.name as string,
    role: r.role as ApiRole,
    tokenHash: r.token_hash as string,
    createdAt: r.created_at as number,
    lastUsedAt: num(r.last_used_at),
    revokedAt: num(r.revoked_at),
  };
}

export function sqliteEvents(db: Database): Sync<EventRepository> {
  return {
    append(e) {
      const res = db
        .query(
          `INSERT INTO events (client_id, kind, from_status, to_status, evidence_json, at, suppressed)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(e.clientId, e.kind, e.from, e.to, json(e.evidence), e.at, e.suppressed ? 1 : 0);
      return Number(res.lastInsertRowid);
    },
    query(q) {
      const where: string[] = [];
      const params: Record<string, string | number> = { limit: q.limit };
      if (q.clientId !== undefined) {
        where.push("client_id = $clientId");
        params.clientId = q.clientId;
      }
      if (q.since !== undefined) {
        where.push("at >= $since");
        params.since = q.since;
      }
      if (q.before !== undefined) {
        where.push("id < $before");
        params.before = q.before;
      }
      if (q.kinds?.length) {
        where.push(`kind IN (${q.kinds.map((_, i) => `$k${i}`).join(", ")})`);
        q.kinds.forEach((k, i) => {
          params[`k${i}`] = k;
        });
      }
      if (q.search) {
        // instr on lower(): LIKE would read % and _ in the text as wildcards
        where.push(`(instr(lower(evidence_json ->> '$.reason'), $text) > 0
          OR client_id IN (SELECT value FROM json_each($searchClients))
          OR kind IN (SELECT value FROM json_each($searchKinds)))`);
        params.text = q.search.text.toLowerCase();
        params.searchClients = JSON.stringify(q.search.clientIds);
        params.searchKinds = JSON.stringify(q.search.kinds);
      }
      const sql = `SELECT * FROM events ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT $limit`;
      return db.query<Row, [Record<string, string | number>]>(sql).all(params).map(toEvent);
    },
    count: () => (db.query<{ n: number }, []>("SELECT count(*) AS n FROM events").get() as { n: number }).n,
  };
}

function toHistoryRow(r: Row): HistoryRow {
  return {
    at: r.at as number,
    status: r.status as string,
    liveness: r.liveness as string,
    exitIpv4: (r.exit_ipv4 as string | null) ?? null,
    exitIpv6: (r.exit_ipv6 as string | null) ?? null,
    resolvers: (r.resolvers as string | null) ?? null,
    causes: (r.causes as string | null) ?? null,
    detail: (parse(r.detail_json) as HistoryRow["detail"]) ?? null,
  };
}

const STATUS_COLUMNS = "h.id, h.client_id, h.at, h.status, h.liveness, h.causes";

export function sqliteHistory(db: Database): Sync<HistoryRepository> {
  return {
    record(clientId, row) {
      const last = db
        .query<Row, [string]>(
          "SELECT * FROM client_history WHERE client_id = ? ORDER BY at DESC, id DESC LIMIT 1",
        )
        .get(clientId);
      const causes = row.causes ?? null;
      if (
        last &&
        last.status === row.status &&
        last.liveness === row.liveness &&
        last.exit_ipv4 === row.exitIpv4 &&
        last.exit_ipv6 === row.exitIpv6 &&
        last.resolvers === row.resolvers &&
        (last.causes ?? null) === causes
      )
        return false;
      db.query(
        `INSERT INTO client_history (client_id, at, status, liveness, exit_ipv4, exit_ipv6, resolvers, causes, detail_json)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        clientId,
        row.at,
        row.status,
        row.liveness,
        row.exitIpv4,
        row.exitIpv6,
        row.resolvers,
        causes,
        row.detail ? json(row.detail) : null,
      );
      return true;
    },
    range(clientId, from, to) {
      const before = db
        .query<Row, [string, number]>(
          "SELECT * FROM client_history WHERE client_id = ? AND at < ? ORDER BY at DESC, id DESC LIMIT 1",
        )
        .all(clientId, from);
      const within = db
        .query<Row, [string, number, number]>(
          "SELECT * FROM client_history WHERE client_id = ? AND at >= ? AND at <= ? ORDER BY at, id",
        )
        .all(clientId, from, to);
      return [...before, ...within].map(toHistoryRow);
    },
    rangeMany(clientIds, from, to, opts) {
      // the row in force at `from`: one index seek per client (a GROUP BY over every older row
      // would read all of history); then the rows inside the window
      const ids = clientIds === null ? null : JSON.stringify(clientIds);
      const who =
        ids === null
          ? "SELECT id AS client_id FROM clients"
          : "SELECT value AS client_id FROM json_each($ids)";
      const columns = opts?.statusOnly ? STATUS_COLUMNS : "h.*";
      const inForce = `SELECT ${columns} FROM (${who}) c CROSS JOIN client_history h ON h.id =
             (SELECT x.id FROM client_history x WHERE x.client_id = c.client_id AND x.at < $from
              ORDER BY x.at DESC, x.id DESC LIMIT 1)
           UNION ALL`;
      const rows = db
        .query<Row, Record<string, string | number>>(
          `${opts?.inForce === false ? "" : inForce}
           SELECT ${columns} FROM client_history h WHERE h.at >= $from AND h.at <= $to
             AND ${ids === null ? "h.client_id IN (SELECT id FROM clients)" : "h.client_id IN (SELECT value FROM json_each($ids))"}
           ORDER BY client_id, at, id`,
        )
        .all(ids === null ? { from, to } : { from, to, ids });
      if (opts?.statusOnly)
        return rows.map(
          (r): ClientHistoryRow => ({
            clientId: r.client_id as string,
            at: r.at as number,
            status: r.status as string,
            liveness: r.liveness as string,
            causes: (r.causes as string | null) ?? null,
            exitIpv4: null,
            exitIpv6: null,
            resolvers: null,
          }),
        );
      return rows.map((r): ClientHistoryRow => ({ clientId: r.client_id as string, ...toHistoryRow(r) }));
    },
    firstAt: () =>
      db.query<{ t: number | null }, []>("SELECT min(at) AS t FROM client_history").get()?.t ?? null,
    exitTimes: (clientId, from, to) =>
      db
        .query<{ ip: string; ms: number }, [Record<string, string | number>]>(
          `WITH stretches AS (
             SELECT coalesce(exit_ipv4, exit_ipv6) AS ip, liveness, at,
                    lead(at) OVER (ORDER BY at, id) AS next_at
             FROM client_history
             WHERE client_id = $client AND at <= $to AND at >= coalesce(
               (SELECT max(at) FROM client_history WHERE client_id = $client AND at < $from), $from)
           )
           SELECT ip, sum(max(0, min(coalesce(next_at, $to), $to) - max(at, $from))) AS ms
           FROM stretches
           WHERE ip IS NOT NULL AND liveness IN ('online', 'late')
           GROUP BY ip HAVING ms > 0 ORDER BY ms DESC, ip`,
        )
        .all({ client: clientId, from, to }),
    recordServerDowntime(from, to) {
      db.query("INSERT INTO server_downtime (from_at, to_at) VALUES (?, ?)").run(from, to);
    },
    serverDowntimes: (from, to) =>
      db
        .query<{ from_at: number; to_at: number }, [number, number]>(
          "SELECT from_at, to_at FROM server_downtime WHERE to_at >= ? AND from_at <= ? ORDER BY from_at",
        )
        .all(from, to)
        .map((r) => ({ from: r.from_at, to: r.to_at })),
    prune: (before) =>
      db.transaction(() => {
        // keep each client's latest row before the cut: it says what was true when the window opens
        const h = db
          .query(
            `DELETE FROM client_history WHERE at < $before AND id NOT IN
             (SELECT max(id) FROM client_history WHERE at < $before GROUP BY client_id)`,
          )
          .run({ before }).changes;
        const e = db.query("DELETE FROM events WHERE at < ?").run(before).changes;
        const d = db.query("DELETE FROM server_downtime WHERE to_at < ?").run(before).changes;
        return h + e + d;
      })(),
  };
}

export function sqliteTokens(db: Database): Sync<ApiTokenRepository> {
  return {
    create(t) {
      db.query("INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?)").run(
        t.id,
        t.name,
        t.role,
        t.tokenHash,
        t.createdAt,
      );
    },
    list: () => db.query<Row, []>("SELECT * FROM api_tokens ORDER BY name").all().map(toToken),
    findActiveByHash(hash) {
      const r = db
        .query<Row, [string]>("SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL")
        .get(hash);
      return r ? toToken(r) : null;
    },
    touch(id, at) {
      db.query("UPDATE api_tokens SET last_used_at = ? WHERE id = ?").run(at, id);
    },
    revoke: (nameOrId, at) =>
      db
        .query("UPDATE api_tokens SET revoked_at = ? WHERE (id = ? OR name = ?) AND revoked_at IS NULL")
        .run(at, nameOrId, nameOrId).changes > 0,
  };
}

export function sqliteMeta(db: Database): Sync<MetaRepository> {
  return {
    get: (key) =>
      db.query<{ value: string }, [string]>("SELECT value FROM meta WHERE key = ?").get(key)?.value ?? null,
    set(key, value) {
      db.query(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      ).run(key, value);
    },
  };
}
