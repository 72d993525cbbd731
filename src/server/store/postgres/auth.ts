/** Dashboard users, their sessions and the audit log on PostgreSQL. */
import type { SQL } from "bun";
import type { AuthRepository } from "../types.ts";
import { where } from "./repositories.ts";
import { type Row, toAudit, toSession, toUser } from "./rows.ts";

export function pgAuth(db: SQL): AuthRepository {
  return {
    async countUsers() {
      const [r] = await db`SELECT count(*) AS n FROM users`;
      return Number((r as Row).n);
    },
    async createUser(u) {
      await db`INSERT INTO users (id, name, role, password_hash, created_at, password_changed_at)
        VALUES (${u.id}, ${u.name}, ${u.role}, ${u.passwordHash}, ${u.createdAt}, ${u.createdAt})`;
    },
    async getUser(id) {
      const [r] = await db`SELECT * FROM users WHERE id = ${id}`;
      return r ? toUser(r) : null;
    },
    async getUserByName(name) {
      const [r] = await db`SELECT * FROM users WHERE lower(name) = lower(${name}::text COLLATE "C")`;
      return r ? toUser(r) : null;
    },
    async listUsers() {
      return (await db`SELECT * FROM users ORDER BY lower(name)`).map(toUser);
    },
    async removeUser(id) {
      return (await db`DELETE FROM users WHERE id = ${id}`).count > 0;
    },
    async setPassword(id, passwordHash, at) {
      await db`UPDATE users SET password_hash = ${passwordHash}, password_changed_at = ${at}, failed_logins = 0,
        locked_until = NULL WHERE id = ${id}`;
    },
    async setRole(id, role) {
      await db`UPDATE users SET role = ${role} WHERE id = ${id}`;
    },
    async recordFailedLogin(id, lockAfter, lockUntil) {
      const [r] = await db`UPDATE users SET failed_logins = failed_logins + 1,
          locked_until = CASE WHEN failed_logins + 1 >= ${lockAfter} THEN ${lockUntil}::bigint ELSE locked_until END
        WHERE id = ${id} RETURNING failed_logins`;
      return r ? Number((r as Row).failed_logins) : 0;
    },
    async recordLogin(id, at) {
      await db`UPDATE users SET last_login_at = ${at}, failed_logins = 0, locked_until = NULL WHERE id = ${id}`;
    },

    async createSession(s) {
      await db`INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at, last_seen_at, source_ip)
        VALUES (${s.idHash}, ${s.userId}, ${s.csrfToken}, ${s.createdAt}, ${s.expiresAt}, ${s.lastSeenAt}, ${s.sourceIp})`;
    },
    async getSession(idHash) {
      const [r] = await db`SELECT * FROM sessions WHERE id_hash = ${idHash}`;
      return r ? toSession(r) : null;
    },
    async touchSession(idHash, at, expiresAt) {
      await db`UPDATE sessions SET last_seen_at = ${at}, expires_at = ${expiresAt} WHERE id_hash = ${idHash}`;
    },
    async deleteSession(idHash) {
      await db`DELETE FROM sessions WHERE id_hash = ${idHash}`;
    },
    async deleteUserSessions(userId, keepIdHash) {
      const res = await db`DELETE FROM sessions WHERE user_id = ${userId}
        AND id_hash IS DISTINCT FROM ${keepIdHash ?? null}::text`;
      return res.count;
    },
    async pruneSessions(now) {
      return (await db`DELETE FROM sessions WHERE expires_at < ${now}`).count;
    },

    async audit(e) {
      const [r] = await db`INSERT INTO audit_log (at, actor, action, target, detail_json, source_ip)
        VALUES (${e.at}, ${e.actor}, ${e.action}, ${e.target}, ${db.json(e.detail)}, ${e.sourceIp}) RETURNING id`;
      return Number((r as Row).id);
    },
    async listAudit(q) {
      const conditions = [];
      if (q.before !== undefined) conditions.push(db`id < ${q.before}`);
      if (q.actor !== undefined) conditions.push(db`actor = ${q.actor}`);
      const rows =
        await db`SELECT * FROM audit_log WHERE ${where(db, conditions)} ORDER BY id DESC LIMIT ${q.limit}`;
      return rows.map(toAudit);
    },
  };
}
