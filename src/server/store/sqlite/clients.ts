/** Clients in bun:sqlite: identity and liveness columns in `clients`, judged state in `client_state`. */
import type { Database } from "bun:sqlite";
import type { ReportV1 } from "../../../protocol/report.ts";
import { readSettings } from "../../monitor/settings.ts";
import type { ClientState } from "../../monitor/types.ts";
import type { ClientColumns, ClientRecord, ClientRepository, ClientSummary, ExitSummary } from "../types.ts";
import type { Sync } from "./sync.ts";

type Cell = string | number | null | undefined;
type Row = Record<string, Cell>;

export const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
export const parse = (v: Cell): unknown => (typeof v === "string" ? JSON.parse(v) : null);
export const num = (v: Cell) => (v === null || v === undefined ? null : Number(v));

function exitOf(r: Row): ExitSummary | null {
  return typeof r.exit_ip === "string"
    ? {
        ip: r.exit_ip,
        country: (r.exit_country as string | null) ?? null,
        asn: num(r.exit_asn),
        org: (r.exit_org as string | null) ?? null,
      }
    : null;
}

/** Cause codes are stored comma-separated ("" for none). */
export const causesOf = (v: Cell): string[] => (typeof v === "string" && v !== "" ? v.split(",") : []);

function toSummary(r: Row): ClientSummary {
  return {
    id: r.id as string,
    name: r.name as string,
    status: r.status as string,
    liveness: r.liveness as string,
    lastReportAt: num(r.last_report_at),
    exit: exitOf(r),
    statusSince: num(r.status_since),
    causes: causesOf(r.causes),
  };
}

function toClient(r: Row): ClientRecord {
  return {
    ...toColumns(r),
    state: parse(r.state_json) as ClientState | null,
    lastReport: parse(r.last_report_json) as ReportV1 | null,
  };
}

function toColumns(r: Row): ClientColumns {
  return {
    ...toSummary(r),
    createdAt: r.created_at as number,
    origin: r.origin === "legacy" ? "legacy" : "enrolled",
    secretEnc: r.secret_enc as string,
    prevSecretEnc: (r.prev_secret_enc as string | null) ?? null,
    prevSecretUntil: num(r.prev_secret_until),
    settings: readSettings(parse(r.policy_json)),
    lastSourceIp: (r.last_source_ip as string | null) ?? null,
    lastObservedAt: num(r.last_observed_at),
    lateAt: num(r.late_at),
    offlineAt: num(r.offline_at),
    nextCheckAt: num(r.next_check_at),
    revision: r.revision as number,
  };
}

/** An UPDATE's status_since: kept while the status stays, `$at` when it changes (SET sees the old row). */
const STATUS_SINCE = "status_since = iif(status = $status AND status_since IS NOT NULL, status_since, $at)";

const CLIENT_SELECT = `SELECT c.*, s.state_json, s.last_report_json FROM clients c LEFT JOIN client_state s ON s.client_id = c.id`;

const SUMMARY_SELECT = `SELECT id, name, status, liveness, last_report_at, exit_ip, exit_country, exit_asn, exit_org,
  status_since, causes FROM clients ORDER BY name`;

