/** Clients on PostgreSQL: one row each in `clients`, the judged state beside it in `client_state`. */
import type { SQL } from "bun";
import type { ClientColumns, ClientRecord, ClientRepository, Heartbeat } from "../types.ts";
import { atomically } from "./db.ts";
import { type Row, toClient, toColumns, toSummary } from "./rows.ts";

const nonEmpty = (rows: Row[]) => (rows[0] ? toClient(rows[0]) : null);

/** An UPDATE's status_since: kept while the status stays, `at` when it changes (SET sees the old row). */
const statusSince = (db: SQL, status: string, at: number | null) =>
  db`status_since = CASE WHEN status = ${status} AND status_since IS NOT NULL THEN status_since ELSE ${at}::bigint END`;

const selectClients = (db: SQL) => db`SELECT c.*, s.state_json, s.last_report_json
    FROM clients c LEFT JOIN client_state s ON s.client_id = c.id`;

/**
 * Reads and locks many clients in one statement (group commit): the whole record of those in
 * `whole`, the columns only (ClientRepository.lockColumns) of the others. The locks are taken
 * in id order, so two replicas locking overlapping sets wait for each other instead of
 * deadlocking. The state and last report of a columns-only row are not even read (no TOAST).
 */
export async function lockClients(
  db: SQL,
  ids: readonly string[],
  whole: ReadonlySet<string>,
): Promise<Map<string, ClientRecord | ClientColumns>> {
  const all = [...ids];
  const wholeIds = all.filter((id) => whole.has(id));
  const rows = wholeIds.length
    ? await db`SELECT c.*, w.whole, CASE WHEN w.whole THEN s.state_json END AS state_json,
          CASE WHEN w.whole THEN s.last_report_json END AS last_report_json
        FROM clients c CROSS JOIN LATERAL (SELECT c.id = ANY(${wholeIds}::text[]) AS whole) w
          LEFT JOIN client_state s ON s.client_id = c.id
        WHERE c.id = ANY(${all}::text[]) ORDER BY c.id COLLATE "C" FOR UPDATE OF c`
    : await db`SELECT c.*, false AS whole FROM clients c
        WHERE c.id = ANY(${all}::text[]) ORDER BY c.id COLLATE "C" FOR UPDATE`;
  return new Map(rows.map((r: Row) => [r.id as string, r.whole ? toClient(r) : toColumns(r)]));
}

/** Many clients' heartbeats (see ClientRepository.heartbeat) in one statement. */
export async function heartbeatClients(db: SQL, beats: readonly (readonly [string, Heartbeat])[]) {
  const column = <T>(pick: (h: Heartbeat) => T) => beats.map(([, h]) => pick(h));
  await db`UPDATE clients SET last_source_ip = v.ip, last_report_at = v.report_at, last_observed_at = v.observed_at,
      late_at = v.late_at, offline_at = v.offline_at, next_check_at = v.next_check_at
    FROM unnest(${beats.map(([id]) => id)}::text[], ${column((h) => h.lastSourceIp)}::text[],
      ${column((h) => h.lastReportAt)}::bigint[], ${column((h) => h.lastObservedAt)}::bigint[],
      ${column((h) => h.lateAt)}::bigint[], ${column((h) => h.offlineAt)}::bigint[],
      ${column((h) => h.nextCheckAt)}::bigint[])
      AS v(id, ip, report_at, observed_at, late_at, offline_at, next_check_at)
    WHERE clients.id = v.id`;
}

