/**
 * Aggregate counts for /metrics: read-only, grouped in SQL so a scrape costs one indexed
 * query per family instead of loading every row. Wired into openSqliteStore as `store.stats`.
 */
import type { Database } from "bun:sqlite";

export interface StatsRepository {
  /** clients per (status, liveness) */
  clientsByStatus(): { status: string; liveness: string; count: number }[];
  /** outbox rows per (channel, status); finished rows are pruned after a while, so these go down too */
  outboxByChannel(): { channel: string; status: string; count: number }[];
  /** the earliest next_check_at at or before `now`: how far behind the sweeper is; null when nothing is due */
  oldestDueCheck(now: number): number | null;
}

export function sqliteStatsRepository(db: Database): StatsRepository {
  return {
    clientsByStatus: () =>
      db
        .query<{ status: string; liveness: string; count: number }, []>(
          "SELECT status, liveness, count(*) AS count FROM clients GROUP BY status, liveness",
        )
        .all(),
    outboxByChannel: () =>
      db
        .query<{ channel: string; status: string; count: number }, []>(
          "SELECT channel, status, count(*) AS count FROM outbox GROUP BY channel, status",
        )
        .all(),
    oldestDueCheck: (now) =>
      db
        .query<{ t: number | null }, [number]>(
          "SELECT min(next_check_at) AS t FROM clients WHERE next_check_at <= ?",
        )
        .get(now)?.t ?? null,
  };
}
