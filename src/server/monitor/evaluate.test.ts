import { describe, expect, test } from "bun:test";
import {
  DEFAULT_CLIENT_POLICY,
  type Evaluation,
  evaluateReport,
  initialClientState,
  judgedAgainst,
  rejudgeState,
} from "./evaluate.ts";
import { learnNetworks } from "./networks.ts";
import { buildReport, CLOUDFLARE_RESOLVER, HOME, type ReportSpec, testGeo, VPN_EXIT } from "./testing.ts";
import type { ClientPolicy, ClientState, HomeIdentity, VerdictStatus } from "./types.ts";

const T0 = Date.parse("2026-11-20T12:00:00Z");
const NOW = T0 + 60_000;

interface Case {
  name: string;
  report: ReportSpec;
  sourceIp?: string | null;
  policy?: Partial<ClientPolicy>;
  home?: HomeIdentity;
  /** a report evaluated 30 s earlier gives the previous state */
  before?: ReportSpec;
  /** then bends that previous state (e.g. the sweeper made it offline); alone: bends a never-seen state */
  beforeState?: Partial<ClientState>;
  replayed?: boolean;
  expect: {
    bypass?: VerdictStatus;
    dns?: VerdictStatus;
    ipv6?: VerdictStatus;
    exit?: VerdictStatus;
    status?: ClientState["status"];
    /** exact flip kinds, in order */
    flips?: string[];
    /** substrings the named verdict's reason must contain */
    reasons?: Partial<Record<"bypass" | "dns" | "ipv6" | "exit" | "status", string[]>>;
    check?: (result: Evaluation) => void;
  };
}

const run = (c: Case): Evaluation => {
  const policy = { ...DEFAULT_CLIENT_POLICY, ...c.policy };
  const home = c.home ?? HOME;
  let previous: ClientState | null = null;
  if (c.before) {
    previous = evaluateReport({
      report: buildReport(c.before, NOW - 35_000),
      sourceIp: null,
      policy,
      home,
      previous: null,
      geo: testGeo,
      now: NOW - 30_000,
    }).state;
    previous = { ...previous, ...c.beforeState };
  } else if (c.beforeState) {
    previous = { ...initialClientState(policy), ...c.beforeState };
  }
  return evaluateReport({
    report: buildReport(c.report, NOW - 5_000),
    sourceIp: c.sourceIp ?? null,
    policy,
    home,
    previous,
    geo: testGeo,
    now: NOW,
    replayed: c.replayed,
  });
};

const ok = { bypass: "ok", dns: "ok", exit: "ok" } as const;
const NO_HOME_CONFIGURED: HomeIdentity = { addresses: [], asns: [], learn: false };
const NOT_LEARNED_YET: HomeIdentity = { addresses: [], asns: [], learn: true };

