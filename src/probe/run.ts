/**
 * One full probe round (IPv4, IPv6 and DNS at once), as the agent and `sentinel check` run it.
 * Never throws: whatever fails becomes an entry in `errors`, so a report always goes out.
 */
import type { DnsObservation, IpFamilyResult, OracleLookup, ProbeError } from "../protocol/report.ts";
import type { ProviderPool } from "./backoff.ts";
import { type DnsProbe, lookUpOracleNames, probeDnsResolvers } from "./dns.ts";
import { probePublicIp } from "./public-ip.ts";

export interface ProbeConfig {
  ip4Providers: string[];
  ip6Providers: string[];
  /** Family-agnostic providers (the server's whoami), asked in both families. */
  anyFamilyProviders: string[];
  ipv6: boolean;
  dnsProbes: DnsProbe[];
  dnsResolver?: string;
  timeoutMs: number;
  userAgent?: string;
}

export interface ProbeResult {
  ipv4: IpFamilyResult;
  ipv6?: IpFamilyResult;
  dns: DnsObservation[];
  /** lookups of the server's DNS oracle names (absent: none this round) */
  dnsOracle?: OracleLookup[];
  errors: ProbeError[];
}

export interface ProbeDeps {
  pool?: ProviderPool;
  fetch?: typeof fetch;
  now?: () => number;
  signal?: AbortSignal;
  resolvConfPath?: string;
  /** this round's DNS oracle names (src/agent/oracle.ts), looked up like the DNS probes */
  oracleNames?: () => Promise<{ name: string; type: "A" | "AAAA" }[]>;
}

/** Summarises a family result as an error entry when it gives no trustworthy address. */
function familyError(probe: string, r: IpFamilyResult): ProbeError | null {
  if (!r.consistent) {
    const seen = r.answers.filter((a) => a.ip).map((a) => `${a.ip} (${a.provider})`);
    return { probe, message: `providers disagree: ${seen.join(", ")}`.slice(0, 1024) };
  }
  if (r.ip) return null;
  const why = r.answers.map((a) => `${a.provider}: ${a.error ?? "no answer"}`);
  return {
    probe,
    message: (r.answers.length
      ? `no provider answered (${why.join("; ")})`
      : "no answer in this family (no provider for it, or only ones that answered in the other family)"
    ).slice(0, 1024),
  };
}

/** The IP part of a round: both families and their errors, known before the DNS part may be. */
export type IpProbeResult = Omit<ProbeResult, "dns" | "dnsOracle">;

/**
 * A round in flight. `ip` settles as soon as both families have answered, so a caller in a
 * hurry (the agent after a network change) can report them without waiting for DNS probes
 * whose resolver may have died with the tunnel; `result` settles when everything is in.
 */
export interface ProbeRound {
  ip: Promise<IpProbeResult>;
  result: Promise<ProbeResult>;
}

export function startProbes(cfg: ProbeConfig, deps: ProbeDeps = {}): ProbeRound {
  const ipOpts = {
    timeoutMs: cfg.timeoutMs,
    anyFamily: cfg.anyFamilyProviders,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.pool ? { pool: deps.pool } : {}),
    ...(deps.signal ? { signal: deps.signal } : {}),
    ...(cfg.userAgent ? { userAgent: cfg.userAgent } : {}),
  };
  // The report schema allows 16 answers per family.
  const list = (own: string[]) => [...new Set([...own, ...cfg.anyFamilyProviders])].slice(0, 16);
  const ip = Promise.all([
    probePublicIp(4, list(cfg.ip4Providers), ipOpts),
    cfg.ipv6 ? probePublicIp(6, list(cfg.ip6Providers), ipOpts) : Promise.resolve(undefined),
  ]).then(([ipv4, ipv6]): IpProbeResult => {
    const errors: ProbeError[] = [];
    for (const [probe, r] of [
      ["ipv4", ipv4],
      ["ipv6", ipv6],
    ] as const) {
      const err = r ? familyError(probe, r) : null;
      if (err) errors.push(err);
    }
    return { ipv4, ...(ipv6 ? { ipv6 } : {}), errors };
  });
  const dnsErrors: ProbeError[] = [];
  const dnsOptions = {
    timeoutMs: cfg.timeoutMs,
    ...(cfg.dnsResolver ? { resolver: cfg.dnsResolver } : {}),
    ...(deps.resolvConfPath ? { resolvConfPath: deps.resolvConfPath } : {}),
    ...(deps.signal ? { signal: deps.signal } : {}),
  };
  const dns = probeDnsResolvers(cfg.dnsProbes.slice(0, 16), dnsOptions).catch((e: Error) => {
    dnsErrors.push({ probe: "dns", message: e.message.slice(0, 1024) });
    return [] as DnsObservation[];
  });
  // the server's DNS oracle names belong to the DNS part: they go through the same resolvers
  const oracle = (deps.oracleNames?.() ?? Promise.resolve([]))
    .then((names) => (names.length ? lookUpOracleNames(names, dnsOptions) : []))
    .catch(() => [] as OracleLookup[]);
  const result = Promise.all([ip, dns, oracle]).then(([ipPart, observations, dnsOracle]): ProbeResult => {
    const errors = [...ipPart.errors, ...dnsErrors];
    for (const d of observations)
      if (d.error) errors.push({ probe: `dns ${d.probe} ${d.type}`.slice(0, 256), message: d.error });
    for (const l of dnsOracle) if (l.error) errors.push({ probe: `dns oracle ${l.type}`, message: l.error });
    return {
      ...ipPart,
      dns: observations,
      ...(dnsOracle.length ? { dnsOracle } : {}),
      errors: errors.slice(0, 32),
    };
  });
  return { ip, result };
}

export function runProbes(cfg: ProbeConfig, deps: ProbeDeps = {}): Promise<ProbeResult> {
  return startProbes(cfg, deps).result;
}
