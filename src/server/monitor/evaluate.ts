/**
 * evaluateReport: (report, policy, home, previous state) -> (new state, flips). Pure: time and
 * IP intelligence come in, nothing goes out but the return value. docs/verdicts.md is the prose
 * version of these rules; keep the two in step.
 */
import { formatDuration } from "../../config/duration.ts";
import { consensus } from "../../probe/consensus.ts";
import { isPublicAddress } from "../../protocol/public-address.ts";
import type { IpFamilyResult, ReportV1 } from "../../protocol/report.ts";
import type { GeoLookup, IpInfo } from "../geo/types.ts";
import { type Cidr, canonicalIp, cidrOverlaps, formatCidr, parseCidr } from "./cidr.ts";
import { controlFlapping, STABLE } from "./flapping.ts";
import { homeUnknownReason, isHomeKnown, matchHome, matchHomeAddress } from "./home.ts";
import { DEFAULT_GRACE_S, DEFAULT_INTERVAL_S, pendingDeadlines } from "./liveness.ts";
import { describeNetworks, type NetworkProfile, networkName } from "./networks.ts";
import { overallStatus } from "./status.ts";
import type {
  BypassEvidence,
  ClientPolicy,
  ClientState,
  DnsEvidence,
  DnsSource,
  ExitEvidence,
  Flip,
  HomeIdentity,
  HomeMatch,
  Ipv6Evidence,
  ObservedAddress,
  ObservedClientSubnet,
  ObservedResolver,
  PrivateAnswer,
  Verdict,
  Verdicts,
} from "./types.ts";

/**
 * Resolver networks trusted by default: their operators see the queries, but the home ISP does
 * not. 13335 Cloudflare (1.1.1.1), 15169 Google (8.8.8.8), 19281 Quad9 (9.9.9.9), 42 PCH/WoodyNet
 * (Quad9's resolvers egress from it), 36692 Cisco OpenDNS (208.67.222.222).
 */
export const DEFAULT_DNS_ALLOW_ASNS: readonly number[] = [13335, 15169, 19281, 42, 36692];

/** The policy of a client nobody has configured. */
export const DEFAULT_CLIENT_POLICY: Readonly<ClientPolicy> = {
  dns_allow_asns: [...DEFAULT_DNS_ALLOW_ASNS],
  paused: false,
};

export interface EvaluateInput {
  report: ReportV1;
  /** the address the server saw the request come from (IPv4-mapped IPv6 is fine) */
  sourceIp: string | null;
  policy: ClientPolicy;
  home: HomeIdentity;
  /** null (or a never-seen state) for the client's first report */
  previous: ClientState | null;
  geo: GeoLookup;
  /** server time of receipt, ms */
  now: number;
  /**
   * the agent says this report was spooled and is sent late: its verdict flips are stored but
   * suppressed (see docs/verdicts.md). Do not guess it from observed_at: client clocks drift.
   */
  replayed?: boolean;
  /**
   * the networks the client used in the last 30 days (its history), given when the exit moved
   * to another network than the previous state's: an AS not among them is exit.new_network
   */
  networks?: NetworkProfile | null;
}

export interface Evaluation {
  state: ClientState;
  flips: Flip[];
}

/** The state of a client that is enrolled but has never reported: grey, nothing pending. */
export function initialClientState(policy: ClientPolicy): ClientState {
  return {
    version: 1,
    status: "grey",
    reason: policy.paused ? "Paused: reports are recorded, but nothing is alerted." : "Never reported.",
    liveness: "never",
    paused: policy.paused,
    verdicts: null,
    exit: { ipv4: null, ipv6: null },
    resolvers: [],
    agent: null,
    first_seen_at: null,
    last_report_at: null,
    observed_at: null,
    interval_s: policy.interval_s ?? DEFAULT_INTERVAL_S,
    reported_interval_s: null,
    grace_s: policy.grace_s ?? DEFAULT_GRACE_S,
    late_at: null,
    offline_at: null,
    flap: STABLE,
  };
}