const CASES: Case[] = [
  // --- bypass ---
  {
    name: "VPN exit with a Cloudflare resolver is green",
    report: {},
    expect: {
      ...ok,
      ipv6: "na",
      status: "green",
      flips: ["client.first_seen"],
      reasons: { dns: ["allowed resolver"] },
    },
  },
  {
    name: "exit IPv4 equal to the home address is a bypass",
    report: { v4: "203.0.113.7" },
    expect: {
      bypass: "leak",
      status: "red",
      flips: ["client.first_seen", "bypass.started"],
      reasons: { bypass: ["203.0.113.7", "is a home address according to ipify, icanhazip"] },
    },
  },
  {
    name: "exit IPv4 in the home ASN is a bypass",
    report: { v4: "203.0.113.50" },
    expect: { bypass: "leak", status: "red", reasons: { bypass: ["home network's AS64500"] } },
  },
  {
    name: "an exit that is the home address is no ok exit",
    report: { v4: "203.0.113.7" },
    expect: {
      bypass: "leak",
      exit: "leak",
      reasons: { exit: ["home line", "203.0.113.7", "a home address"] },
    },
  },
  {
    name: "an IPv6 exit through home makes the exit a leak too, even with a VPN IPv4 exit",
    report: { v6: "2001:db8:1::5" },
    expect: { exit: "leak", reasons: { exit: ["IPv6 exit 2001:db8:1::5"] } },
  },
  {
    name: "one provider of three seeing the home address is a bypass even when the consensus is the VPN",
    report: {
      v4: VPN_EXIT,
      v4Consistent: false,
      v4Answers: [
        ["ipify", VPN_EXIT],
        ["icanhazip", VPN_EXIT],
        ["ifconfig.co", "203.0.113.7"],
      ],
    },
    expect: {
      bypass: "leak",
      exit: "inconsistent",
      status: "red",
      flips: ["client.first_seen", "bypass.started", "exit.inconsistent"],
      reasons: { bypass: ["according to ifconfig.co"] },
    },
  },
  {
    name: "a public home source address is a bypass",
    report: {},
    sourceIp: "203.0.113.7",
    expect: {
      bypass: "leak",
      status: "red",
      reasons: { bypass: ["received this report from the home address 203.0.113.7"] },
    },
  },
  {
    name: "an IPv4-mapped home source address is a bypass",
    report: {},
    sourceIp: "::ffff:203.0.113.7",
    expect: {
      bypass: "leak",
      check: (r) => expect(r.state.verdicts?.bypass.evidence.source_ip).toBe("203.0.113.7"),
    },
  },
  {
    name: "a private source address never counts",
    report: {},
    sourceIp: "192.168.1.10",
    expect: {
      bypass: "ok",
      status: "green",
      check: (r) => expect(r.state.verdicts?.bypass.evidence.source_ip_public).toBe(false),
    },
  },
  {
    name: "a CGNAT source address never counts",
    report: {},
    sourceIp: "100.64.0.5",
    expect: { bypass: "ok" },
  },
  { name: "a loopback IPv6 source never counts", report: {}, sourceIp: "::1", expect: { bypass: "ok" } },
  { name: "a ULA source never counts", report: {}, sourceIp: "fd00::5", expect: { bypass: "ok" } },
  {
    name: "a private source inside a (mis)configured private home range still never counts",
    report: {},
    sourceIp: "192.168.1.10",
    home: { addresses: ["192.168.1.0/24", "203.0.113.7"], asns: [64500], learn: false },
    expect: { bypass: "ok" },
  },
  {
    name: "a public non-home source is fine",
    report: {},
    sourceIp: VPN_EXIT,
    expect: { bypass: "ok", status: "green" },
  },
  {
    name: "a source merely in the home ASN is not a home address",
    report: {},
    sourceIp: "203.0.113.60",
    expect: { bypass: "ok" },
  },
  {
    name: "a home CIDR entry matches an exit the database knows nothing about",
    report: { v4: "203.0.113.200" },
    home: { addresses: ["203.0.113.0/24"], asns: [], learn: false },
    expect: { bypass: "leak", reasons: { bypass: ["in the home range 203.0.113.0/24"] } },
  },
  {
    name: "no IPv4 exit at all is unknown, never green",
    report: {
      v4: null,
      v4Answers: [
        ["ipify", null],
        ["icanhazip", null],
      ],
    },
    expect: { bypass: "unknown", exit: "unknown", status: "yellow", flips: ["client.first_seen"] },
  },
  // --- no home identity: nothing can be home, so nothing can be judged not home ---
  {
    name: "no home identity with learning off: bypass unknown, never green, and the reason says how to fix it",
    report: {},
    home: NO_HOME_CONFIGURED,
    expect: {
      bypass: "unknown",
      dns: "ok",
      status: "yellow",
      flips: ["client.first_seen"],
      reasons: { bypass: ["home address is unknown", "--no-home-learn", "--home-ip"], status: ["bypass"] },
    },
  },
  {
    name: "no home identity while learning has not succeeded: bypass unknown, and the reason says so",
    report: {},
    home: NOT_LEARNED_YET,
    expect: {
      bypass: "unknown",
      status: "yellow",
      reasons: { bypass: ["no IP provider has answered", "--home-ip"] },
    },
  },
  {
    name: "no home identity: an IPv6 exit is not known to stay off the home line",
    report: { v6: "2001:db8:1::5" },
    home: NO_HOME_CONFIGURED,
    expect: { bypass: "unknown", ipv6: "unknown", exit: "ok", status: "yellow" },
  },
  {
    name: "no home identity: the exit's network cannot vouch for a resolver",
    report: { resolvers: ["198.51.100.53"] },
    home: NO_HOME_CONFIGURED,
    expect: { dns: "unknown", reasons: { dns: ["home address is unknown"] } },
  },
  {
    name: "an ASN alone is a home identity",
    report: {},
    home: { addresses: [], asns: [64500], learn: false },
    expect: { ...ok, status: "green" },
  },
  // --- private witnesses: reached over a LAN, veth or loopback, never a vote ---
  {
    name: "the server's whoami over a LAN is evidence, not a disagreeing provider (as an older client sent it)",
    report: {
      v4: VPN_EXIT,
      v4Consistent: false,
      v4Answers: [
        ["ipify", VPN_EXIT],
        ["icanhazip", VPN_EXIT],
        ["whoami", "192.168.1.20"],
      ],
    },
    expect: {
      ...ok,
      status: "green",
      flips: ["client.first_seen"],
      check: (r) => {
        const exit = r.state.verdicts?.exit.evidence;
        expect(exit?.private_answers).toEqual([{ family: 4, provider: "whoami", ip: "192.168.1.20" }]);
        expect(exit?.consistent.ipv4).toBe(true);
        expect(exit?.answers.ipv4).toHaveLength(3); // every answer is kept
        expect(r.state.verdicts?.bypass.evidence.exits.map((e) => e.ip)).toEqual([VPN_EXIT]);
      },
    },
  },
  ...(
    [
      ["10.200.0.2", "veth"],
      ["172.17.0.1", "docker bridge"],
      ["100.64.1.2", "CGNAT"],
      ["169.254.3.4", "link-local"],
      ["127.0.0.1", "loopback"],
    ] as const
  ).map(
    ([ip, what]): Case => ({
      name: `a whoami answer from a ${what} address (${ip}) never makes the exit inconsistent`,
      report: {
        v4: null,
        v4Consistent: false,
        v4Answers: [
          ["ipify", VPN_EXIT],
          ["whoami", ip],
        ],
      },
      expect: { ...ok, status: "green", check: (r) => expect(r.state.exit.ipv4?.ip).toBe(VPN_EXIT) },
    }),
  ),
  {
    name: "an IPv6 whoami answer from a ULA or link-local address is not counted either",
    report: {
      v6: null,
      v6Consistent: false,
      v6Answers: [
        ["ipify6", "2001:db8:2::7"],
        ["whoami", "fd00::2"],
        ["other", "fe80::9"],
      ],
    },
    expect: {
      ...ok,
      ipv6: "ok",
      status: "green",
      check: (r) => expect(r.state.exit.ipv6?.ip).toBe("2001:db8:2::7"),
    },
  },
  {
    name: "a private address alone names no exit: unknown, never green",
    report: { v4: "10.0.0.5", v4Answers: [["whoami", "10.0.0.5"]] },
    expect: {
      bypass: "unknown",
      exit: "unknown",
      status: "yellow",
      check: (r) => {
        expect(r.state.exit.ipv4).toBeNull();
        expect(r.state.verdicts?.exit.evidence.private_answers).toHaveLength(1);
      },
    },
  },
  {
    name: "public providers that really disagree are still inconsistent beside a private whoami",
    report: {
      v4: null,
      v4Consistent: false,
      v4Answers: [
        ["ipify", VPN_EXIT],
        ["icanhazip", "198.51.100.200"],
        ["whoami", "192.168.1.20"],
      ],
    },
    expect: {
      exit: "inconsistent",
      reasons: { exit: ["icanhazip said 198.51.100.200"] },
      check: (r) => expect(r.state.verdicts?.exit.reason).not.toContain("192.168.1.20"),
    },
  },
  // --- dns ---
  {
    name: "resolver in the home ISP's ASN is a DNS leak",
    report: { resolvers: ["203.0.113.53"] },
    expect: {
      dns: "leak",
      bypass: "ok",
      status: "red",
      flips: ["client.first_seen", "dns_leak.started"],
      reasons: { dns: ["203.0.113.53", "AS64500", "Home ISP Toruń"] },
    },
  },
  {
    name: "resolver egress at the home address is a DNS leak",
    report: { resolvers: ["203.0.113.7"] },
    expect: { dns: "leak", reasons: { dns: ["203.0.113.7 (AS64500 Home ISP Toruń, PL) is a home address"] } },
  },
  {
    name: "resolver in the VPN's ASN is ok",
    report: { resolvers: ["198.51.100.53"] },
    expect: { dns: "ok", status: "green", reasons: { dns: ["the VPN's network"] } },
  },
  {
    name: "resolver at the exit address is ok even when the database knows nothing",
    report: { v4: "203.0.113.200", resolvers: ["203.0.113.200"] },
    expect: { dns: "ok", check: (r) => expect(r.state.resolvers[0]?.judgement).toBe("exit_network") },
  },
  {
    name: "Google resolver seen through a TXT probe with a VPN client subnet is ok",
    report: {
      resolvers: [],
      dns: [
        {
          probe: "o-o.myaddr.l.google.com",
          type: "TXT",
          via: "10.2.0.1",
          answers: ['"192.0.2.70"', '"edns0-client-subnet 198.51.100.0/24"'],
          latency_ms: 9,
          error: null,
        },
      ],
    },
    expect: {
      dns: "ok",
      status: "green",
      check: (r) => {
        expect(r.state.resolvers.map((x) => x.ip)).toEqual(["192.0.2.70"]);
        expect(r.state.verdicts?.dns.evidence.client_subnets[0]?.subnet).toBe("198.51.100.0/24");
      },
    },
  },
  {
    name: "a client subnet in home means the query left through the home line: leak",
    report: {
      resolvers: [],
      dns: [
        {
          probe: "o-o.myaddr.l.google.com",
          type: "TXT",
          via: "8.8.8.8",
          answers: ["192.0.2.70", "edns0-client-subnet 203.0.113.0/24"],
          latency_ms: 9,
          error: null,
        },
      ],
    },
    expect: { dns: "leak", status: "red", reasons: { dns: ["203.0.113.0/24"] } },
  },
  {
    name: "an unexpected resolver is suspect, and the reason names it",
    report: { resolvers: ["192.0.2.130"] },
    expect: {
      dns: "suspect",
      status: "yellow",
      flips: ["client.first_seen", "dns.suspect"],
      reasons: { dns: ["192.0.2.130", "AS64502", "Other Net", "DE", "AS64501"] },
    },
  },
  {
    name: "a resolver the database knows nothing about is suspect, not a leak",
    report: { resolvers: ["203.0.113.201"] },
    expect: { dns: "suspect", status: "yellow" },
  },
  {
    name: "no DNS probe at all is unknown, never green",
    report: { noDns: true },
    expect: { dns: "unknown", status: "yellow", reasons: { dns: ["cannot be ruled out"] } },
  },
  {
    name: "a failed DNS probe is unknown and says why",
    report: {
      resolvers: [],
      dns: [
        {
          probe: "o-o.myaddr.l.google.com",
          type: "TXT",
          via: null,
          answers: [],
          latency_ms: null,
          error: "SERVFAIL",
        },
      ],
    },
    expect: { dns: "unknown", reasons: { dns: ["SERVFAIL"] } },
  },
  {
    name: "one home resolver among safe ones is a leak",
    report: { resolvers: [CLOUDFLARE_RESOLVER, "203.0.113.53"] },
    expect: { dns: "leak" },
  },
  {
    name: "the exit's network does not vouch for a resolver when the exit itself is home",
    report: { v4: "203.0.113.7", resolvers: ["203.0.113.53"] },
    home: { addresses: ["203.0.113.7"], asns: [], learn: false },
    expect: { bypass: "leak", dns: "suspect" },
  },
  {
    name: "a per-client allow list admits its resolver",
    report: { resolvers: ["192.0.2.130"] },
    policy: { dns_allow_asns: [64502] },
    expect: { dns: "ok", status: "green" },
  },
  {
    name: "an empty allow list makes even Cloudflare suspect",
    report: {},
    policy: { dns_allow_asns: [] },
    expect: { dns: "suspect" },
  },
  {
    name: "an IPv6 resolver in the VPN is ok",
    report: {
      resolvers: [],
      dns: [
        {
          probe: "whoami6",
          type: "AAAA",
          via: null,
          answers: ["2001:db8:2::53"],
          latency_ms: 5,
          error: null,
        },
      ],
    },
    expect: { dns: "ok" },
  },
  // --- ipv6 ---
  {
    name: "IPv6 via home is an IPv6 leak (and a bypass)",
    report: { v6: "2001:db8:1::5" },
    expect: {
      ipv6: "leak",
      bypass: "leak",
      status: "red",
      flips: ["client.first_seen", "bypass.started", "ipv6_leak.started"],
      reasons: { ipv6: ["2001:db8:1::5", "2001:db8:1::/48"] },
    },
  },
  {
    name: "IPv6 exit in the VPN is ok",
    report: { v6: "2001:db8:2::7" },
    expect: { ...ok, ipv6: "ok", status: "green" },
  },
  { name: "no IPv6 probed is n/a and still green", report: {}, expect: { ipv6: "na", status: "green" } },
  {
    name: "IPv6 probed without an answer is n/a",
    report: { v6: null, v6Answers: [["ipify6", null]] },
    expect: { ipv6: "na", status: "green" },
  },
  {
    name: "an uncompressed home IPv6 spelling still matches",
    report: { v6: "2001:0DB8:0001:0000:0000:0000:0000:0005" },
    expect: { ipv6: "leak", check: (r) => expect(r.state.exit.ipv6?.ip).toBe("2001:db8:1::5") },
  },
  // --- exit ---
  {
    name: "providers disagree: inconsistent",
    report: {
      v4: null,
      v4Consistent: false,
      v4Answers: [
        ["ipify", VPN_EXIT],
        ["icanhazip", "198.51.100.200"],
      ],
    },
    expect: {
      exit: "inconsistent",
      status: "yellow",
      flips: ["client.first_seen", "exit.inconsistent"],
      reasons: { exit: ["icanhazip said 198.51.100.200"] },
    },
  },
  {
    name: "expected country met",
    report: {},
    policy: { expected_country: "BR" },
    expect: { exit: "ok", status: "green" },
  },
  {
    name: "expected country compares case-insensitively",
    report: {},
    policy: { expected_country: "br" },
    expect: { exit: "ok" },
  },
  {
    name: "expected country broken: violated",
    report: {},
    policy: { expected_country: "SE" },
    expect: {
      exit: "violated",
      status: "yellow",
      flips: ["client.first_seen", "expectation.violated"],
      reasons: { exit: ["country is BR, expected SE"] },
    },
  },
  { name: "expected ASN met", report: {}, policy: { expected_asn: 64501 }, expect: { exit: "ok" } },
  {
    name: "expected ASN broken: violated",
    report: {},
    policy: { expected_asn: 64504 },
    expect: { exit: "violated", reasons: { exit: ["AS64501 VPN Co São Paulo, expected AS64504"] } },
  },
  // --- locked exit networks and countries ---
  {
    name: "locked: an exit in a locked network and country is ok",
    report: {},
    policy: { exit_asns: [64504, 64501], exit_countries: ["SE", "BR"] },
    expect: { ...ok, status: "green", flips: ["client.first_seen"] },
  },
  {
    name: "locked: an exit in another AS is red, exit.unexpected with the lock as evidence",
    report: {},
    policy: { exit_asns: [64504] },
    expect: {
      exit: "unexpected",
      status: "red",
      flips: ["client.first_seen", "exit.unexpected"],
      reasons: {
        exit: [
          "outside the networks this client is locked to: AS64501 VPN Co São Paulo is not one of AS64504",
        ],
      },
      check: (r) => {
        const flip = r.flips.find((f) => f.kind === "exit.unexpected");
        expect(flip?.evidence).toMatchObject({
          locked: { asns: [64504], countries: null },
          outside: ["asn"],
          ipv4: { ip: VPN_EXIT, asn: 64501 },
        });
      },
    },
  },
  {
    name: "locked: an exit in another country is red",
    report: {},
    policy: { exit_countries: ["SE"] },
    expect: { exit: "unexpected", status: "red", reasons: { exit: ["BR is not one of SE"] } },
  },
  {
    name: "locked: an exit the database knows no AS for cannot be checked: unknown, not red",
    report: { v4: "203.0.113.200" },
    policy: { exit_asns: [64501] },
    expect: { exit: "unknown", status: "yellow", reasons: { exit: ["locked networks cannot be checked"] } },
  },
  {
    name: "locked: still outside in the same network raises nothing new",
    before: {},
    report: {},
    policy: { exit_asns: [64502] },
    expect: { exit: "unexpected", flips: [] },
  },
  {
    name: "locked: moving from one network outside the lock to another is a new exit.unexpected",
    before: {},
    report: { v4: "198.51.100.200" },
    policy: { exit_asns: [64502] },
    expect: { exit: "unexpected", flips: ["exit.unexpected", "exit.changed"] },
  },
  {
    name: "locked: back inside the lock is green again",
    before: { v4: "198.51.100.200" },
    report: {},
    policy: { exit_asns: [64501] },
    expect: { exit: "ok", status: "green", flips: ["exit.changed"] },
  },
  {
    name: "locked: an exit through home is the bypass (leak), not an unexpected network",
    report: { v4: "203.0.113.7" },
    policy: { exit_asns: [64501] },
    expect: { bypass: "leak", exit: "leak", flips: ["client.first_seen", "bypass.started"] },
  },
  {
    name: "a missing country never makes a leak",
    report: { v4: "192.0.2.200" },
    expect: { ...ok, status: "green", check: (r) => expect(r.state.exit.ipv4?.country).toBeNull() },
  },
  {
    name: "a missing country with an expected country is unknown, not violated",
    report: { v4: "192.0.2.200" },
    policy: { expected_country: "SE" },
    expect: {
      bypass: "ok",
      exit: "unknown",
      status: "yellow",
      flips: ["client.first_seen"],
      reasons: { exit: ["cannot be checked"] },
    },
  },
  {
    name: "non-ASCII organisation names stay intact",
    report: { resolvers: ["203.0.113.53"] },
    expect: {
      reasons: { exit: ["VPN Co São Paulo"], dns: ["Home ISP Toruń"] },
      check: (r) => {
        const roundTrip = JSON.parse(JSON.stringify(r.state)) as ClientState;
        expect(roundTrip.exit.ipv4?.org).toBe("VPN Co São Paulo");
        expect(roundTrip.resolvers[0]?.info.org).toBe("Home ISP Toruń");
      },
    },
  },
  // --- flips against a previous state ---
  {
    name: "a report that changes nothing yields no flips",
    before: {},
    report: {},
    expect: { status: "green", flips: [] },
  },
  {
    name: "a new resolver that is still ok yields no flips",
    before: {},
    report: { resolvers: ["192.0.2.70"] },
    expect: { dns: "ok", flips: [] },
  },
  {
    name: "exit changed carries old and new address, ASN and country",
    before: {},
    report: { v4: "198.51.100.200" },
    expect: {
      flips: ["exit.changed"],
      check: (r) => {
        const flip = r.flips[0];
        expect(flip?.from).toBe(VPN_EXIT);
        expect(flip?.to).toBe("198.51.100.200");
        expect(flip?.evidence.old).toMatchObject({ asn: 64501, country: "BR" });
        expect(flip?.evidence.new).toMatchObject({ asn: 64504, country: "SE" });
      },
    },
  },
  {
    name: "bypass ends when the exit is the VPN again",
    before: { v4: "203.0.113.7" },
    report: {},
    expect: { bypass: "ok", status: "green", flips: ["bypass.ended", "exit.changed"] },
  },
  {
    name: "a DNS leak starts",
    before: {},
    report: { resolvers: ["203.0.113.53"] },
    expect: { flips: ["dns_leak.started"] },
  },
  {
    name: "a DNS leak ends",
    before: { resolvers: ["203.0.113.53"] },
    report: {},
    expect: {
      flips: ["dns_leak.ended"],
      check: (r) => expect(r.flips[0]).toMatchObject({ from: "leak", to: "ok" }),
    },
  },
  {
    name: "a suspect resolver that stays suspect raises nothing new",
    before: { resolvers: ["192.0.2.130"] },
    report: { resolvers: ["192.0.2.130"] },
    expect: { dns: "suspect", flips: [] },
  },
  {
    name: "suspect turning into a leak starts a leak only",
    before: { resolvers: ["192.0.2.130"] },
    report: { resolvers: ["203.0.113.53"] },
    expect: { flips: ["dns_leak.started"] },
  },
  {
    name: "an IPv6 leak ends when IPv6 disappears",
    before: { v6: "2001:db8:1::5" },
    report: {},
    expect: { ipv6: "na", flips: ["bypass.ended", "ipv6_leak.ended"] },
  },
  {
    name: "a report after offline brings the client online with its downtime",
    before: {},
    beforeState: { liveness: "offline", status: "red" },
    report: {},
    expect: {
      status: "green",
      flips: ["client.online"],
      check: (r) => {
        expect(r.flips[0]).toMatchObject({ from: "offline", to: "online", suppressed: false });
        expect(r.flips[0]?.evidence.downtime_ms).toBe(30_000);
      },
    },
  },
  {
    name: "a report after late brings the client online",
    before: {},
    beforeState: { liveness: "late" },
    report: {},
    expect: { flips: ["client.online"] },
  },
  {
    name: "a replayed report updates history but its findings do not alert",
    before: { observedAt: NOW - 7_200_000 },
    report: { v4: "203.0.113.7", observedAt: NOW - 3_600_000 },
    replayed: true,
    expect: {
      bypass: "leak",
      flips: ["bypass.started", "exit.changed"],
      check: (r) => {
        for (const flip of r.flips) {
          expect(flip.suppressed).toBe(true);
          expect(flip.at).toBe(NOW - 3_600_000);
        }
      },
    },
  },
  {
    name: "a replayed report after offline still announces the client is back",
    before: {},
    beforeState: { liveness: "offline" },
    report: { resolvers: ["203.0.113.53"], observedAt: NOW - 20_000 },
    replayed: true,
    expect: {
      flips: ["client.online", "dns_leak.started"],
      check: (r) => expect(r.flips.map((f) => f.suppressed)).toEqual([false, true]),
    },
  },
  {
    name: "a report older than the state does not roll verdicts back",
    before: { observedAt: NOW - 10_000 },
    report: { v4: "203.0.113.7", observedAt: NOW - 60_000 },
    replayed: true,
    expect: {
      bypass: "ok",
      status: "green",
      flips: [],
      check: (r) => expect(r.state.observed_at).toBe(NOW - 10_000),
    },
  },
  {
    name: "a live report from a client whose clock went back is still judged",
    before: { observedAt: NOW - 10_000 },
    report: { v4: "203.0.113.7", observedAt: NOW - 86_400_000 },
    expect: {
      bypass: "leak",
      flips: ["bypass.started", "exit.changed"],
      check: (r) => expect(r.flips[0]?.suppressed).toBe(false),
    },
  },
  {
    name: "a paused client is grey and its flips are suppressed",
    report: { v4: "203.0.113.7" },
    policy: { paused: true },
    expect: {
      bypass: "leak",
      status: "grey",
      flips: ["client.first_seen", "bypass.started"],
      check: (r) => expect(r.flips.every((f) => f.suppressed)).toBe(true),
    },
  },
  {
    name: "the first report after enrolment (a never-seen state) is first_seen",
    report: {},
    beforeState: {},
    expect: {
      flips: ["client.first_seen"],
      check: (r) => {
        expect(r.state.first_seen_at).toBe(NOW);
        expect(r.flips[0]).toMatchObject({ from: null, to: "green", suppressed: false });
      },
    },
  },
  {
    name: "deadlines follow the report's interval",
    report: { intervalS: 30 },
    expect: {
      check: (r) => {
        expect(r.state.late_at).toBe(NOW + 45_000);
        expect(r.state.offline_at).toBe(NOW + 90_000);
        expect(r.state.liveness).toBe("online");
      },
    },
  },
  {
    name: "a policy interval overrides the agent's",
    report: { intervalS: 30 },
    policy: { interval_s: 60, grace_s: 120 },
    expect: {
      check: (r) => {
        expect(r.state.interval_s).toBe(60);
        expect(r.state.reported_interval_s).toBe(30);
        expect(r.state.late_at).toBe(NOW + 90_000);
        expect(r.state.offline_at).toBe(NOW + 180_000);
      },
    },
  },
];

