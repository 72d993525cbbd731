/** Daily rollups on PostgreSQL: client_days (running totals per client) and fleet_days (sums per day). */
import type { SQL } from "bun";
import { TOTALS_COLUMNS as FIELDS, NO_CARRY, totalsOf } from "../rollup-columns.ts";
import type { ClientDay, FleetDay, RollupCarry, RollupRepository, Totals } from "../types.ts";
import { atomically } from "./db.ts";
import type { Row } from "./rows.ts";

/** Client rows per INSERT: 22 parameters each, well under PostgreSQL's 65,535 per statement. */
const INSERT_ROWS = 1_000;

function toClientDay(r: Row): ClientDay {
  return {
    clientId: r.client_id,
    day: Number(r.day),
    running: totalsOf(r),
    carry: (r.carry_json as RollupCarry | null) ?? NO_CARRY,
  };
}

function columnsOf(t: Totals): Record<string, number> {
  return Object.fromEntries(FIELDS.map(([f, c]) => [c, t[f]]));
}

export function pgRollups(db: SQL): RollupRepository {
  return {
    writeDay(day, clients, fleet) {
      return atomically(db, async (tx) => {
        await tx`DELETE FROM client_days WHERE day = ${day}`;
        await tx`DELETE FROM fleet_days WHERE day = ${day}`;
        for (let i = 0; i < clients.length; i += INSERT_ROWS) {
          const rows = clients.slice(i, i + INSERT_ROWS).map((c) => ({
            client_id: c.clientId,
            day,
            ...columnsOf(c.running),
            carry_json: c.carry,
          }));
          await tx`INSERT INTO client_days ${tx(rows)}`;
        }
        await tx`INSERT INTO fleet_days ${tx({ day, clients: fleet.clients, ...columnsOf(fleet.totals) })}`;
      });
    },
    async latest(day, clientIds) {
      // per client one seek on the primary key (client_id, day)
      const who =
        clientIds == null
          ? db`SELECT id AS client_id FROM clients`
          : db`SELECT unnest(${[...clientIds]}::text[]) AS client_id`;
      const rows = await db`SELECT d.* FROM (${who}) c CROSS JOIN LATERAL (
          SELECT * FROM client_days x WHERE x.client_id = c.client_id AND x.day <= ${day}
          ORDER BY x.day DESC LIMIT 1
        ) d`;
      return rows.map(toClientDay);
    },
    async clientDays(clientId, fromDay, toDay) {
      const rows = await db`SELECT * FROM client_days
        WHERE client_id = ${clientId} AND day >= ${fromDay} AND day <= ${toDay} ORDER BY day`;
      return rows.map(toClientDay);
    },
    async fleetDays(fromDay, toDay) {
      const rows =
        await db`SELECT * FROM fleet_days WHERE day >= ${fromDay} AND day <= ${toDay} ORDER BY day`;
      return rows.map(
        (r: Row): FleetDay => ({ day: Number(r.day), clients: Number(r.clients), totals: totalsOf(r) }),
      );
    },
    async prune(beforeDay) {
      const [r] = await db`WITH c AS (DELETE FROM client_days WHERE day < ${beforeDay} RETURNING 1),
          f AS (DELETE FROM fleet_days WHERE day < ${beforeDay} RETURNING 1)
        SELECT (SELECT count(*) FROM c) + (SELECT count(*) FROM f) AS n`;
      return Number((r as Row).n);
    },
  };
}