/** Judges one report against policy and home, and derives the flips from the previous state. */
export function evaluateReport(input: EvaluateInput): Evaluation {
  const { report, policy, now } = input;
  const previous = input.previous !== null && input.previous.last_report_at !== null ? input.previous : null;
  const observedAt = Date.parse(report.observed_at);
  // A replayed report older than the one the state already reflects (spool drained after a live
  // report) is history, not news: it refreshes liveness but does not roll the verdicts back.
  // Live reports always count, so a client whose clock jumps back is still judged.
  const outOfOrder =
    input.replayed === true &&
    previous !== null &&
    previous.observed_at !== null &&
    observedAt < previous.observed_at;
  const judged = outOfOrder ? null : judgeReport({ ...input, previousDns: previous?.verdicts?.dns ?? null });

  const intervalS = policy.interval_s ?? report.interval_s;
  const graceS = policy.grace_s ?? DEFAULT_GRACE_S;
  const verdicts = judged?.verdicts ?? previous?.verdicts ?? null;
  const base = {
    verdicts,
    exit: judged?.exit ?? previous?.exit ?? { ipv4: null, ipv6: null },
    resolvers: judged?.resolvers ?? previous?.resolvers ?? [],
    liveness: "online" as const,
    paused: policy.paused,
    last_report_at: now,
    interval_s: intervalS,
  };
  const summary = overallStatus(base);
  const draft: ClientState = {
    ...base,
    ...summary,
    version: 1,
    agent: report.agent ?? previous?.agent ?? null,
    first_seen_at: previous?.first_seen_at ?? now,
    observed_at: outOfOrder ? (previous?.observed_at ?? observedAt) : observedAt,
    reported_interval_s: report.interval_s,
    grace_s: graceS,
    ...pendingDeadlines({
      from: now,
      liveness: "online",
      interval_s: intervalS,
      grace_s: graceS,
      paused: policy.paused,
    }),
    flap: previous?.flap ?? STABLE,
  };

  const verdictFlipsAt = input.replayed ? observedAt : now;
  const flips: Flip[] = [
    ...livenessFlips(previous, draft, now),
    ...(judged === null ? [] : verdictFlips(previous, draft, verdictFlipsAt)),
    ...(judged === null ? [] : newNetworkFlips(previous, draft, input.networks ?? null, verdictFlipsAt)),
  ].map((flip) => ({
    ...flip,
    // A replayed report tells the past: store its findings, alert none of them. Hearing from
    // the client again is news now, so client.online still alerts.
    suppressed: policy.paused || (input.replayed === true && flip.kind !== "client.online"),
  }));
  const controlled = controlFlapping(draft.flap, flips, now, summary);
  return { state: { ...draft, flap: controlled.flap }, flips: controlled.flips };
}

export interface RejudgeInput {
  state: ClientState;
  /** the last report the state was judged from */
  report: ReportV1;
  sourceIp: string | null;
  policy: ClientPolicy;
  home: HomeIdentity;
  geo: GeoLookup;
  now: number;
}

/**
 * The last report judged again without a new one, after something it does not carry changed
 * (the home identity was learned or changed). Verdicts, status and verdict flips follow the new
 * judgment; liveness and deadlines stay as they are, since the client said nothing new.
 */
export function rejudgeState(input: RejudgeInput): Evaluation {
  const { state, now } = input;
  const judged = judgeReport({ ...input, previousDns: state.verdicts?.dns ?? null });
  const base = { ...state, verdicts: judged.verdicts, exit: judged.exit, resolvers: judged.resolvers };
  const summary = overallStatus(base);
  const draft: ClientState = { ...base, ...summary };
  const flips = verdictFlips(state, draft, now).map((flip) => ({ ...flip, suppressed: state.paused }));
  const controlled = controlFlapping(draft.flap, flips, now, summary);
  return { state: { ...draft, flap: controlled.flap }, flips: controlled.flips };
}

/** True when the state's verdicts were judged against this home identity (false when never judged). */
export function judgedAgainst(state: ClientState, home: HomeIdentity): boolean {
  const judgedHome = state.verdicts?.bypass.evidence.home;
  if (judgedHome === undefined) return false;
  const same = (a: readonly unknown[], b: readonly unknown[]) =>
    a.length === b.length && a.every((x, i) => x === b[i]);
  return (
    same(judgedHome.addresses, home.addresses) &&
    same(judgedHome.asns, home.asns) &&
    // an unknown home's reason says whether learning is on
    (isHomeKnown(home) || judgedHome.learn === home.learn)
  );
}

interface Judgement {
  verdicts: Verdicts;
  exit: ClientState["exit"];
  resolvers: ObservedResolver[];
}