describe("evaluateReport", () => {
  test("the table has at least 40 cases", () => expect(CASES.length).toBeGreaterThanOrEqual(40));

  for (const c of CASES) {
    test(c.name, () => {
      const result = run(c);
      const verdicts = result.state.verdicts;
      if (verdicts === null) throw new Error("no verdicts");
      const e = c.expect;
      if (e.bypass) expect(verdicts.bypass.status).toBe(e.bypass);
      if (e.dns) expect(verdicts.dns.status).toBe(e.dns);
      if (e.ipv6) expect(verdicts.ipv6.status).toBe(e.ipv6);
      if (e.exit) expect(verdicts.exit.status).toBe(e.exit);
      if (e.status) expect(result.state.status).toBe(e.status);
      if (e.flips)
        expect(result.flips.map((f) => f.kind)).toEqual(e.flips as (typeof result.flips)[number]["kind"][]);
      for (const [key, parts] of Object.entries(e.reasons ?? {})) {
        const reason = key === "status" ? result.state.reason : verdicts[key as keyof typeof verdicts].reason;
        for (const part of parts) expect(reason).toContain(part);
      }
      e.check?.(result);
      // Every flip explains itself, and the state survives the store's JSON round trip.
      for (const flip of result.flips) expect(typeof flip.evidence.reason).toBe("string");
      expect(JSON.parse(JSON.stringify(result.state))).toEqual(result.state);
    });
  }
});

