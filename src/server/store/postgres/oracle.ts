/** The DNS oracle's sightings on PostgreSQL (see OracleRepository): shared by every replica. */
import type { SQL } from "bun";
import type { OracleSighting } from "../../../protocol/report.ts";
import type { OracleRepository } from "../types.ts";
import type { Row } from "./rows.ts";

const toSighting = (r: Row): OracleSighting => ({
  name: r.name,
  qtype: r.qtype,
  resolver: r.resolver,
  transport: r.transport === "tcp" ? "tcp" : "udp",
  client_subnet: r.client_subnet,
  at: Number(r.at),
});

export function pgOracle(db: SQL): OracleRepository {
  return {
    async record(s, expiresAt) {
      await db`INSERT INTO dns_oracle_sightings (name, qtype, resolver, transport, client_subnet, at, expires_at)
        VALUES (${s.name}, ${s.qtype}, ${s.resolver}, ${s.transport}, ${s.client_subnet}, ${s.at}, ${expiresAt})`;
    },
    async take(names) {
      if (names.length === 0) return [];
      // DELETE … RETURNING: when two replicas take the same name at once, each row goes to one
      const rows = await db`DELETE FROM dns_oracle_sightings WHERE name = ANY(${names}::text[])
        RETURNING id, name, qtype, resolver, transport, client_subnet, at`;
      return (rows as Row[])
        .sort((a, b) => Number(a.at) - Number(b.at) || Number(a.id) - Number(b.id))
        .map(toSighting);
    },
    async prune(now) {
      return (await db`DELETE FROM dns_oracle_sightings WHERE expires_at < ${now}`).count;
    },
  };
}
