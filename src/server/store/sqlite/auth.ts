/** Dashboard users, their sessions and the audit log in bun:sqlite. */
import type { Database } from "bun:sqlite";
import type { ApiRole, AuditEntry, AuthRepository, SessionRecord, UserRecord } from "../types.ts";
import type { Sync } from "./sync.ts";

type Cell = string | number | null;
type Row = Record<string, Cell>;

const num = (v: Cell | undefined) => (v === null || v === undefined ? null : Number(v));

function toUser(r: Row): UserRecord {
  return {
    id: r.id as string,
    name: r.name as string,
    role: r.role as ApiRole,
    passwordHash: r.password_hash as string,
    createdAt: r.created_at as number,
    passwordChangedAt: r.password_changed_at as number,
    lastLoginAt: num(r.last_login_at),
    failedLogins: r.failed_logins as number,
    lockedUntil: num(r.locked_until),
  };
}

function toSession(r: Row): SessionRecord {
  return {
    idHash: r.id_hash as string,
    userId: r.user_id as string,
    csrfToken: r.csrf_token as string,
    createdAt: r.created_at as number,
    expiresAt: r.expires_at as number,
    lastSeenAt: r.last_seen_at as number,
    sourceIp: (r.source_ip as string | null) ?? null,
  };
}

function toAudit(r: Row): AuditEntry {
  return {
    id: r.id as number,
    at: r.at as number,
    actor: r.actor as string,
    action: r.action as string,
    target: (r.target as string | null) ?? null,
    detail: JSON.parse((r.detail_json as string) || "{}") as Record<string, unknown>,
    sourceIp: (r.source_ip as string | null) ?? null,
  };
}

export function sqliteAuth(db: Database): Sync<AuthRepository> {
  const one = (sql: string, ...params: Cell[]) => db.query<Row, Cell[]>(sql).get(...params);
  const all = (sql: string, ...params: Cell[]) => db.query<Row, Cell[]>(sql).all(...params);
  const exec = (sql: string, ...params: Cell[]) => db.query(sql).run(...params).changes;

  return {
    countUsers: () => (one("SELECT count(*) AS n FROM users") as { n: number }).n,
    createUser(u) {
      exec(
        "INSERT INTO users (id, name, role, password_hash, created_at, password_changed_at) VALUES (?, ?, ?, ?, ?, ?)",
        u.id,
        u.name,
        u.role,
        u.passwordHash,
        u.createdAt,
        u.createdAt,
      );
    },
    getUser(id) {
      const r = one("SELECT * FROM users WHERE id = ?", id);
      return r ? toUser(r) : null;
    },
    getUserByName(name) {
      const r = one("SELECT * FROM users WHERE name = ?", name);
      return r ? toUser(r) : null;
    },
    listUsers: () => all("SELECT * FROM users ORDER BY name").map(toUser),
    removeUser: (id) => exec("DELETE FROM users WHERE id = ?", id) > 0,
    setPassword(id, passwordHash, at) {
      exec(
        "UPDATE users SET password_hash = ?, password_changed_at = ?, failed_logins = 0, locked_until = NULL WHERE id = ?",
        passwordHash,
        at,
        id,
      );
    },
    setRole(id, role) {
      exec("UPDATE users SET role = ? WHERE id = ?", role, id);
    },
    recordFailedLogin(id, lockAfter, lockUntil) {
      const r = one(
        `UPDATE users SET failed_logins = failed_logins + 1,
           locked_until = CASE WHEN failed_logins + 1 >= ? THEN ? ELSE locked_until END
         WHERE id = ? RETURNING failed_logins`,
        lockAfter,
        lockUntil,
        id,
      );
      return (r?.failed_logins as number | undefined) ?? 0;
    },
    recordLogin(id, at) {
      exec("UPDATE users SET last_login_at = ?, failed_logins = 0, locked_until = NULL WHERE id = ?", at, id);
    },

    createSession(s) {
      exec(
        `INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at, last_seen_at, source_ip)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
        s.idHash,
        s.userId,
        s.csrfToken,
        s.createdAt,
        s.expiresAt,
        s.lastSeenAt,
        s.sourceIp,
      );
    },
    getSession(idHash) {
      const r = one("SELECT * FROM sessions WHERE id_hash = ?", idHash);
      return r ? toSession(r) : null;
    },
    touchSession(idHash, at, expiresAt) {
      exec("UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id_hash = ?", at, expiresAt, idHash);
    },
    deleteSession(idHash) {
      exec("DELETE FROM sessions WHERE id_hash = ?", idHash);
    },
    deleteUserSessions(userId, keepIdHash) {
      return exec("DELETE FROM sessions WHERE user_id = ? AND id_hash IS NOT ?", userId, keepIdHash ?? null);
    },
    pruneSessions: (now) => exec("DELETE FROM sessions WHERE expires_at < ?", now),

    audit(e) {
      const r = db
        .query(
          "INSERT INTO audit_log (at, actor, action, target, detail_json, source_ip) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .run(e.at, e.actor, e.action, e.target, JSON.stringify(e.detail), e.sourceIp);
      return Number(r.lastInsertRowid);
    },
    listAudit(q) {
      const where: string[] = [];
      const params: Cell[] = [];
      if (q.before !== undefined) {
        where.push("id < ?");
        params.push(q.before);
      }
      if (q.actor !== undefined) {
        where.push("actor = ?");
        params.push(q.actor);
      }
      const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`;
      return all(sql, ...params, q.limit).map(toAudit);
    },
  };
}
