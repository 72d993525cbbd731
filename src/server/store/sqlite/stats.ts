/** Aggregate counts for /metrics in bun:sqlite. */
import type { Database } from "bun:sqlite";
import type { StatsRepository } from "../types.ts";
import type { Sync } from "./sync.ts";

export function sqliteStats(db: Database): Sync<StatsRepository> {
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