export function pgClients(db: SQL): ClientRepository {
  const select = selectClients(db);

  return {
    async create(c) {
      await db`INSERT INTO clients (id, name, created_at, secret_enc, origin)
        VALUES (${c.id}, ${c.name}, ${c.createdAt}, ${c.secretEnc}, ${c.origin ?? "enrolled"})`;
    },
    async get(id) {
      return nonEmpty(await db`${select} WHERE c.id = ${id}`);
    },
    async getForUpdate(id) {
      // OF c: the state row is on the nullable side of the join; the client row is the lock
      return nonEmpty(await db`${select} WHERE c.id = ${id} FOR UPDATE OF c`);
    },
    async lockColumns(id) {
      const [r] = await db`SELECT * FROM clients WHERE id = ${id} FOR UPDATE`;
      return r ? toColumns(r) : null;
    },
    async getByName(name) {
      return nonEmpty(await db`${select} WHERE lower(c.name) = lower(${name}::text COLLATE "C")`);
    },
    async list() {
      return (await db`${select} ORDER BY lower(c.name)`).map(toClient);
    },
    async withStatus(status) {
      return (await db`${select} WHERE c.status = ${status}`).map(toClient);
    },
    async page(after, limit) {
      // names are unique without regard to case, so a name is a cursor
      const rows =
        after === null
          ? await db`${select} ORDER BY lower(c.name) LIMIT ${limit}`
          : await db`${select} WHERE lower(c.name) > lower(${after}::text COLLATE "C")
              ORDER BY lower(c.name) LIMIT ${limit}`;
      return rows.map(toClient);
    },
    async summaries() {
      const rows =
        await db`SELECT id, name, status, liveness, last_report_at, exit_ip, exit_country, exit_asn, exit_org,
          status_since, causes
        FROM clients ORDER BY lower(name)`;
      return rows.map(toSummary);
    },
    async getMany(ids) {
      if (ids.length === 0) return [];
      return (await db`${select} WHERE c.id = ANY(${[...ids]}::text[])`).map(toClient);
    },
    async countByStatus() {
      const rows = await db`SELECT status, count(*) AS n FROM clients GROUP BY status`;
      return Object.fromEntries(rows.map((r: Row) => [r.status, Number(r.n)]));
    },
    async withFlag(flag, now) {
      // read only for a list filtered by them, so the overview's summaries parse no settings
      const rows =
        flag === "paused"
          ? await db`SELECT id FROM clients WHERE policy_json ->> 'paused' = 'true'`
          : await db`SELECT id FROM clients WHERE CASE WHEN json_typeof(policy_json -> 'muted_until') = 'number'
              THEN (policy_json ->> 'muted_until')::float8 > ${now} ELSE false END`;
      return rows.map((r: Row) => r.id as string);
    },
    async remove(id) {
      // client_state goes with it (ON DELETE CASCADE)
      return (await db`DELETE FROM clients WHERE id = ${id}`).count > 0;
    },
    async updateSettings(id, settings) {
      await db`UPDATE clients SET policy_json = ${db.json(settings)} WHERE id = ${id}`;
    },
    async rotateSecret(id, secretEnc, prevUntil) {
      await db`UPDATE clients SET prev_secret_enc = secret_enc, prev_secret_until = ${prevUntil},
        secret_enc = ${secretEnc} WHERE id = ${id}`;
    },
    reencryptSecrets(reencrypt) {
      return atomically(db, async (tx) => {
        const rows = await tx`SELECT id, secret_enc, prev_secret_enc FROM clients FOR UPDATE`;
        for (const r of rows as Row[]) {
          const prev = r.prev_secret_enc === null ? null : reencrypt(r.prev_secret_enc);
          await tx`UPDATE clients SET secret_enc = ${reencrypt(r.secret_enc)}, prev_secret_enc = ${prev}
            WHERE id = ${r.id}`;
        }
        return rows.length;
      });
    },
    async applyReport(id, u) {
      // one statement: the state row and the client row change together or not at all
      await db`WITH state AS (
          INSERT INTO client_state (client_id, state_json, last_report_json)
          VALUES (${id}, ${db.json(u.state)}, ${db.json(u.lastReport)})
          ON CONFLICT (client_id) DO UPDATE
            SET state_json = excluded.state_json, last_report_json = excluded.last_report_json
        )
        UPDATE clients SET last_source_ip = ${u.lastSourceIp}, last_report_at = ${u.lastReportAt},
          last_observed_at = ${u.lastObservedAt}, status = ${u.status}, liveness = ${u.liveness},
          late_at = ${u.lateAt}, offline_at = ${u.offlineAt}, next_check_at = ${u.nextCheckAt},
          exit_ip = ${u.exit?.ip ?? null}, exit_country = ${u.exit?.country ?? null},
          exit_asn = ${u.exit?.asn ?? null}, exit_org = ${u.exit?.org ?? null},
          ${statusSince(db, u.status, u.lastReportAt)}, causes = ${(u.causes ?? []).join(",")},
          revision = revision + 1
        WHERE id = ${id}`;
    },
    async heartbeat(id, h) {
      await db`UPDATE clients SET last_source_ip = ${h.lastSourceIp}, last_report_at = ${h.lastReportAt},
        last_observed_at = ${h.lastObservedAt}, late_at = ${h.lateAt}, offline_at = ${h.offlineAt},
        next_check_at = ${h.nextCheckAt} WHERE id = ${id}`;
    },
    async dueForSweep(now, limit) {
      return (
        await db`${select} WHERE c.next_check_at <= ${now} ORDER BY c.next_check_at LIMIT ${limit}`
      ).map(toClient);
    },
    async casState(id, expect, next) {
      const state = next.state === null ? null : db.json(next.state);
      const [r] = await db`WITH changed AS (
          UPDATE clients SET liveness = ${next.liveness}, status = ${next.status}, late_at = ${next.lateAt},
            offline_at = ${next.offlineAt}, next_check_at = ${next.nextCheckAt},
            ${statusSince(db, next.status, next.at)}, causes = ${next.causes.join(",")}, revision = revision + 1
          WHERE id = ${id} AND liveness = ${expect.liveness}
            AND last_report_at IS NOT DISTINCT FROM ${expect.lastReportAt}::bigint
          RETURNING id
        ), state AS (
          UPDATE client_state SET state_json = ${state}::json
          WHERE ${state}::json IS NOT NULL AND client_id IN (SELECT id FROM changed)
        )
        SELECT count(*) AS n FROM changed`;
      return Number((r as Row).n) === 1;
    },
  };
}
