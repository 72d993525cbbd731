/**
 * The monitor's data: what the server believes about the home network, each client's policy,
 * the verdicts on a report, the client state the store keeps as JSON, and the flips (events)
 * a change produces. Every type here is plain JSON: no Date, no Map, no bigint, no undefined
 * that matters (optional fields may be absent). Times are milliseconds since the epoch; durations
 * in policy and state are seconds, like the API and the report.
 */
import type { EventKind } from "../../protocol/events.ts";
import type { AgentInfo, ProviderAnswer } from "../../protocol/report.ts";
import type { IpInfo } from "../geo/types.ts";

/** The home network's public identity: what traffic must never leave through. */
export interface HomeIdentity {
  /** IPv4/IPv6 addresses or CIDR ranges, e.g. "203.0.113.7", "2001:db8:1::/48" */
  addresses: string[];
  /** autonomous systems of the home line (the ISP) */
  asns: number[];
  /**
   * whether the server learns its own public address (--home-learn). With no address and no
   * ASN it says why home is unknown: learning has not succeeded, or was turned off.
   */
  learn: boolean;
}

/** Per-client settings that change how a report is judged and when silence counts. */
export interface ClientPolicy {
  /** ISO 3166-1 alpha-2; the exit must be in this country */
  expected_country?: string | null;
  /** the exit must be in this AS */
  expected_asn?: number | null;
  /** locked: the exit must be in one of these ASes (red when not) */
  exit_asns?: number[] | null;
  /** locked: the exit must be in one of these countries (red when not) */
  exit_countries?: string[] | null;
  /**
   * Resolver ASNs that count as safe. The server passes its `--dns-allow-asn` list here
   * (DEFAULT_DNS_ALLOW_ASNS when unset); a per-client list replaces it.
   */
  dns_allow_asns: number[];
  /** a paused client is grey, never late or offline, and its flips are suppressed */
  paused: boolean;
  /** overrides the interval the agent reports; null/absent = trust the report's interval_s */
  interval_s?: number | null;
  /** extra silence tolerated before offline; null/absent = DEFAULT_GRACE_S */
  grace_s?: number | null;
}

export type VerdictStatus =
  | "ok"
  | "leak"
  | "suspect"
  | "unknown"
  | "na"
  | "inconsistent"
  | "violated"
  | "unexpected";
export type VerdictSeverity = "green" | "yellow" | "red" | "grey";

/** How an address belongs to home: by an address/range entry, or by the home ASN. */
export type HomeMatch = { kind: "address"; entry: string } | { kind: "asn"; asn: number };

/** One public address the client was seen with, and who said so. */
export interface ObservedAddress {
  ip: string;
  family: 4 | 6;
  info: IpInfo;
  /** providers that answered with this address (empty when only the consensus named it) */
  providers: string[];
  /** true when it is the consensus address of its family */
  consensus: boolean;
  /** set when the address belongs to home */
  home_match: HomeMatch | null;
}

export interface BypassEvidence {
  exits: ObservedAddress[];
  /** the address the server saw the report come from */
  source_ip: string | null;
  /** false for private, loopback, CGNAT, link-local and ULA sources, which never count */
  source_ip_public: boolean | null;
  source_home_match: HomeMatch | null;
  home: HomeIdentity;
}

/** How a resolver was judged: in home, in the exit's network, an allowed public resolver, or other. */
export type ResolverJudgement = "home" | "exit_network" | "allowed" | "other";

/**
 * Where a DNS verdict's resolvers come from: this server's DNS oracle (who asked it for the
 * report's fresh names) or the "who is asking" probes (third-party names whose answers name
 * the resolver).
 */
export type DnsSource = "oracle" | "probes";

/** A resolver egress address: seen asking the DNS oracle, or named by a "who is asking" probe. */
export interface ObservedResolver {
  ip: string;
  info: IpInfo;
  /** the probes whose answers named this address ("oracle A", "oracle AAAA" for the oracle) */
  probes: string[];
  /** the resolvers the queries were sent to (from resolv.conf or --dns-resolver) */
  via: string[];
  judgement: ResolverJudgement;
  home_match: HomeMatch | null;
  /** how it was seen (absent in states judged before the oracle: probes) */
  source?: DnsSource;
  /** oracle: the transports it asked over */
  transports?: ("udp" | "tcp")[];
}