/** The four verdicts on one report, with the exit and resolver identities they rest on. */
export function judgeReport(
  input: Pick<EvaluateInput, "report" | "sourceIp" | "policy" | "home" | "geo"> & {
    /** the DNS verdict before this report: what a report without its DNS part (dns_pending) keeps */
    previousDns?: Verdict<DnsEvidence> | null;
  },
): Judgement {
  const cache = new Map<string, IpInfo>();
  const lookup = (ip: string): IpInfo => {
    let info = cache.get(ip);
    if (info === undefined) {
      info = input.geo.lookup(ip);
      cache.set(ip, info);
    }
    return info;
  };
  const { report, home } = input;
  const ipv4 = publicView(report.ipv4);
  const ipv6 = report.ipv6 ? publicView(report.ipv6) : undefined;
  const exits = [
    ...observedAddresses(ipv4, 4, lookup, home),
    ...(ipv6 ? observedAddresses(ipv6, 6, lookup, home) : []),
  ];
  const consensusV4 = exits.find((e) => e.family === 4 && e.consensus)?.info ?? null;
  const consensusV6 = exits.find((e) => e.family === 6 && e.consensus)?.info ?? null;
  const dns = report.dns_pending
    ? pendingDns(input.previousDns ?? null, input.policy)
    : judgeDns(report, exits, input.policy, home, lookup);
  return {
    verdicts: {
      bypass: judgeBypass(exits, input.sourceIp, home),
      dns,
      ipv6: judgeIpv6(
        exits.filter((e) => e.family === 6),
        home,
      ),
      exit: judgeExit({ ipv4, ipv6 }, exits, consensusV4, consensusV6, input.policy),
    },
    exit: { ipv4: consensusV4, ipv6: consensusV6 },
    resolvers: dns.evidence.resolvers,
  };
}

const isPrivateAnswer = (a: { ip: string | null }) => a.ip !== null && !isPublicAddress(a.ip);

/** The answers that only show a private path to their provider: evidence, never a vote. */
const privateAnswers = (result: IpFamilyResult, family: 4 | 6): PrivateAnswer[] =>
  result.answers.flatMap((a) =>
    isPrivateAnswer(a) ? [{ family, provider: a.provider, ip: a.ip as string }] : [],
  );

/**
 * A family as the server judges it: answers naming a private, loopback, CGNAT, link-local or
 * ULA address set aside, by the client's own consensus rule (a client older than that rule, or
 * a legacy keepalive, may have counted them). A report without such answers is taken as sent.
 */
function publicView(result: IpFamilyResult): IpFamilyResult {
  if (!result.answers.some(isPrivateAnswer) && (result.ip === null || isPublicAddress(result.ip)))
    return result;
  return consensus(result.answers);
}

/** Every public address of one family that anyone named: the consensus and each provider's answer. */
function observedAddresses(
  result: IpFamilyResult,
  family: 4 | 6,
  lookup: (ip: string) => IpInfo,
  home: HomeIdentity,
): ObservedAddress[] {
  const byIp = new Map<string, ObservedAddress>();
  const add = (text: string, provider: string | null, consensus: boolean) => {
    const ip = canonicalIp(text);
    if (ip === null || !isPublicAddress(ip)) return;
    let entry = byIp.get(ip);
    if (entry === undefined) {
      const info = lookup(ip);
      entry = { ip, family, info, providers: [], consensus: false, home_match: matchHome(info, home) };
      byIp.set(ip, entry);
    }
    if (consensus) entry.consensus = true;
    if (provider !== null && !entry.providers.includes(provider)) entry.providers.push(provider);
  };
  if (result.ip !== null) add(result.ip, null, true);
  for (const answer of result.answers) if (answer.ip !== null) add(answer.ip, answer.provider, false);
  return [...byIp.values()];
}

/** "198.51.100.7 (AS64501 VPN Co, BR)": whatever the lookup knows, names exactly as published. */
export function describeIp(info: IpInfo): string {
  const network = [info.asn === null ? null : `AS${info.asn}`, info.org]
    .filter((p) => p !== null && p !== "")
    .join(" ");
  const parts = [network, info.country ?? ""].filter((p) => p !== "");
  return parts.length === 0 ? info.ip : `${info.ip} (${parts.join(", ")})`;
}

function describeMatch(match: HomeMatch, ip: string): string {
  if (match.kind === "asn") return `in the home network's AS${match.asn}`;
  return canonicalIp(match.entry) === ip ? "a home address" : `in the home range ${match.entry}`;
}

const family = (e: ObservedAddress) => (e.family === 4 ? "IPv4" : "IPv6");
const saidBy = (e: ObservedAddress) =>
  e.providers.length === 0 ? "" : ` according to ${e.providers.join(", ")}`;
const verdict = <E>(
  status: Verdict<E>["status"],
  severity: Verdict<E>["severity"],
  reason: string,
  evidence: E,
) => ({
  status,
  severity,
  reason,
  evidence,
});

