/** The DNS oracle's sightings in bun:sqlite (see OracleRepository). */
import type { Database } from "bun:sqlite";
import type { OracleSighting } from "../../../protocol/report.ts";
import type { OracleRepository } from "../types.ts";
import type { Sync } from "./sync.ts";

interface Row {
  name: string;
  qtype: string;
  resolver: string;
  transport: string;
  client_subnet: string | null;
  at: number;
}

const toSighting = (r: Row): OracleSighting => ({
  name: r.name,
  qtype: r.qtype,
  resolver: r.resolver,
  transport: r.transport === "tcp" ? "tcp" : "udp",
  client_subnet: r.client_subnet,
  at: r.at,
});

export function sqliteOracle(db: Database): Sync<OracleRepository> {
  return {
    record(s, expiresAt) {
      db.query(
        `INSERT INTO dns_oracle_sightings (name, qtype, resolver, transport, client_subnet, at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(s.name, s.qtype, s.resolver, s.transport, s.client_subnet, s.at, expiresAt);
    },
    take(names) {
      if (names.length === 0) return [];
      // one cached statement for any number of names
      const rows = db
        .query<Row & { id: number }, [string]>(
          `DELETE FROM dns_oracle_sightings WHERE name IN (SELECT value FROM json_each(?))
           RETURNING id, name, qtype, resolver, transport, client_subnet, at`,
        )
        .all(JSON.stringify(names));
      return rows.sort((a, b) => a.at - b.at || a.id - b.id).map(toSighting);
    },
    prune(now) {
      return db.query("DELETE FROM dns_oracle_sightings WHERE expires_at < ?").run(now).changes;
    },
  };
}