/** An EDNS client subnet a resolver forwarded: where the resolver saw the query come from. */
export interface ObservedClientSubnet {
  subnet: string;
  probe: string;
  info: IpInfo;
  home_match: HomeMatch | null;
}

export interface DnsEvidence {
  resolvers: ObservedResolver[];
  client_subnets: ObservedClientSubnet[];
  /** ASNs of the non-home exits: a resolver there is the VPN's own */
  exit_asns: number[];
  allow_asns: number[];
  /** probes that failed, so "unknown" can say why */
  probe_errors: { probe: string; error: string }[];
  /** where the resolvers come from (absent in states judged before the oracle: probes) */
  source?: DnsSource;
  /** the report's oracle lookups and the sightings the server attached; absent: none made */
  oracle?: { lookups: number; sightings: number };
  /**
   * true when the report was sent before its DNS probes finished (dns_pending, after a network
   * change): this is the previous check's evidence, kept until the next report brings new.
   */
  pending?: boolean;
}

export interface Ipv6Evidence {
  exits: ObservedAddress[];
}

export interface ExitEvidence {
  ipv4: IpInfo | null;
  ipv6: IpInfo | null;
  answers: { ipv4: ProviderAnswer[]; ipv6: ProviderAnswer[] };
  /** false for a family whose providers disagreed; null when the family was not probed */
  consistent: { ipv4: boolean; ipv6: boolean | null };
  inconsistent: boolean;
  expected: { country: string | null; asn: number | null };
  /** expectations the exit breaks */
  violations: ("country" | "asn")[];
  /**
   * expectations that cannot be checked because the lookup has no answer ("locked_*": the
   * locked networks or countries)
   */
  unverifiable: ("country" | "asn" | "locked_asn" | "locked_country")[];
  /** the locked exit networks and countries (absent in states judged before locking existed) */
  locked?: { asns: number[] | null; countries: string[] | null };
  /** what of the exit lies outside the lock: red */
  outside?: ("asn" | "country")[];
  /**
   * answers naming a private, loopback, CGNAT, link-local or ULA address: the provider (usually
   * the server's own whoami) was reached over a private path. Kept as evidence, never counted.
   * Absent in states judged before this field existed.
   */
  private_answers?: PrivateAnswer[];
}

/** A provider answer that names a non-public address (see ExitEvidence.private_answers). */
export interface PrivateAnswer {
  family: 4 | 6;
  provider: string;
  ip: string;
}

export interface Verdict<E> {
  status: VerdictStatus;
  severity: VerdictSeverity;
  /** one human sentence */
  reason: string;
  evidence: E;
}

export interface Verdicts {
  bypass: Verdict<BypassEvidence>;
  dns: Verdict<DnsEvidence>;
  ipv6: Verdict<Ipv6Evidence>;
  exit: Verdict<ExitEvidence>;
}

export type Liveness = "never" | "online" | "late" | "offline";
export type OverallStatus = "green" | "yellow" | "red" | "grey";

/** Flap control: recent change times, and since when the client is flapping. */
export interface FlapState {
  /** times of recent changes (one per report or sweep that flipped), inside the window */
  changes: number[];
  flapping_since: number | null;
}

/** Everything the server believes about one client; the store keeps it as JSON. */
export interface ClientState {
  /** bumped when this shape changes incompatibly */
  version: 1;
  status: OverallStatus;
  /** one human sentence for the status */
  reason: string;
  liveness: Liveness;
  paused: boolean;
  /** null until the first report */
  verdicts: Verdicts | null;
  exit: { ipv4: IpInfo | null; ipv6: IpInfo | null };
  resolvers: ObservedResolver[];
  agent: AgentInfo | null;
  first_seen_at: number | null;
  /** server time of the last accepted report (liveness counts from here, not the client's clock) */
  last_report_at: number | null;
  /** the client's observed_at of the report the verdicts come from */
  observed_at: number | null;
  /** effective interval: the policy override, else the agent's */
  interval_s: number;
  /** the interval the agent itself reported */
  reported_interval_s: number | null;
  grace_s: number;
  late_at: number | null;
  offline_at: number | null;
  flap: FlapState;
}

/** A state change, stored as an event row (the store adds the client id). */
export interface Flip {
  kind: EventKind;
  from: string | null;
  to: string | null;
  /** who said what; flips from the monitor always carry `reason`, a human sentence */
  evidence: Record<string, unknown>;
  at: number;
  /** stored for history, but no alert (replayed report, paused or flapping client) */
  suppressed?: boolean;
}
