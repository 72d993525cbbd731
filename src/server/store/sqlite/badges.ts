/** Badge tokens and report runs in bun:sqlite. */
import type { Database } from "bun:sqlite";
import type { BadgeKind, BadgeRecord, BadgeRepository, ReportRun, ReportRunRepository } from "../types.ts";
import { num } from "./clients.ts";
import type { Sync } from "./sync.ts";

type Row = Record<string, string | number | null>;

function toBadge(r: Row): BadgeRecord {
  return {
    id: r.id as string,
    clientId: r.client_id as string,
    kind: r.kind as BadgeKind,
    tokenHash: r.token_hash as string,
    label: (r.label as string | null) ?? null,
    createdAt: r.created_at as number,
    lastUsedAt: num(r.last_used_at),
    revokedAt: num(r.revoked_at),
  };
}

export function sqliteBadges(db: Database): Sync<BadgeRepository> {
  return {
    create(b) {
      db.query(
        `INSERT INTO badge_tokens (id, client_id, kind, token_hash, label, created_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ).run(b.id, b.clientId, b.kind, b.tokenHash, b.label, b.createdAt);
    },
    list: (clientId) =>
      db
        .query<Row, [string]>("SELECT * FROM badge_tokens WHERE client_id = ? ORDER BY created_at DESC, id")
        .all(clientId)
        .map(toBadge),
    findActiveByHash(hash) {
      const r = db
        .query<Row, [string]>("SELECT * FROM badge_tokens WHERE token_hash = ? AND revoked_at IS NULL")
        .get(hash);
      return r ? toBadge(r) : null;
    },
    touch(id, at) {
      db.query("UPDATE badge_tokens SET last_used_at = ? WHERE id = ?").run(at, id);
    },
    revoke: (id, at) =>
      db.query("UPDATE badge_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(at, id)
        .changes > 0,
  };
}

function toRun(r: Row): ReportRun {
  return {
    schedule: r.schedule as string,
    periodStart: r.period_start as number,
    periodEnd: r.period_end as number,
    status: r.status as ReportRun["status"],
    queued: r.queued as number,
    createdAt: r.created_at as number,
    note: (r.note as string | null) ?? null,
  };
}

export function sqliteReportRuns(db: Database): Sync<ReportRunRepository> {
  return {
    claim: (run) =>
      db
        .query(
          `INSERT INTO report_runs (schedule, period_end, period_start, status, queued, created_at, note)
           VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        )
        .run(run.schedule, run.periodEnd, run.periodStart, run.status, run.queued, run.createdAt, run.note)
        .changes > 0,
    last(schedule) {
      const r = db
        .query<Row, [string]>("SELECT * FROM report_runs WHERE schedule = ? ORDER BY period_end DESC LIMIT 1")
        .get(schedule);
      return r ? toRun(r) : null;
    },
    list: (limit) =>
      db
        .query<Row, [number]>("SELECT * FROM report_runs ORDER BY created_at DESC, period_end DESC LIMIT ?")
        .all(limit)
        .map(toRun),
  };
}