describe("evaluateReport invariants", () => {
  test("severity follows status for every verdict in the table", () => {
    const colour: Record<VerdictStatus, string> = {
      ok: "green",
      na: "grey",
      leak: "red",
      suspect: "yellow",
      unknown: "yellow",
      inconsistent: "yellow",
      violated: "yellow",
      unexpected: "red",
    };
    for (const c of CASES) {
      const verdicts = run(c).state.verdicts;
      for (const v of Object.values(verdicts ?? {}))
        expect(v.severity).toBe(colour[v.status as VerdictStatus]);
    }
  });

  test("unknown is never green", () => {
    for (const c of CASES) {
      const { state } = run(c);
      const statuses = Object.values(state.verdicts ?? {}).map((v) => v.status);
      if (statuses.includes("unknown")) expect(state.status).not.toBe("green");
    }
  });

  test("a never-seen state is grey with nothing pending", () => {
    const state = initialClientState(DEFAULT_CLIENT_POLICY);
    expect(state).toMatchObject({ status: "grey", liveness: "never", late_at: null, offline_at: null });
  });
});

describe("judging the last report again when home changes", () => {
  const report = buildReport({ v4: "203.0.113.7" }, NOW - 5_000);
  const judgedBlind = evaluateReport({
    report,
    sourceIp: null,
    policy: DEFAULT_CLIENT_POLICY,
    home: NO_HOME_CONFIGURED,
    previous: null,
    geo: testGeo,
    now: NOW,
  }).state;

  test("a state judged against no home is stale once home is known, and fresh against the same home", () => {
    expect(judgedAgainst(judgedBlind, NO_HOME_CONFIGURED)).toBe(true);
    expect(judgedAgainst(judgedBlind, HOME)).toBe(false);
    // learning switched on without an answer yet: the reason changes, so it is stale too
    expect(judgedAgainst(judgedBlind, NOT_LEARNED_YET)).toBe(false);
    expect(judgedAgainst(initialClientState(DEFAULT_CLIENT_POLICY), HOME)).toBe(false);
  });

  test("the exposed client turns red with its flips; liveness and deadlines stay as they were", () => {
    const later = NOW + 600_000;
    const { state, flips } = rejudgeState({
      state: judgedBlind,
      report,
      sourceIp: null,
      policy: DEFAULT_CLIENT_POLICY,
      home: HOME,
      geo: testGeo,
      now: later,
    });
    expect(judgedBlind.status).toBe("yellow");
    expect(state.status).toBe("red");
    expect(state.verdicts?.bypass.status).toBe("leak");
    expect(flips.map((f) => [f.kind, f.at, f.suppressed])).toEqual([["bypass.started", later, false]]);
    expect(state).toMatchObject({
      liveness: judgedBlind.liveness,
      last_report_at: judgedBlind.last_report_at,
      late_at: judgedBlind.late_at,
      offline_at: judgedBlind.offline_at,
    });
    expect(judgedAgainst(state, HOME)).toBe(true);
  });

  test("a paused client is judged again too, but alerts nothing", () => {
    const paused = { ...judgedBlind, paused: true };
    const { flips } = rejudgeState({
      state: paused,
      report,
      sourceIp: null,
      policy: { ...DEFAULT_CLIENT_POLICY, paused: true },
      home: HOME,
      geo: testGeo,
      now: NOW,
    });
    expect(flips.map((f) => f.suppressed)).toEqual([true]);
  });
});

