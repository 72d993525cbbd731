/** The bun:sqlite implementation of Store. bun:sqlite types never leave this folder. */
import { Database } from "bun:sqlite";
import { statSync } from "node:fs";
import { dirname } from "node:path";
import { ensurePrivateDir, makePrivate } from "../private-files.ts";
import { sqliteAuthRepository } from "./auth.ts";
import { openIntactDatabase } from "./integrity.ts";
import { MIGRATIONS, type Migration } from "./migrations.ts";
import { packHashes, unpackHashes } from "./nonce-hash.ts";
import { sqliteOutboxRepository } from "./outbox.ts";
import { sqliteStatsRepository } from "./stats.ts";
import type {
  ApiRole,
  ApiTokenRecord,
  ClientRecord,
  ClientSummary,
  ClientUpdate,
  EventQuery,
  EventRecord,
  ExitSummary,
  NewEvent,
  Readiness,
  Store,
} from "./types.ts";

type Cell = string | number | null | undefined;
type Row = Record<string, Cell>;

const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
const parse = (v: Cell): unknown => (typeof v === "string" ? JSON.parse(v) : null);
const num = (v: Cell) => (v === null || v === undefined ? null : Number(v));

function toClient(r: Row): ClientRecord {
  return {
    ...toSummary(r),
    createdAt: r.created_at as number,
    origin: r.origin === "legacy" ? "legacy" : "enrolled",
    secretEnc: r.secret_enc as string,
    prevSecretEnc: (r.prev_secret_enc as string | null) ?? null,
    prevSecretUntil: num(r.prev_secret_until),
    policy: (parse(r.policy_json) as Record<string, unknown>) ?? {},
    state: parse(r.state_json),
    lastReport: parse(r.last_report_json),
    lastSourceIp: (r.last_source_ip as string | null) ?? null,
    lastObservedAt: num(r.last_observed_at),
    lateAt: num(r.late_at),
    offlineAt: num(r.offline_at),
    nextCheckAt: num(r.next_check_at),
  };
}

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

const CLIENT_SELECT = `SELECT c.*, s.state_json, s.last_report_json FROM clients c LEFT JOIN client_state s ON s.client_id = c.id`;

const SUMMARY_SELECT = `SELECT id, name, status, liveness, last_report_at, exit_ip, exit_country, exit_asn, exit_org
  FROM clients ORDER BY name`;

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

function toSummary(r: Row): ClientSummary {
  return {
    id: r.id as string,
    name: r.name as string,
    status: r.status as string,
    liveness: r.liveness as string,
    lastReportAt: num(r.last_report_at),
    exit: exitOf(r),
  };
}

export function openDatabase(path: string): Database {
  if (path !== ":memory:") ensurePrivateDir(dirname(path));
  const db = new Database(path, { create: true, strict: true });
  db.exec("PRAGMA busy_timeout = 5000");
  db.exec("PRAGMA journal_mode = WAL");
  // new -wal/-shm files take the database's mode, so once it is 0600 they are too
  if (path !== ":memory:") makePrivate(path, `${path}-wal`, `${path}-shm`);
  // FULL, not NORMAL: a 202 promises the report is stored. With NORMAL a WAL commit is not
  // fsynced, and a kernel that remounts the disk read-only after an I/O error (ext4
  // errors=remount-ro, common on SD cards) loses acknowledged commits; test/backup-storage.test.ts
  // proves the difference. Reports share commits (src/server/write-batcher.ts), so one fsync
  // covers every report that arrived in the same event-loop turn.
  db.exec("PRAGMA synchronous = FULL");
  // 8 MiB of page cache instead of 2: a report that changes a client reads its row while the
  // same transaction writes others', and with the default cache that read cost 2-3x more.
  db.exec("PRAGMA cache_size = -8192");
  db.exec("PRAGMA foreign_keys = ON");
  return db;
}

export function migrate(db: Database): number {
  const current = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (current > MIGRATIONS.length)
    throw new Error(
      `the database schema (v${current}) is newer than this sentinel (v${MIGRATIONS.length}); upgrade sentinel`,
    );
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      const migration = MIGRATIONS[v] as Migration;
      if (typeof migration === "string") db.exec(migration);
      else migration(db);
      db.exec(`PRAGMA user_version = ${v + 1}`);
    }).immediate();
  }
  return MIGRATIONS.length;
}

