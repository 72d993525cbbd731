/**
 * The server's DNS oracle as the agent sees it (docs/protocol.md, "DNS oracle"): the server
 * hands out fresh labels under its zone (in each 202 answer, and from whoami for a first
 * round), and each round resolves two of them, A and AAAA, through the system resolver. Who
 * asks the server for them is the evidence; the agent only reports that it looked them up.
 */
import type { OracleLookupType } from "../protocol/report.ts";

/** One name to look up this round. */
export interface OracleName {
  name: string;
  type: OracleLookupType;
}

export interface OracleGrant {
  zone: string;
  labels: string[];
  expires_in_s: number;
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const ZONE = /^(?=.{1,200}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;
/** After a server said it has no zone, ask again only this much later (it may get one). */
const NO_ZONE_BACKOFF_MS = 3_600_000;
/** Labels are used a little before the server's expiry: the lookup and the upload take time. */
const EXPIRY_MARGIN_MS = 30_000;

/** The `dns_oracle` of a 202 or whoami answer; null when absent or not usable. */
export function parseOracleGrant(value: unknown): OracleGrant | null {
  if (typeof value !== "object" || value === null) return null;
  const g = value as Record<string, unknown>;
  const zone = typeof g.zone === "string" ? g.zone.toLowerCase() : "";
  const labels = Array.isArray(g.labels) ? g.labels : [];
  const expires = g.expires_in_s;
  if (!ZONE.test(zone) || labels.length < 2 || typeof expires !== "number" || !(expires > 0)) return null;
  if (!labels.every((l) => typeof l === "string" && DNS_LABEL.test(l))) return null;
  return { zone, labels: labels.slice(0, 2) as string[], expires_in_s: expires };
}

/** The labels in hand for the next round. */
export class OracleNames {
  private grant: { zone: string; labels: string[]; until: number } | null = null;
  private noZoneUntil = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * What a server answer said: a grant replaces the labels in hand; an answer without one (a
   * server without --dns-zone, or an older one) means none will come for a while.
   */
  offer(grant: OracleGrant | null): void {
    if (grant === null) {
      this.noZoneUntil = this.now() + NO_ZONE_BACKOFF_MS;
      return;
    }
    this.noZoneUntil = 0;
    this.grant = {
      zone: grant.zone,
      labels: grant.labels,
      until: this.now() + grant.expires_in_s * 1000 - EXPIRY_MARGIN_MS,
    };
  }

  /** The names for one round (used up), or null when none are in hand. */
  take(): OracleName[] | null {
    const g = this.grant;
    this.grant = null;
    if (g === null || g.until < this.now()) return null;
    const [a, aaaa] = g.labels;
    return [
      { name: `${a}.${g.zone}`, type: "A" },
      { name: `${aaaa}.${g.zone}`, type: "AAAA" },
    ];
  }

  /** True when asking the server for labels makes sense (it did not just say it has no zone). */
  get worthAsking(): boolean {
    return this.noZoneUntil <= this.now();
  }

  /**
   * The names for this round: those in hand, else fresh ones from the server's whoami (the
   * first round, or after the server could not be reached). Never throws; [] when there are none.
   */
  async forRound(
    /** the server's whoami URL with `?client=<id>` */
    url: string,
    opts: { timeoutMs: number; fetch?: typeof fetch; signal?: AbortSignal },
  ): Promise<OracleName[]> {
    const inHand = this.take();
    if (inHand) return inHand;
    if (!this.worthAsking) return [];
    const timeout = AbortSignal.timeout(opts.timeoutMs);
    try {
      const res = await (opts.fetch ?? fetch)(url, {
        signal: opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout,
        redirect: "error",
        keepalive: false,
      });
      if (!res.ok) return [];
      const body = (await res.json()) as { dns_oracle?: unknown };
      this.offer(parseOracleGrant(body.dns_oracle));
      return this.take() ?? [];
    } catch {
      // unreachable now: the round goes on without the oracle, the next one asks again
      return [];
    }
  }
}
