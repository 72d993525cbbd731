/** Badge tokens and report runs on PostgreSQL. */
import type { SQL } from "bun";
import type { BadgeKind, BadgeRecord, BadgeRepository, ReportRun, ReportRunRepository } from "../types.ts";
import { num, type Row } from "./rows.ts";

function toBadge(r: Row): BadgeRecord {
  return {
    id: r.id,
    clientId: r.client_id,
    kind: r.kind as BadgeKind,
    tokenHash: r.token_hash,
    label: r.label ?? null,
    createdAt: Number(r.created_at),
    lastUsedAt: num(r.last_used_at),
    revokedAt: num(r.revoked_at),
  };
}

export function pgBadges(db: SQL): BadgeRepository {
  return {
    async create(b) {
      await db`INSERT INTO badge_tokens (id, client_id, kind, token_hash, label, created_at)
        VALUES (${b.id}, ${b.clientId}, ${b.kind}, ${b.tokenHash}, ${b.label}, ${b.createdAt})`;
    },
    async list(clientId) {
      const rows = await db`SELECT * FROM badge_tokens WHERE client_id = ${clientId}
        ORDER BY created_at DESC, id COLLATE "C"`;
      return rows.map(toBadge);
    },
    async findActiveByHash(hash) {
      const [r] = await db`SELECT * FROM badge_tokens WHERE token_hash = ${hash} AND revoked_at IS NULL`;
      return r ? toBadge(r) : null;
    },
    async touch(id, at) {
      await db`UPDATE badge_tokens SET last_used_at = ${at} WHERE id = ${id}`;
    },
    async revoke(id, at) {
      return (
        (await db`UPDATE badge_tokens SET revoked_at = ${at} WHERE id = ${id} AND revoked_at IS NULL`).count >
        0
      );
    },
  };
}

function toRun(r: Row): ReportRun {
  return {
    schedule: r.schedule,
    periodStart: Number(r.period_start),
    periodEnd: Number(r.period_end),
    status: r.status as ReportRun["status"],
    queued: Number(r.queued),
    createdAt: Number(r.created_at),
    note: r.note ?? null,
  };
}

export function pgReportRuns(db: SQL): ReportRunRepository {
  return {
    async claim(run) {
      // the primary key (schedule, period_end) decides: a period runs once, whichever replica leads
      const res =
        await db`INSERT INTO report_runs (schedule, period_end, period_start, status, queued, created_at, note)
        VALUES (${run.schedule}, ${run.periodEnd}, ${run.periodStart}, ${run.status}, ${run.queued}, ${run.createdAt}, ${run.note})
        ON CONFLICT DO NOTHING`;
      return res.count > 0;
    },
    async last(schedule) {
      const [r] =
        await db`SELECT * FROM report_runs WHERE schedule = ${schedule} ORDER BY period_end DESC LIMIT 1`;
      return r ? toRun(r) : null;
    },
    async list(limit) {
      const rows =
        await db`SELECT * FROM report_runs ORDER BY created_at DESC, period_end DESC LIMIT ${limit}`;
      return rows.map(toRun);
    },
  };
}