function judgeBypass(
  exits: ObservedAddress[],
  sourceIp: string | null,
  home: HomeIdentity,
): Verdict<BypassEvidence> {
  const source = sourceIp === null ? null : (canonicalIp(sourceIp) ?? sourceIp);
  // A private source only says the client reached the server over a LAN or a tunnel; it says
  // nothing about where Internet traffic goes.
  const sourcePublic = source === null ? null : isPublicAddress(source);
  const sourceEntry = source !== null && sourcePublic ? matchHomeAddress(source, home) : null;
  const evidence: BypassEvidence = {
    exits,
    source_ip: source,
    source_ip_public: sourcePublic,
    source_home_match: sourceEntry === null ? null : { kind: "address", entry: sourceEntry },
    home,
  };
  const homeExits = exits.filter((e) => e.home_match !== null);
  const causes = homeExits.map(
    (e) =>
      `the ${family(e)} exit ${describeIp(e.info)} is ${describeMatch(e.home_match as HomeMatch, e.ip)}${saidBy(e)}`,
  );
  if (sourceEntry !== null)
    causes.push(
      `the server received this report from the home address ${source}${canonicalIp(sourceEntry) === source ? "" : ` (in ${sourceEntry})`}`,
    );
  if (causes.length > 0)
    return verdict("leak", "red", `Traffic bypasses the VPN: ${causes.join("; ")}.`, evidence);
  const homeUnknown = homeUnknownReason(home);
  if (homeUnknown !== null)
    return verdict(
      "unknown",
      "yellow",
      `The home address is unknown, so a bypass cannot be checked: ${homeUnknown}`,
      evidence,
    );
  const v4 = exits.find((e) => e.family === 4 && e.consensus) ?? exits.find((e) => e.family === 4);
  if (v4 === undefined) {
    return verdict(
      "unknown",
      "yellow",
      "No public IPv4 exit was observed, so a bypass cannot be ruled out.",
      evidence,
    );
  }
  return verdict(
    "ok",
    "green",
    `No exit is a home address; traffic leaves through ${describeIp(v4.info)}.`,
    evidence,
  );
}

function judgeIpv6(exits: ObservedAddress[], home: HomeIdentity): Verdict<Ipv6Evidence> {
  const evidence: Ipv6Evidence = { exits };
  if (exits.length === 0)
    return verdict("na", "grey", "No public IPv6 address was observed: IPv6 cannot leak.", evidence);
  const leaking = exits.filter((e) => e.home_match !== null);
  if (leaking.length > 0) {
    const causes = leaking.map(
      (e) => `${describeIp(e.info)} is ${describeMatch(e.home_match as HomeMatch, e.ip)}${saidBy(e)}`,
    );
    return verdict("leak", "red", `IPv6 bypasses the VPN: ${causes.join("; ")}.`, evidence);
  }
  const main = exits.find((e) => e.consensus) ?? (exits[0] as ObservedAddress);
  if (homeUnknownReason(home) !== null)
    return verdict(
      "unknown",
      "yellow",
      `IPv6 leaves through ${describeIp(main.info)}, but the home address is unknown, so an IPv6 leak cannot be checked.`,
      evidence,
    );
  return verdict(
    "ok",
    "green",
    `IPv6 leaves through ${describeIp(main.info)}, not the home network.`,
    evidence,
  );
}

/** Strips the quotes TXT answers may keep; the resolver is the answer that is a bare address. */
const unquote = (answer: string) =>
  answer
    .trim()
    .replace(/^"(.*)"$/, "$1")
    .trim();