/** `quickCheck`: read the whole file for damage first (the server at start; see integrity.ts). */
export function openSqliteStore(path: string, opts: { quickCheck?: boolean } = {}): Store {
  const db = openIntactDatabase(path, openDatabase, opts);
  migrate(db);
  const q = (sql: string) => db.query<Row, never[]>(sql);
  // biome-ignore lint/suspicious/noExplicitAny: bun:sqlite binding objects are loosely typed
  const run = (sql: string, params: Record<string, any>) => db.query(sql).run(params);

  const clients: Store["clients"] = {
    create(c) {
      run(
        "INSERT INTO clients (id, name, created_at, secret_enc, origin) VALUES ($id, $name, $createdAt, $secretEnc, $origin)",
        { ...c, origin: c.origin ?? "enrolled" },
      );
    },
    get(id) {
      const r = db.query<Row, [string]>(`${CLIENT_SELECT} WHERE c.id = ?`).get(id);
      return r ? toClient(r) : null;
    },
    externalChangeCounter() {
      return (db.query("PRAGMA data_version").get() as { data_version: number }).data_version;
    },
    getByName(name) {
      const r = db.query<Row, [string]>(`${CLIENT_SELECT} WHERE c.name = ?`).get(name);
      return r ? toClient(r) : null;
    },
    list() {
      return q(`${CLIENT_SELECT} ORDER BY c.name`).all().map(toClient);
    },
    withStatus(status) {
      return db.query<Row, [string]>(`${CLIENT_SELECT} WHERE c.status = ?`).all(status).map(toClient);
    },
    page(after, limit) {
      // names are unique without regard to case (the column's NOCASE), so a name is a cursor
      return db
        .query<Row, [string, number]>(`${CLIENT_SELECT} WHERE c.name > ? ORDER BY c.name LIMIT ?`)
        .all(after ?? "", limit)
        .map(toClient);
    },
    summaries() {
      return q(SUMMARY_SELECT).all().map(toSummary);
    },
    getMany(ids) {
      // json_each: one statement for any number of ids, no parameter limit
      return db
        .query<Row, [string]>(`${CLIENT_SELECT} WHERE c.id IN (SELECT value FROM json_each(?))`)
        .all(JSON.stringify(ids))
        .map(toClient);
    },
    countByStatus() {
      const rows = db
        .query<{ status: string; n: number }, []>("SELECT status, count(*) AS n FROM clients GROUP BY status")
        .all();
      return Object.fromEntries(rows.map((r) => [r.status, r.n]));
    },
    remove(id) {
      return db.transaction(() => {
        db.query("DELETE FROM client_state WHERE client_id = ?").run(id);
        return db.query("DELETE FROM clients WHERE id = ?").run(id).changes > 0;
      })();
    },
    updatePolicy(id, policy) {
      run("UPDATE clients SET policy_json = $p WHERE id = $id", { id, p: json(policy) });
    },
    rotateSecret(id, secretEnc, prevUntil) {
      run(
        "UPDATE clients SET prev_secret_enc = secret_enc, prev_secret_until = $prevUntil, secret_enc = $secretEnc WHERE id = $id",
        { id, secretEnc, prevUntil },
      );
    },
    reencryptSecrets(reencrypt) {
      return db
        .transaction(() => {
          const rows = q("SELECT id, secret_enc, prev_secret_enc FROM clients").all();
          for (const r of rows) {
            run("UPDATE clients SET secret_enc = $s, prev_secret_enc = $p WHERE id = $id", {
              id: r.id,
              s: reencrypt(r.secret_enc as string),
              p: r.prev_secret_enc ? reencrypt(r.prev_secret_enc as string) : null,
            });
          }
          return rows.length;
        })
        .immediate();
    },
    applyReport(id, u: ClientUpdate) {
      run(
        `INSERT INTO client_state (client_id, state_json, last_report_json) VALUES ($id, $state, $report)
         ON CONFLICT(client_id) DO UPDATE SET state_json = excluded.state_json, last_report_json = excluded.last_report_json`,
        { id, state: json(u.state), report: json(u.lastReport) },
      );
      run(
        `UPDATE clients SET last_source_ip = $ip, last_report_at = $at, last_observed_at = $observed, status = $status,
         liveness = $liveness, late_at = $lateAt, offline_at = $offlineAt, next_check_at = $nextCheckAt,
         exit_ip = $exitIp, exit_country = $exitCountry, exit_asn = $exitAsn, exit_org = $exitOrg WHERE id = $id`,
        {
          id,
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
    dueForSweep(now, limit) {
      return db
        .query<Row, [number, number]>(
          `${CLIENT_SELECT} WHERE c.next_check_at <= ? ORDER BY c.next_check_at LIMIT ?`,
        )
        .all(now, limit)
        .map(toClient);
    },
    casState(id, expect, next) {
      const res = run(
        `UPDATE clients SET liveness = $liveness, status = $status, late_at = $lateAt,
         offline_at = $offlineAt, next_check_at = $nextCheckAt
         WHERE id = $id AND liveness = $expLiveness AND last_report_at IS $expAt`,
        {
          id,
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
      if (next.state !== undefined && next.state !== null)
        run("UPDATE client_state SET state_json = $state WHERE client_id = $id", {
          id,
          state: json(next.state),
        });
      return true;
    },
  };

  const nonces: Store["nonces"] = {
    append(hashes, expiresAt) {
      db.query("INSERT INTO nonce_log (expires_at, hashes) VALUES (?, ?)").run(expiresAt, packHashes(hashes));
    },
    live(now) {
      return db
        .query<{ hashes: Uint8Array; expiresAt: number }, [number]>(
          "SELECT hashes, expires_at AS expiresAt FROM nonce_log WHERE expires_at >= ?",
        )
        .all(now)
        .map((r) => ({ expiresAt: r.expiresAt, hashes: unpackHashes(r.hashes) }));
    },
    prune(now) {
      return db.query("DELETE FROM nonce_log WHERE expires_at < ?").run(now).changes;
    },
  };

  const events: Store["events"] = {
    append(e: NewEvent) {
      const res = run(
        `INSERT INTO events (client_id, kind, from_status, to_status, evidence_json, at, suppressed)
         VALUES ($clientId, $kind, $from, $to, $evidence, $at, $suppressed)`,
        { ...e, evidence: json(e.evidence), suppressed: e.suppressed ? 1 : 0 },
      );
      return Number(res.lastInsertRowid);
    },
    query(qry: EventQuery) {
      const where: string[] = [];
      const params: Record<string, string | number> = { limit: qry.limit };
      if (qry.clientId !== undefined) {
        where.push("client_id = $clientId");
        params.clientId = qry.clientId;
      }
      if (qry.since !== undefined) {
        where.push("at >= $since");
        params.since = qry.since;
      }
      if (qry.before !== undefined) {
        where.push("id < $before");
        params.before = qry.before;
      }
      if (qry.kinds?.length) {
        where.push(`kind IN (${qry.kinds.map((_, i) => `$k${i}`).join(", ")})`);
        qry.kinds.forEach((k, i) => {
          params[`k${i}`] = k;
        });
      }
      const sql = `SELECT * FROM events ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT $limit`;
      return db.query<Row, [Record<string, string | number>]>(sql).all(params).map(toEvent);
    },
    count() {
      return (q("SELECT count(*) AS n FROM events").get() as { n: number }).n;
    },
  };

  const tokens: Store["tokens"] = {
    create(t) {
      run(
        "INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES ($id, $name, $role, $tokenHash, $createdAt)",
        { id: t.id, name: t.name, role: t.role, tokenHash: t.tokenHash, createdAt: t.createdAt },
      );
    },
    list() {
      return q("SELECT * FROM api_tokens ORDER BY name").all().map(toToken);
    },
    findActiveByHash(hash) {
      const r = db
        .query<Row, [string]>("SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL")
        .get(hash);
      return r ? toToken(r) : null;
    },
    touch(id, at) {
      db.query("UPDATE api_tokens SET last_used_at = ? WHERE id = ?").run(at, id);
    },
    revoke(nameOrId, at) {
      return (
        db
          .query("UPDATE api_tokens SET revoked_at = ? WHERE (id = ? OR name = ?) AND revoked_at IS NULL")
          .run(at, nameOrId, nameOrId).changes > 0
      );
    },
  };

  const meta: Store["meta"] = {
    get(key) {
      return (
        db.query<{ value: string }, [string]>("SELECT value FROM meta WHERE key = ?").get(key)?.value ?? null
      );
    },
    set(key, value) {
      db.query(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      ).run(key, value);
    },
  };

  const history: Store["history"] = {
    record(clientId, row) {
      const last = db
        .query<Row, [string]>(
          "SELECT * FROM client_history WHERE client_id = ? ORDER BY at DESC, id DESC LIMIT 1",
        )
        .get(clientId);
      if (
        last &&
        last.status === row.status &&
        last.liveness === row.liveness &&
        last.exit_ipv4 === row.exitIpv4 &&
        last.exit_ipv6 === row.exitIpv6 &&
        last.resolvers === row.resolvers
      )
        return false;
      db.query(
        "INSERT INTO client_history (client_id, at, status, liveness, exit_ipv4, exit_ipv6, resolvers) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ).run(clientId, row.at, row.status, row.liveness, row.exitIpv4, row.exitIpv6, row.resolvers);
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
      return [...before, ...within].map((r) => ({
        at: r.at as number,
        status: r.status as string,
        liveness: r.liveness as string,
        exitIpv4: (r.exit_ipv4 as string | null) ?? null,
        exitIpv6: (r.exit_ipv6 as string | null) ?? null,
        resolvers: (r.resolvers as string | null) ?? null,
      }));
    },
    recordServerDowntime(from, to) {
      db.query("INSERT INTO server_downtime (from_at, to_at) VALUES (?, ?)").run(from, to);
    },
    serverDowntimes(from, to) {
      return db
        .query<{ from_at: number; to_at: number }, [number, number]>(
          "SELECT from_at, to_at FROM server_downtime WHERE to_at >= ? AND from_at <= ? ORDER BY from_at",
        )
        .all(from, to)
        .map((r) => ({ from: r.from_at, to: r.to_at }));
    },
    prune(before) {
      return db
        .transaction(() => {
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
        })
        .immediate();
    },
  };

  return {
    clients,
    nonces,
    events,
    tokens,
    meta,
    history,
    auth: sqliteAuthRepository(db),
    outbox: sqliteOutboxRepository(db),
    stats: sqliteStatsRepository(db),
    backupTo(file) {
      // VACUUM INTO reads one consistent snapshot while writers go on (WAL), and writes a
      // compact, self-contained file (no -wal beside it).
      db.query("VACUUM INTO ?").run(file);
    },
    transaction: transactionRunner(db),
    readiness(): Readiness {
      const expected = MIGRATIONS.length;
      try {
        const v = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
        // A real write proves the file, the WAL and the disk accept data.
        db.query(
          "INSERT INTO meta (key, value) VALUES ('ready_probe', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        ).run(String(Date.now()));
        if (v !== expected)
          return {
            ok: false,
            schemaVersion: v,
            expectedSchemaVersion: expected,
            reason: "migrations pending",
          };
        return { ok: true, schemaVersion: v, expectedSchemaVersion: expected };
      } catch (e) {
        return {
          ok: false,
          schemaVersion: -1,
          expectedSchemaVersion: expected,
          reason: `database not writable: ${(e as Error).message}`,
        };
      }
    },
    sizeBytes() {
      if (path === ":memory:") return 0;
      db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      let total = 0;
      for (const f of [path, `${path}-wal`]) {
        try {
          total += statSync(f).size;
        } catch {
          // a missing WAL file is fine
        }
      }
      return total;
    },
    close() {
      db.close();
    },
  };
}

/**
 * BEGIN IMMEDIATE … COMMIT, or a savepoint when a transaction is already open. The same as
 * bun:sqlite's db.transaction(fn).immediate(), which builds a new wrapper function per call:
 * with one nested transaction per report, that showed up as 5 % of the report path.
 */
function transactionRunner(db: Database): <T>(fn: () => T) => T {
  const begin = db.query("BEGIN IMMEDIATE");
  const commit = db.query("COMMIT");
  const rollback = db.query("ROLLBACK");
  const savepoint = db.query("SAVEPOINT nested");
  const release = db.query("RELEASE nested");
  const rollbackTo = db.query("ROLLBACK TO nested");
  return <T>(fn: () => T): T => {
    const nested = db.inTransaction;
    (nested ? savepoint : begin).run();
    try {
      const result = fn();
      (nested ? release : commit).run();
      return result;
    } catch (e) {
      // SQLite may have rolled the whole transaction back already (a full disk, say)
      if (!db.inTransaction) throw e;
      if (nested) {
        rollbackTo.run();
        release.run();
      } else rollback.run(); // a failed COMMIT can leave the transaction open
      throw e;
    }
  };
}