describe("a report sent before its DNS probes finished (dns_pending)", () => {
  const policy = DEFAULT_CLIENT_POLICY;
  const HOME_RESOLVER = "203.0.113.53";
  const OTHER_RESOLVER = "192.0.2.130";
  /** Evaluates the reports in order, 10 s apart; returns every evaluation. */
  const chain = (...specs: ReportSpec[]): Evaluation[] => {
    const out: Evaluation[] = [];
    let previous: ClientState | null = null;
    specs.forEach((spec, i) => {
      const at = T0 + i * 10_000;
      const e = evaluateReport({
        report: buildReport(spec, at - 1000),
        sourceIp: null,
        policy,
        home: HOME,
        previous,
        geo: testGeo,
        now: at,
      });
      out.push(e);
      previous = e.state;
    });
    return out;
  };
  const kinds = (e: Evaluation | undefined) => e?.flips.map((f) => f.kind);

  test("a DNS leak stays a leak: no false dns_leak.ended, and it ends when the DNS part says so", () => {
    const [, pending, again, full] = chain(
      { resolvers: [HOME_RESOLVER] },
      { dnsPending: true },
      { dnsPending: true },
      {},
    );
    expect(pending?.state.verdicts?.dns.status).toBe("leak");
    expect(pending?.state.verdicts?.dns.evidence.pending).toBe(true);
    expect(pending?.state.verdicts?.dns.reason).toContain("DNS is being checked again");
    expect(pending?.state.status).toBe("red");
    expect(kinds(pending)).toEqual([]);
    expect(again?.state.verdicts?.dns).toEqual(pending?.state.verdicts?.dns); // not re-wrapped
    expect(kinds(again)).toEqual([]);
    expect(kinds(full)).toEqual(["dns_leak.ended"]);
  });

  test("a suspect resolver stays suspect: no second dns.suspect", () => {
    const [first, pending, full] = chain(
      { resolvers: [OTHER_RESOLVER] },
      { dnsPending: true },
      {
        resolvers: [OTHER_RESOLVER],
      },
    );
    expect(kinds(first)).toContain("dns.suspect");
    expect(pending?.state.verdicts?.dns.status).toBe("suspect");
    expect(kinds(pending)).toEqual([]);
    expect(kinds(full)).toEqual([]);
  });

  test("an ok DNS becomes unknown, never green, and raises nothing either way", () => {
    const [, pending, full] = chain({}, { dnsPending: true }, {});
    expect(pending?.state.verdicts?.dns.status).toBe("unknown");
    expect(pending?.state.status).toBe("yellow");
    expect(pending?.state.verdicts?.dns.reason).toContain("cannot be ruled out yet");
    // the resolvers stay as last seen: history records no change of resolver
    expect(pending?.state.resolvers.map((r) => r.ip)).toEqual([CLOUDFLARE_RESOLVER]);
    expect(kinds(pending)).toEqual([]);
    expect(full?.state.status).toBe("green");
    expect(kinds(full)).toEqual([]);
  });

  test("the bypass it carries fires at once; the DNS part that follows judges DNS afresh", () => {
    const [, pending, full] = chain(
      {},
      { v4: "203.0.113.7", dnsPending: true },
      {
        v4: "203.0.113.7",
        resolvers: [HOME_RESOLVER],
      },
    );
    expect(kinds(pending)).toEqual(["bypass.started", "exit.changed"]);
    expect(pending?.state.verdicts?.dns.status).toBe("unknown");
    expect(kinds(full)).toEqual(["dns_leak.started"]);
  });

  test("a first report without its DNS part: DNS unknown", () => {
    const [first] = chain({ dnsPending: true });
    expect(first?.state.verdicts?.dns.status).toBe("unknown");
    expect(kinds(first)).toEqual(["client.first_seen"]);
  });

  test("judged again after a home change, it keeps the DNS verdict it carried", () => {
    const [, pending] = chain({ resolvers: [HOME_RESOLVER] }, { dnsPending: true });
    const state = pending?.state as ClientState;
    const { state: next, flips } = rejudgeState({
      state,
      report: buildReport({ dnsPending: true }, T0),
      sourceIp: null,
      policy,
      home: { ...HOME, addresses: [...HOME.addresses, "198.51.100.200"] },
      geo: testGeo,
      now: T0 + 60_000,
    });
    expect(next.verdicts?.dns).toEqual(state.verdicts?.dns);
    expect(flips).toEqual([]);
  });
});