function judgeDns(
  report: ReportV1,
  exits: ObservedAddress[],
  policy: ClientPolicy,
  home: HomeIdentity,
  lookup: (ip: string) => IpInfo,
): Verdict<DnsEvidence> {
  // The exit's network only vouches for a resolver when the exit itself is not home.
  const vpnExits = exits.filter((e) => e.home_match === null);
  const exitIps = new Set(vpnExits.map((e) => e.ip));
  const exitAsns = [...new Set(vpnExits.flatMap((e) => (e.info.asn === null ? [] : [e.info.asn])))];
  const allowAsns = policy.dns_allow_asns;
  const resolvers = new Map<string, ObservedResolver>();
  const subnets: ObservedClientSubnet[] = [];
  const probeErrors: DnsEvidence["probe_errors"] = [];

  const addResolver = (text: string, probe: string, via: string | null, source: DnsSource) => {
    const ip = canonicalIp(text);
    if (ip === null) return null;
    let resolver = resolvers.get(ip);
    if (resolver === undefined) {
      const info = lookup(ip);
      const homeMatch = matchHome(info, home);
      const judgement =
        homeMatch !== null
          ? "home"
          : exitIps.has(ip) || (info.asn !== null && exitAsns.includes(info.asn))
            ? "exit_network"
            : info.asn !== null && allowAsns.includes(info.asn)
              ? "allowed"
              : "other";
      resolver = { ip, info, probes: [], via: [], judgement, home_match: homeMatch, source };
      resolvers.set(ip, resolver);
    }
    if (!resolver.probes.includes(probe)) resolver.probes.push(probe);
    if (via !== null && !resolver.via.includes(via)) resolver.via.push(via);
    return resolver;
  };
  const addSubnet = (text: string, probe: string) => {
    const subnet = parseCidr(text);
    if (subnet === null) return;
    if (subnets.some((s) => s.probe === probe && s.subnet === formatCidr(subnet))) return;
    const info = lookup(canonicalIp(text.split("/")[0] as string) ?? text);
    subnets.push({
      subnet: formatCidr(subnet),
      probe,
      info,
      home_match: subnetHomeMatch(subnet, info, home),
    });
  };

  // The oracle first: the server itself saw these resolvers ask for this report's fresh names.
  const lookups = report.dns_oracle ?? [];
  const sightings = report.oracle_seen ?? [];
  const source: DnsSource = sightings.length > 0 ? "oracle" : "probes";
  const lookupErrors = lookups.flatMap((l) =>
    l.error === null ? [] : [{ probe: `oracle ${l.type} ${l.name}`, error: l.error }],
  );
  if (source === "oracle") {
    const viaOf = new Map(lookups.map((l) => [l.name, l.via]));
    for (const s of sightings) {
      const resolver = addResolver(s.resolver, `oracle ${s.qtype}`, viaOf.get(s.name) ?? null, "oracle");
      if (resolver !== null && !resolver.transports?.includes(s.transport))
        resolver.transports = [...(resolver.transports ?? []), s.transport];
      if (s.client_subnet !== null) addSubnet(s.client_subnet, "oracle");
    }
    probeErrors.push(...lookupErrors);
  } else {
    for (const observation of report.dns ?? []) {
      if (observation.error !== null)
        probeErrors.push({ probe: observation.probe, error: observation.error });
      for (const raw of observation.answers) {
        const answer = unquote(raw);
        const subnetText = /^edns0-client-subnet\s+(\S+)$/i.exec(answer)?.[1];
        if (subnetText !== undefined) addSubnet(subnetText, observation.probe);
        else addResolver(answer, observation.probe, observation.via, "probes");
      }
    }
    probeErrors.push(...lookupErrors);
  }

  const all = [...resolvers.values()];
  const evidence: DnsEvidence = {
    resolvers: all,
    client_subnets: subnets,
    exit_asns: exitAsns,
    allow_asns: allowAsns,
    probe_errors: probeErrors,
    source,
    ...(lookups.length > 0 ? { oracle: { lookups: lookups.length, sightings: sightings.length } } : {}),
  };
  const seenBy =
    source === "oracle" ? " Seen by this server's DNS oracle." : " Named by the who-is-asking probes.";
  const leaks = [
    ...all
      .filter((r) => r.judgement === "home")
      .map((r) => `resolver ${describeIp(r.info)} is ${describeMatch(r.home_match as HomeMatch, r.ip)}`),
    ...subnets
      .filter((s) => s.home_match !== null)
      .map(
        (s) =>
          `a resolver saw the query come from ${s.subnet}, ${s.home_match?.kind === "address" ? `which overlaps the home entry ${s.home_match.entry}` : describeMatch(s.home_match as HomeMatch, s.subnet)}`,
      ),
  ];
  if (leaks.length > 0) return verdict("leak", "red", `DNS leaks: ${leaks.join("; ")}.${seenBy}`, evidence);
  if (all.length === 0) {
    const why = [
      ...(lookups.length > 0 ? ["this server's DNS oracle saw none of this report's lookups"] : []),
      ...probeErrors.slice(0, 1).map((e) => `${e.probe}: ${e.error}`),
    ];
    return verdict(
      "unknown",
      "yellow",
      `No resolver was observed${why.length > 0 ? ` (${why.join("; ")})` : ""}, so a DNS leak cannot be ruled out.`,
      evidence,
    );
  }
  const others = all.filter((r) => r.judgement === "other");
  if (others.length > 0) {
    const vpn =
      exitAsns.length === 0
        ? "the VPN's network"
        : `the VPN's network (${exitAsns.map((a) => `AS${a}`).join(", ")})`;
    return verdict(
      "suspect",
      "yellow",
      `DNS goes through ${others.map((r) => describeIp(r.info)).join(", ")}, neither ${vpn} nor an allowed resolver.${seenBy}`,
      evidence,
    );
  }
  // The exit's network vouches for a resolver only when that exit is known not to be home.
  const unvouched = homeUnknownReason(home) === null ? [] : all.filter((r) => r.judgement === "exit_network");
  if (unvouched.length > 0)
    return verdict(
      "unknown",
      "yellow",
      `DNS goes through ${unvouched.map((r) => describeIp(r.info)).join(", ")} in the exit's network, but the home address is unknown, so this cannot be told apart from the home ISP's resolver.${seenBy}`,
      evidence,
    );
  const described = all.map(
    (r) =>
      `${describeIp(r.info)}${r.judgement === "exit_network" ? ", the VPN's network" : ", an allowed resolver"}`,
  );
  return verdict("ok", "green", `DNS goes through ${described.join("; ")}.${seenBy}`, evidence);
}

