/** Daily rollups on PostgreSQL: client_days (running totals per client) and fleet_days (sums per day). */
import type { SQL } from "bun";
import type { ClientDay, FleetDay, RollupCarry, RollupRepository, Totals } from "../types.ts";
import { atomically } from "./db.ts";
import type { Row } from "./rows.ts";

/** Totals fields and their columns, in one list so every statement agrees. */
const FIELDS: readonly [keyof Totals, string][] = [
  ["knownMs", "known_ms"],
  ["upMs", "up_ms"],
  ["greenMs", "green_ms"],
  ["yellowMs", "yellow_ms"],
  ["redMs", "red_ms"],
  ["greyMs", "grey_ms"],
  ["changes", "changes"],
  ["bypassN", "bypass_n"],
  ["bypassMs", "bypass_ms"],
  ["dnsN", "dns_n"],
  ["dnsMs", "dns_ms"],
  ["ipv6N", "ipv6_n"],
  ["ipv6Ms", "ipv6_ms"],
  ["exitN", "exit_n"],
  ["exitMs", "exit_ms"],
  ["offlineN", "offline_n"],
  ["offlineMs", "offline_ms"],
  ["recoveredN", "recovered_n"],
  ["recoveredMs", "recovered_ms"],
];

/** Client rows per INSERT: 22 parameters each, well under PostgreSQL's 65,535 per statement. */
const INSERT_ROWS = 1_000;

function totalsOf(r: Row): Totals {
  const t = {} as Totals;
  for (const [f, c] of FIELDS) t[f] = Number(r[c]);
  return t;
}

const noCarry: RollupCarry = { redSince: null, open: {} };

function toClientDay(r: Row): ClientDay {
  return {
    clientId: r.client_id,
    day: Number(r.day),
    running: totalsOf(r),
    carry: (r.carry_json as RollupCarry | null) ?? noCarry,
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