describe("exit.new_network: an exit in an AS the client has not used in 30 days", () => {
  const H = 3_600_000;
  // the client's last 30 days: 96 % in AS64501, 4 % in AS64504 (no org known: shown bare)
  const networks = learnNetworks(
    [
      { ip: "198.51.100.7", ms: 96 * H },
      { ip: "198.51.100.200", ms: 4 * H },
    ],
    {
      lookup: (ip) =>
        ip === "198.51.100.200"
          ? { ip, asn: 64504, org: null, country: "SE", source: "override" }
          : testGeo.lookup(ip),
    },
    HOME,
  );
  const judge = (spec: ReportSpec, before: ReportSpec, profile = networks) => {
    const previous = evaluateReport({
      report: buildReport(before, NOW - 35_000),
      sourceIp: null,
      policy: DEFAULT_CLIENT_POLICY,
      home: HOME,
      previous: null,
      geo: testGeo,
      now: NOW - 30_000,
    }).state;
    return evaluateReport({
      report: buildReport(spec, NOW - 5_000),
      sourceIp: null,
      policy: DEFAULT_CLIENT_POLICY,
      home: HOME,
      previous,
      geo: testGeo,
      now: NOW,
      networks: profile,
    });
  };

  test("yellow event with what is normal for this client, the status untouched", () => {
    // 192.0.2.140: AS64502 Other Net, DE
    const { flips, state } = judge({ v4: "192.0.2.140" }, {});
    const flip = flips.find((f) => f.kind === "exit.new_network");
    expect(flip?.evidence.reason).toBe(
      "AS64502 Other Net first seen; last 30 days: AS64501 VPN Co São Paulo 96 %, AS64504 4 %.",
    );
    expect(flip).toMatchObject({ from: "AS64501", to: "AS64502", suppressed: false });
    expect(flip?.evidence).toMatchObject({ exit: { ip: "192.0.2.140", asn: 64502 }, networks });
    expect(flips.map((f) => f.kind)).toEqual(["exit.changed", "exit.new_network"]);
    expect(state.status).toBe("green");
  });

  test("nothing for a network of the last 30 days, for the home line, or without history", () => {
    expect(judge({ v4: "198.51.100.200" }, {}).flips.map((f) => f.kind)).toEqual(["exit.changed"]);
    expect(judge({ v4: "203.0.113.7" }, {}).flips.map((f) => f.kind)).toEqual([
      "bypass.started",
      "exit.changed",
    ]);
    const none = learnNetworks([], testGeo, HOME);
    expect(judge({ v4: "192.0.2.140" }, {}, none).flips.map((f) => f.kind)).toEqual(["exit.changed"]);
  });

  test("a replayed report's new network is stored but not alerted", () => {
    const previous = evaluateReport({
      report: buildReport({}, NOW - 35_000),
      sourceIp: null,
      policy: DEFAULT_CLIENT_POLICY,
      home: HOME,
      previous: null,
      geo: testGeo,
      now: NOW - 30_000,
    }).state;
    const { flips } = evaluateReport({
      report: buildReport({ v4: "192.0.2.140" }, NOW - 5_000),
      sourceIp: null,
      policy: DEFAULT_CLIENT_POLICY,
      home: HOME,
      previous,
      geo: testGeo,
      now: NOW,
      replayed: true,
      networks,
    });
    expect(flips.find((f) => f.kind === "exit.new_network")?.suppressed).toBe(true);
  });
});