/**
 * The DNS verdict of a report sent before its DNS probes finished (dns_pending: a network change
 * made the IP answers urgent). It has no DNS evidence of its own, so it must neither raise a DNS
 * alert nor end one: a leak or a suspect resolver stays as the last check found it, and an ok
 * becomes unknown (unknown is never green) until the next report, which carries the DNS part.
 * No DNS event fires on either change, so a missing part never alerts.
 */
function pendingDns(previous: Verdict<DnsEvidence> | null, policy: ClientPolicy): Verdict<DnsEvidence> {
  if (previous?.evidence.pending) return previous; // a second such report in a row
  if (previous === null)
    return verdict(
      "unknown",
      "yellow",
      "This report was sent before its DNS probes finished, so a DNS leak cannot be ruled out yet.",
      {
        resolvers: [],
        client_subnets: [],
        exit_asns: [],
        allow_asns: policy.dns_allow_asns,
        probe_errors: [],
        pending: true,
      },
    );
  const evidence = { ...previous.evidence, pending: true };
  if (previous.status === "ok")
    return verdict(
      "unknown",
      "yellow",
      `DNS is being checked again after a network change, so a DNS leak cannot be ruled out yet (the last check said: ${previous.reason})`,
      evidence,
    );
  return {
    ...previous,
    reason: `${previous.reason} (The last check: DNS is being checked again after a network change.)`,
    evidence,
  };
}

/** A forwarded client subnet is home when it overlaps a home range or lies in a home ASN. */
function subnetHomeMatch(subnet: Cidr, info: IpInfo, home: HomeIdentity): HomeMatch | null {
  for (const entry of home.addresses) {
    const range = parseCidr(entry);
    if (range !== null && cidrOverlaps(range, subnet)) return { kind: "address", entry };
  }
  return info.asn !== null && home.asns.includes(info.asn) ? { kind: "asn", asn: info.asn } : null;
}

function disagreement(result: IpFamilyResult | undefined, label: string): string | null {
  if (result === undefined || result.consistent) return null;
  const said = result.answers
    .filter((a) => a.ip !== null && !isPrivateAnswer(a))
    .map((a) => `${a.provider} said ${a.ip}`);
  return `${label}: ${said.length > 0 ? said.join(", ") : "no agreement"}`;
}

function judgeExit(
  families: { ipv4: IpFamilyResult; ipv6: IpFamilyResult | undefined },
  exits: ObservedAddress[],
  v4: IpInfo | null,
  v6: IpInfo | null,
  policy: ClientPolicy,
): Verdict<ExitEvidence> {
  const expectedCountry = policy.expected_country ? policy.expected_country.toUpperCase() : null;
  const expectedAsn = policy.expected_asn ?? null;
  const primary = v4 ?? v6;
  const violations: ExitEvidence["violations"] = [];
  const unverifiable: ExitEvidence["unverifiable"] = [];
  const broken: string[] = [];
  if (primary !== null && expectedCountry !== null) {
    if (primary.country === null) unverifiable.push("country");
    else if (primary.country.toUpperCase() !== expectedCountry) {
      violations.push("country");
      broken.push(`country is ${primary.country}, expected ${expectedCountry}`);
    }
  }
  if (primary !== null && expectedAsn !== null) {
    if (primary.asn === null) unverifiable.push("asn");
    else if (primary.asn !== expectedAsn) {
      violations.push("asn");
      broken.push(
        `network is AS${primary.asn}${primary.org ? ` ${primary.org}` : ""}, expected AS${expectedAsn}`,
      );
    }
  }
  const locked = { asns: policy.exit_asns ?? null, countries: policy.exit_countries ?? null };
  const outside: ("asn" | "country")[] = [];
  const outsideWhy: string[] = [];
  if (primary !== null && locked.asns !== null) {
    if (primary.asn === null) unverifiable.push("locked_asn");
    else if (!locked.asns.includes(primary.asn)) {
      outside.push("asn");
      outsideWhy.push(
        `${networkName(primary.asn, primary.org)} is not one of ${locked.asns.map((a) => `AS${a}`).join(", ") || "no network"}`,
      );
    }
  }
  if (primary !== null && locked.countries !== null) {
    if (primary.country === null) unverifiable.push("locked_country");
    else if (!locked.countries.includes(primary.country.toUpperCase())) {
      outside.push("country");
      outsideWhy.push(`${primary.country} is not one of ${locked.countries.join(", ") || "no country"}`);
    }
  }
  const { ipv4, ipv6 } = families;
  const disagreements = [disagreement(ipv4, "IPv4"), disagreement(ipv6, "IPv6")].filter((d) => d !== null);
  const evidence: ExitEvidence = {
    ipv4: v4,
    ipv6: v6,
    answers: { ipv4: ipv4.answers, ipv6: ipv6?.answers ?? [] },
    consistent: { ipv4: ipv4.consistent, ipv6: ipv6 ? ipv6.consistent : null },
    inconsistent: disagreements.length > 0,
    expected: { country: expectedCountry, asn: expectedAsn },
    violations,
    unverifiable,
    locked,
    outside,
    private_answers: [...privateAnswers(ipv4, 4), ...(ipv6 ? privateAnswers(ipv6, 6) : [])],
  };
  // The exit is where traffic leaves: through home it is not ok, whatever else holds.
  const homeExits = exits.filter((e) => e.consensus && e.home_match !== null);
  if (homeExits.length > 0) {
    const which = homeExits.map(
      (e) =>
        `the ${family(e)} exit ${describeIp(e.info)} is ${describeMatch(e.home_match as HomeMatch, e.ip)}`,
    );
    return verdict(
      "leak",
      "red",
      `Traffic leaves through the home line, not the VPN: ${which.join("; ")}.`,
      evidence,
    );
  }
  if (primary !== null && outside.length > 0) {
    return verdict(
      "unexpected",
      "red",
      `Exit ${describeIp(primary)} is outside the networks this client is locked to: ${outsideWhy.join("; ")}.`,
      evidence,
    );
  }
  if (primary !== null && violations.length > 0) {
    return verdict(
      "violated",
      "yellow",
      `Exit ${describeIp(primary)} breaks expectations: ${broken.join("; ")}.`,
      evidence,
    );
  }
  if (disagreements.length > 0) {
    return verdict(
      "inconsistent",
      "yellow",
      `Providers disagree on the exit (${disagreements.join("; ")}).`,
      evidence,
    );
  }
  if (v4 === null)
    return verdict("unknown", "yellow", "No provider returned a public IPv4 exit address.", evidence);
  if (unverifiable.length > 0) {
    const expectation: Record<ExitEvidence["unverifiable"][number], string> = {
      country: `country ${expectedCountry}`,
      asn: `AS${expectedAsn}`,
      locked_asn: "locked networks",
      locked_country: "locked countries",
    };
    const what = unverifiable.map((u) => expectation[u]).join(" and ");
    return verdict(
      "unknown",
      "yellow",
      `The expected ${what} cannot be checked: the IP database knows nothing about ${describeIp(v4)} (a --geo-overrides entry can label it).`,
      evidence,
    );
  }
  return verdict("ok", "green", `Exit ${describeIp(v4)}${v6 ? `, IPv6 ${describeIp(v6)}` : ""}.`, evidence);
}