export function sqliteClients(db: Database): Sync<ClientRepository> {
  // biome-ignore lint/suspicious/noExplicitAny: bun:sqlite binding objects are loosely typed
  const run = (sql: string, params: Record<string, any>) => db.query(sql).run(params);
  type Param = string | number | null;
  const one = (sql: string, ...params: Param[]) => {
    const r = db.query<Row, Param[]>(sql).get(...params);
    return r ? toClient(r) : null;
  };
  const all = (sql: string, ...params: Param[]) =>
    db
      .query<Row, Param[]>(sql)
      .all(...params)
      .map(toClient);
  const get = (id: string) => one(`${CLIENT_SELECT} WHERE c.id = ?`, id);

  return {
    create(c) {
      run(
        "INSERT INTO clients (id, name, created_at, secret_enc, origin) VALUES ($id, $name, $createdAt, $secretEnc, $origin)",
        { ...c, origin: c.origin ?? "enrolled" },
      );
    },
    get,
    // one writer: nothing else can change the row before this transaction commits
    getForUpdate: get,
    lockColumns(id) {
      const r = db.query<Row, [string]>("SELECT * FROM clients WHERE id = ?").get(id);
      return r ? toColumns(r) : null;
    },
    getByName: (name) => one(`${CLIENT_SELECT} WHERE c.name = ?`, name),
    list: () => all(`${CLIENT_SELECT} ORDER BY c.name`),
    withStatus: (status) => all(`${CLIENT_SELECT} WHERE c.status = ?`, status),
    // names are unique without regard to case (the column's NOCASE), so a name is a cursor
    page: (after, limit) =>
      all(`${CLIENT_SELECT} WHERE c.name > ? ORDER BY c.name LIMIT ?`, after ?? "", limit),
    summaries: () => db.query<Row, []>(SUMMARY_SELECT).all().map(toSummary),
    // json_each: one statement for any number of ids, no parameter limit
    getMany: (ids) =>
      all(`${CLIENT_SELECT} WHERE c.id IN (SELECT value FROM json_each(?))`, JSON.stringify(ids)),
    countByStatus() {
      const rows = db
        .query<{ status: string; n: number }, []>("SELECT status, count(*) AS n FROM clients GROUP BY status")
        .all();
      return Object.fromEntries(rows.map((r) => [r.status, r.n]));
    },
    // read only for a list filtered by them, so the overview's summaries parse no settings
    withFlag: (flag, now) =>
      (flag === "paused"
        ? db.query<{ id: string }, []>("SELECT id FROM clients WHERE policy_json ->> '$.paused'").all()
        : db
            .query<{ id: string }, [number]>(
              "SELECT id FROM clients WHERE policy_json ->> '$.muted_until' > ?",
            )
            .all(now)
      ).map((r) => r.id),
    remove: (id) =>
      db.transaction(() => {
        db.query("DELETE FROM client_state WHERE client_id = ?").run(id);
        return db.query("DELETE FROM clients WHERE id = ?").run(id).changes > 0;
      })(),
    updateSettings(id, settings) {
      run("UPDATE clients SET policy_json = $s WHERE id = $id", { id, s: json(settings) });
    },
    rotateSecret(id, secretEnc, prevUntil) {
      run(
        "UPDATE clients SET prev_secret_enc = secret_enc, prev_secret_until = $prevUntil, secret_enc = $secretEnc WHERE id = $id",
        { id, secretEnc, prevUntil },
      );
    },
    reencryptSecrets: (reencrypt) =>
      db.transaction(() => {
        const rows = db.query<Row, []>("SELECT id, secret_enc, prev_secret_enc FROM clients").all();
        for (const r of rows)
          run("UPDATE clients SET secret_enc = $s, prev_secret_enc = $p WHERE id = $id", {
            id: r.id,
            s: reencrypt(r.secret_enc as string),
            p: r.prev_secret_enc ? reencrypt(r.prev_secret_enc as string) : null,
          });
        return rows.length;
      })(),
    applyReport(id, u) {
      run(
        `INSERT INTO client_state (client_id, state_json, last_report_json) VALUES ($id, $state, $report)
         ON CONFLICT(client_id) DO UPDATE SET state_json = excluded.state_json, last_report_json = excluded.last_report_json`,
        { id, state: json(u.state), report: json(u.lastReport) },
      );
      run(
        `UPDATE clients SET last_source_ip = $ip, last_report_at = $at, last_observed_at = $observed, status = $status,
         liveness = $liveness, late_at = $lateAt, offline_at = $offlineAt, next_check_at = $nextCheckAt,
         exit_ip = $exitIp, exit_country = $exitCountry, exit_asn = $exitAsn, exit_org = $exitOrg,
         ${STATUS_SINCE}, causes = $causes, revision = revision + 1 WHERE id = $id`,
        {
          id,
          causes: (u.causes ?? []).join(","),
          exitIp: u.exit?.ip ?? null,
          exitCountry: u.exit?.country ?? null,
          exitAsn: u.exit?.asn ?? null,
          exitOrg: u.exit?.org ?? null,
          ip: u.lastSourceIp,
          at: u.lastReportAt,
          observed: u.lastObservedAt,
          status: u.status,
          liveness: u.liveness,
          lateAt: u.lateAt,
          offlineAt: u.offlineAt,
          nextCheckAt: u.nextCheckAt,
        },
      );
    },
    heartbeat(id, h) {
      db.query(
        `UPDATE clients SET last_source_ip = ?, last_report_at = ?, last_observed_at = ?, late_at = ?, offline_at = ?,
         next_check_at = ? WHERE id = ?`,
      ).run(h.lastSourceIp, h.lastReportAt, h.lastObservedAt, h.lateAt, h.offlineAt, h.nextCheckAt, id);
    },
    dueForSweep: (now, limit) =>
      all(`${CLIENT_SELECT} WHERE c.next_check_at <= ? ORDER BY c.next_check_at LIMIT ?`, now, limit),
    casState(id, expect, next) {
      const res = run(
        `UPDATE clients SET liveness = $liveness, status = $status, late_at = $lateAt,
         offline_at = $offlineAt, next_check_at = $nextCheckAt, ${STATUS_SINCE}, causes = $causes,
         revision = revision + 1
         WHERE id = $id AND liveness = $expLiveness AND last_report_at IS $expAt`,
        {
          id,
          at: next.at,
          causes: next.causes.join(","),
          liveness: next.liveness,
          status: next.status,
          lateAt: next.lateAt,
          offlineAt: next.offlineAt,
          nextCheckAt: next.nextCheckAt,
          expLiveness: expect.liveness,
          expAt: expect.lastReportAt,
        },
      );
      if (res.changes !== 1) return false;
      if (next.state !== null)
        run("UPDATE client_state SET state_json = $state WHERE client_id = $id", {
          id,
          state: json(next.state),
        });
      return true;
    },
  };
}
