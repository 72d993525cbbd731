/**
 * The DNS oracle on the HTTP side: fresh labels for a client (in the 202 answer and in
 * whoami), and a report's sightings attached to it. See docs/protocol.md, "DNS oracle".
 */
import type { OracleSighting, ReportV1 } from "../../protocol/report.ts";
import type { Transaction } from "../store/index.ts";
import type { OracleLabels } from "./labels.ts";
import { SIGHTING_TTL_MS } from "./listener.ts";

/** What the server hands a client: names to resolve in its next round. */
export interface OracleGrant {
  zone: string;
  /** one label per lookup: the first for A, the second for AAAA */
  labels: string[];
  /** how long the labels stay valid */
  expires_in_s: number;
}

/** Labels outlive the interval they are meant for by this much (a late round, a slow upload). */
const LABEL_SLACK_S = 300;
/** Sightings attached to one report, at most. */
const MAX_SIGHTINGS = 16;

export class DnsOracle {
  constructor(
    /** lower case, no trailing dot */
    readonly zone: string,
    private readonly labels: OracleLabels,
  ) {}

  /** Labels for one round of `clientId`, valid for `intervalS` and a margin. */
  grant(clientId: string, now: number, intervalS = 0): OracleGrant {
    const lifetimeS = Math.round(intervalS) + LABEL_SLACK_S;
    return {
      zone: this.zone,
      labels: [0, 1].map(() => this.labels.mint(clientId, now, lifetimeS * 1000)),
      expires_in_s: lifetimeS,
    };
  }

  /** True when the report looked up names (of any zone: attach sorts out which count). */
  carries(report: ReportV1): boolean {
    return (report.dns_oracle?.length ?? 0) > 0;
  }

  /**
   * The report with `oracle_seen`: who asked this server for its names. Only names minted for
   * this client count, each once (a label is burnt like a nonce, in `tx`); their sightings are
   * taken out of the store, so they attach to this report and no other.
   */
  async attach(
    report: ReportV1,
    clientId: string,
    tx: Pick<Transaction, "nonces" | "oracle">,
    now: number,
  ): Promise<ReportV1> {
    const names: string[] = [];
    for (const lookup of report.dns_oracle ?? []) {
      const name = lookup.name.toLowerCase().replace(/\.$/, "");
      if (!name.endsWith(`.${this.zone}`) || names.includes(name)) continue;
      const label = name.slice(0, -this.zone.length - 1);
      // a label resolved just before it expired may arrive a little after
      const checked = this.labels.checkFor(label, clientId, now - SIGHTING_TTL_MS);
      if (checked === null) continue;
      const expiresAt = checked.expiresAt + SIGHTING_TTL_MS;
      if (await tx.nonces.use(clientId, `oracle:${label}`, expiresAt, now)) names.push(name);
    }
    const seen: OracleSighting[] = names.length ? await tx.oracle.take(names) : [];
    return { ...report, oracle_seen: seen.slice(0, MAX_SIGHTINGS) };
  }
}