/** client.first_seen and client.online: about hearing from the client, judged at receipt time. */
function livenessFlips(previous: ClientState | null, next: ClientState, now: number): Flip[] {
  if (previous === null) {
    return [
      {
        kind: "client.first_seen",
        from: null,
        to: next.status,
        evidence: { reason: `First report: ${next.reason}`, agent: next.agent, exit: next.exit },
        at: now,
      },
    ];
  }
  if ((previous.liveness === "late" || previous.liveness === "offline") && previous.last_report_at !== null) {
    const downtime = now - previous.last_report_at;
    return [
      {
        kind: "client.online",
        from: previous.liveness,
        to: "online",
        evidence: {
          reason: `Reporting again after ${formatDuration(downtime)} without a report.`,
          last_report_at: previous.last_report_at,
          downtime_ms: downtime,
        },
        at: now,
      },
    ];
  }
  return [];
}

const withReason = (reason: string, evidence: object): Record<string, unknown> => ({ reason, ...evidence });

/** Red verdict that starts or ends, as *.started / *.ended. */
function leakFlips<E extends object>(
  started: Flip["kind"],
  ended: Flip["kind"],
  before: Verdict<E> | null,
  after: Verdict<E>,
  at: number,
): Flip[] {
  const wasLeak = before?.status === "leak";
  const isLeak = after.status === "leak";
  if (!wasLeak && isLeak) {
    return [
      {
        kind: started,
        from: before?.status ?? null,
        to: "leak",
        evidence: withReason(after.reason, after.evidence),
        at,
      },
    ];
  }
  if (wasLeak && !isLeak) {
    return [
      {
        kind: ended,
        from: "leak",
        to: after.status,
        evidence: withReason(`Ended. ${after.reason}`, after.evidence),
        at,
      },
    ];
  }
  return [];
}

/** The flips a new set of verdicts makes against the previous state (none when nothing changed). */
function verdictFlips(previous: ClientState | null, next: ClientState, at: number): Flip[] {
  const after = next.verdicts as Verdicts;
  const before = previous?.verdicts ?? null;
  const flips: Flip[] = [
    ...leakFlips("bypass.started", "bypass.ended", before?.bypass ?? null, after.bypass, at),
    ...leakFlips("dns_leak.started", "dns_leak.ended", before?.dns ?? null, after.dns, at),
    ...leakFlips("ipv6_leak.started", "ipv6_leak.ended", before?.ipv6 ?? null, after.ipv6, at),
  ];
  if (after.dns.status === "suspect" && before?.dns.status !== "suspect") {
    flips.push({
      kind: "dns.suspect",
      from: before?.dns.status ?? null,
      to: "suspect",
      evidence: withReason(after.dns.reason, after.dns.evidence),
      at,
    });
  }
  const exitAfter = after.exit.evidence;
  const exitBefore = before?.exit.evidence ?? null;
  if (exitAfter.inconsistent && !exitBefore?.inconsistent) {
    flips.push({
      kind: "exit.inconsistent",
      from: before?.exit.status ?? null,
      to: "inconsistent",
      evidence: withReason(after.exit.reason, exitAfter),
      at,
    });
  }
  const violated = exitAfter.violations.join(",");
  if (violated !== "" && violated !== (exitBefore?.violations.join(",") ?? "")) {
    flips.push({
      kind: "expectation.violated",
      from: exitBefore?.violations.join(",") || null,
      to: violated,
      evidence: withReason(after.exit.reason, exitAfter),
      at,
    });
  }
  const unexpected = (v: Verdict<ExitEvidence> | undefined) =>
    v?.status === "unexpected"
      ? `${v.evidence.ipv4?.asn ?? v.evidence.ipv6?.asn}:${primaryOf(v)?.country}`
      : null;
  const nowOutside = unexpected(after.exit);
  // entering, or moving from one network outside the lock to another
  if (nowOutside !== null && nowOutside !== unexpected(before?.exit)) {
    flips.push({
      kind: "exit.unexpected",
      from: before?.exit.status ?? null,
      to: "unexpected",
      evidence: withReason(after.exit.reason, exitAfter),
      at,
    });
  }
  const oldExit = previous?.exit.ipv4 ?? null;
  const newExit = next.exit.ipv4;
  if (oldExit !== null && newExit !== null && canonicalIp(oldExit.ip) !== canonicalIp(newExit.ip)) {
    flips.push({
      kind: "exit.changed",
      from: oldExit.ip,
      to: newExit.ip,
      evidence: {
        reason: `Exit moved from ${describeIp(oldExit)} to ${describeIp(newExit)}.`,
        old: oldExit,
        new: newExit,
      },
      at,
    });
  }
  return flips;
}

const primaryOf = (v: Verdict<ExitEvidence>) => v.evidence.ipv4 ?? v.evidence.ipv6;

/**
 * exit.new_network: the exit (IPv4, else IPv6) is in an AS the client has not used in the last
 * 30 days. Only judged when the caller looked the history up (`networks`), and only when the
 * client has a history to compare with; an exit through home is the bypass, not a new network.
 */
function newNetworkFlips(
  previous: ClientState | null,
  next: ClientState,
  networks: NetworkProfile | null,
  at: number,
): Flip[] {
  if (networks === null || networks.asns.length === 0 || next.verdicts === null) return [];
  const exit = next.exit.ipv4 ?? next.exit.ipv6;
  if (exit === null || exit.asn === null) return [];
  const before = previous?.exit.ipv4 ?? previous?.exit.ipv6 ?? null;
  if (before?.asn === exit.asn || networks.asns.some((n) => n.asn === exit.asn)) return [];
  const home = next.verdicts.bypass.evidence.exits.some((e) => e.ip === exit.ip && e.home_match !== null);
  if (home) return [];
  return [
    {
      kind: "exit.new_network",
      from: before?.asn == null ? null : `AS${before.asn}`,
      to: `AS${exit.asn}`,
      evidence: {
        reason: `${networkName(exit.asn, exit.org)} first seen; last 30 days: ${describeNetworks(networks)}.`,
        exit,
        networks,
      },
      at,
    },
  ];
}

/**
 * A policy change (PATCH: interval, grace, paused) applied to a stored state without a report:
 * deadlines are recounted from the last report, and from `now` when the client is unpaused, so
 * unpausing never raises an instant offline. Expectations take effect at the next report.
 */
export function applyPolicy(state: ClientState, policy: ClientPolicy, now: number): ClientState {
  const intervalS = policy.interval_s ?? state.reported_interval_s ?? state.interval_s;
  const graceS = policy.grace_s ?? DEFAULT_GRACE_S;
  const unpaused = state.paused && !policy.paused;
  const from =
    state.last_report_at === null
      ? null
      : unpaused
        ? Math.max(state.last_report_at, now)
        : state.last_report_at;
  const next = { ...state, paused: policy.paused, interval_s: intervalS, grace_s: graceS };
  const withDeadlines = { ...next, ...pendingDeadlines({ ...next, from }) };
  return { ...withDeadlines, ...overallStatus(withDeadlines) };
}
