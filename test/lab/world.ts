/**
 * The lab's world: Linux network namespaces joined by veth pairs, documentation addresses only
 * (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32), no route to the host.
 *
 *                         ┌──────────── sentinel-lab-internet ────────────┐
 *                         │ echo 192.0.2.200 :80 :8080, [2001:db8:ff::200] │
 *                         │ who-is-asking DNS 192.0.2.201 :53 (stand-in)   │
 *                         │ fake Telegram Bot API 192.0.2.202 :80          │
 *                         │ fake ntfy 192.0.2.203 :80, webhook receiver    │
 *                         │ 192.0.2.204 :80, Mosquitto 192.0.2.205 :1883   │
 *                         └──isp0 198.51.100.254────────vpn0 203.0.113.254─┘
 *                                  │                          │
 *   sentinel-lab-isp  wan0 198.51.100.1 (home public)  wan0 203.0.113.1 (VPN exit; .129 = 2nd exit)
 *   unbound 192.0.2.1 → egress 198.51.100.53        sentinel-lab-vpn: unbound 192.0.2.17 → 203.0.113.53
 *   SNAT LAN → 198.51.100.1, DNAT :8088 → home       SNAT tunnel → exit address
 *        lan0 192.0.2.1     home0 192.0.2.9               tun0 192.0.2.17
 *           │                   │                          │
 *   client lan0 192.0.2.2   home lan0 192.0.2.10        client tun0 192.0.2.18
 *   (sentinel-lab-client: sentinel client, default route via tun0)
 *   (sentinel-lab-home: sentinel server on :8088, reached by the client at http://198.51.100.1:8088,
 *    and its DNS oracle for leak.lab.example on :53, forwarded from 198.51.100.1:53 by the router)
 *
 * Faults are route and resolv.conf changes in the client namespace and NAT changes in the VPN.
 */

import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "bun";

export const PREFIX = "sentinel-lab-";
export const NS = {
  client: `${PREFIX}client`,
  home: `${PREFIX}home`,
  isp: `${PREFIX}isp`,
  vpn: `${PREFIX}vpn`,
  internet: `${PREFIX}internet`,
} as const;
export type NsName = keyof typeof NS;

export const ADDR = {
  clientLan: "192.0.2.2",
  ispLan: "192.0.2.1",
  ispLan6: "2001:db8:0:1::1",
  homeLan: "192.0.2.10",
  ispHomeSide: "192.0.2.9",
  vpnTun: "192.0.2.17",
  vpnTun6: "2001:db8:0:3::1",
  clientTun: "192.0.2.18",
  homePublic: "198.51.100.1",
  homePublic6: "2001:db8:51::1",
  ispResolverEgress: "198.51.100.53",
  vpnExit: "203.0.113.1",
  vpnExit2: "203.0.113.129",
  vpnExit6: "2001:db8:113::1",
  vpnResolverEgress: "203.0.113.53",
  echo: "192.0.2.200",
  echo6: "2001:db8:ff::200",
  authDns: "192.0.2.201",
  telegram: "192.0.2.202",
  ntfy: "192.0.2.203",
  webhook: "192.0.2.204",
  mqtt: "192.0.2.205",
} as const;

export const SERVER_PORT = 8088;
/** The server's DNS leak oracle zone; both resolvers reach it through a stub zone at the home's public address. */
export const ORACLE_ZONE = "leak.lab.example";
export const SERVER_URL = `http://${ADDR.homePublic}:${SERVER_PORT}`;

/** Identities for the documentation ranges, as a user would give them with --geo-overrides. */
export const GEO_OVERRIDES = [
  { cidr: "198.51.100.0/24", country: "DE", asn: 64500, org: "Lab ISP" },
  { cidr: "2001:db8:51::/48", country: "DE", asn: 64500, org: "Lab ISP" },
  { cidr: "203.0.113.0/25", country: "SE", asn: 64501, org: "Lab VPN" },
  { cidr: "203.0.113.128/25", country: "NL", asn: 64501, org: "Lab VPN" },
  { cidr: "2001:db8:113::/48", country: "SE", asn: 64501, org: "Lab VPN" },
];

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command (never through a shell); throws with its output when it fails unless `ok` allows. */
export function run(cmd: string[], opts: { allowFail?: boolean; stdin?: string } = {}): RunResult {
  const p = spawnSync(cmd, {
    stdout: "pipe",
    stderr: "pipe",
    ...(opts.stdin !== undefined ? { stdin: new TextEncoder().encode(opts.stdin) } : {}),
  });
  const r = { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
  if (r.code !== 0 && !opts.allowFail)
    throw new Error(`${cmd.join(" ")} → ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r;
}

/** `ip netns exec NS cmd...` */
export const inNs = (ns: NsName, cmd: string[], opts: { allowFail?: boolean; stdin?: string } = {}) =>
  run(["ip", "netns", "exec", NS[ns], ...cmd], opts);

/** `ip -n NS args...` (one ip invocation per call keeps errors readable). */
export const ip = (ns: NsName, args: string, opts: { allowFail?: boolean } = {}) =>
  run(["ip", "-n", NS[ns], ...args.split(/\s+/)], opts);

/** Why the lab cannot run here, or null when it can. */
export function labUnavailable(): string | null {
  if (process.platform !== "linux") return "the lab needs Linux network namespaces";
  if (process.getuid?.() !== 0)
    return "the lab needs root (network namespaces, veth, nftables): run it as root, e.g. sudo bun run test:lab";
  if (run(["ip", "netns", "list"], { allowFail: true }).code !== 0)
    return "`ip netns` is unavailable (install iproute2)";
  for (const tool of ["nft", "unbound", "curl", "mosquitto", "mosquitto_passwd"]) {
    if (run(["sh", "-c", `command -v ${tool}`], { allowFail: true }).code !== 0)
      return `${tool} is missing (apt-get install -y ${tool === "nft" ? "nftables" : tool.startsWith("mosquitto") ? "mosquitto" : tool})`;
  }
  return null;
}

/** Our namespaces left by an earlier run (crash, kill -9): their processes are lab processes. */
export function leftoverNamespaces(): string[] {
  return run(["ip", "netns", "list"])
    .stdout.split("\n")
    .map((l) => l.split(/\s+/)[0] ?? "")
    .filter((n) => n.startsWith(PREFIX));
}

/** Removes every sentinel-lab-* namespace with its processes and /etc/netns files. Never throws. */
export function teardownWorld(): void {
  for (const ns of leftoverNamespaces()) {
    const pids = run(["ip", "netns", "pids", ns], { allowFail: true })
      .stdout.split(/\s+/)
      .map(Number)
      .filter((n) => n > 1);
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    run(["ip", "netns", "del", ns], { allowFail: true });
  }
  for (const ns of Object.values(NS)) rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
}

function link(a: NsName, aIf: string, b: NsName, bIf: string): void {
  run(["ip", "-n", NS[a], "link", "add", aIf, "type", "veth", "peer", "name", bIf, "netns", NS[b]]);
  ip(a, `link set ${aIf} up`);
  ip(b, `link set ${bIf} up`);
}

const addr = (ns: NsName, dev: string, cidr: string) =>
  ip(ns, `addr add ${cidr} dev ${dev}${cidr.includes(":") ? " nodad" : ""}`);

function nft(ns: NsName, ruleset: string): void {
  inNs(ns, ["nft", "-f", "-"], { stdin: ruleset });
}

export function vpnNatRules(exit: string): string {
  return `table ip labnat {
  chain post { type nat hook postrouting priority 100; oifname "wan0" ip saddr 192.0.2.0/24 snat to ${exit}; }
}
table ip6 labnat {
  chain post { type nat hook postrouting priority 100; oifname "wan0" ip6 saddr 2001:db8:0::/48 snat to ${ADDR.vpnExit6}; }
}
`;
}

/** Moves the VPN's exit (scenario f): the client sees nothing change locally. */
export function setVpnExit(exit: string): void {
  inNs("vpn", ["nft", "delete", "table", "ip", "labnat"]);
  inNs("vpn", ["nft", "delete", "table", "ip6", "labnat"]);
  nft("vpn", vpnNatRules(exit));
  // established flows keep their old mapping: forget them so the next connection uses the new exit
  inNs("vpn", ["sh", "-c", "command -v conntrack >/dev/null && conntrack -F || true"], { allowFail: true });
}

/**
 * A resolver's configuration. The oracle zone is always reachable (its authority is the
 * sentinel server, through the router's port forward); the "who is asking" names only while
 * their stand-in is on: without it they are refused, as if no third party could be reached.
 */
function unboundConf(dir: string, name: string, listen: string, egress: string, standIns: boolean): string {
  const path = join(dir, `unbound-${name}.conf`);
  const whoami = standIns
    ? `  local-zone: "akamai.net." transparent
  local-zone: "l.google.com." transparent
stub-zone:
  name: "akamai.net."
  stub-addr: ${ADDR.authDns}
stub-zone:
  name: "l.google.com."
  stub-addr: ${ADDR.authDns}
`
    : "";
  writeFileSync(
    path,
    `server:
  interface: ${listen}
  port: 53
  outgoing-interface: ${egress}
  do-ip6: no
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "${dir}"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 0
  module-config: "iterator"
  qname-minimisation: no
  access-control: 0.0.0.0/0 allow
  cache-max-ttl: 0
  cache-max-negative-ttl: 0
  # nothing but the probe names is resolvable; the rest is refused (there is no Internet here)
  local-zone: "." refuse
  local-zone: "${ORACLE_ZONE}." transparent
${whoami}stub-zone:
  name: "${ORACLE_ZONE}."
  stub-addr: ${ADDR.homePublic}
remote-control:
  control-enable: no
`,
  );
  return path;
}

export interface WorldFiles {
  dir: string;
  geoOverrides: string;
  unboundIsp: string;
  unboundVpn: string;
  clientResolvConf: string;
}

/** (Re)writes both resolvers' configurations, with or without the "who is asking" stand-ins. */
export function writeResolverConfs(
  dir: string,
  standIns: boolean,
): Pick<WorldFiles, "unboundIsp" | "unboundVpn"> {
  return {
    unboundIsp: unboundConf(dir, "isp", ADDR.ispLan, ADDR.ispResolverEgress, standIns),
    unboundVpn: unboundConf(dir, "vpn", ADDR.vpnTun, ADDR.vpnResolverEgress, standIns),
  };
}

/** Builds the namespaces, links, addresses, routes and NAT (healthy: client routes via the VPN). */
export function buildWorld(dir: string): WorldFiles {
  teardownWorld();
  for (const ns of Object.values(NS)) run(["ip", "netns", "add", ns]);
  for (const key of Object.keys(NS) as NsName[]) {
    ip(key, "link set lo up");
    inNs(key, [
      "sysctl",
      "-qw",
      "net.ipv4.ip_forward=1",
      "net.ipv6.conf.all.forwarding=1",
      "net.ipv4.conf.all.rp_filter=0",
      "net.ipv4.conf.default.rp_filter=0",
      "net.ipv6.conf.default.accept_dad=0",
      // a tunnel going down must not lose its IPv6 address (the kernel flushes them by default)
      "net.ipv6.conf.all.keep_addr_on_down=1",
      "net.ipv6.conf.default.keep_addr_on_down=1",
    ]);
  }
  link("client", "lan0", "isp", "lan0");
  link("home", "lan0", "isp", "home0");
  link("client", "tun0", "vpn", "tun0");
  link("isp", "wan0", "internet", "isp0");
  link("vpn", "wan0", "internet", "vpn0");

  addr("client", "lan0", "192.0.2.2/29");
  addr("client", "lan0", "2001:db8:0:1::2/64");
  addr("isp", "lan0", "192.0.2.1/29");
  addr("isp", "lan0", "2001:db8:0:1::1/64");
  addr("home", "lan0", "192.0.2.10/29");
  addr("home", "lan0", "2001:db8:0:2::2/64");
  addr("isp", "home0", "192.0.2.9/29");
  addr("isp", "home0", "2001:db8:0:2::1/64");
  addr("client", "tun0", "192.0.2.18/29");
  addr("client", "tun0", "2001:db8:0:3::2/64");
  addr("vpn", "tun0", "192.0.2.17/29");
  addr("vpn", "tun0", "2001:db8:0:3::1/64");
  addr("isp", "wan0", "198.51.100.1/24");
  addr("isp", "wan0", "198.51.100.53/24");
  addr("isp", "wan0", "2001:db8:51::1/64");
  addr("internet", "isp0", "198.51.100.254/24");
  addr("internet", "isp0", "2001:db8:51::ffff/64");
  addr("vpn", "wan0", "203.0.113.1/24");
  addr("vpn", "wan0", "203.0.113.53/24");
  addr("vpn", "wan0", "203.0.113.129/24");
  addr("vpn", "wan0", "2001:db8:113::1/64");
  addr("internet", "vpn0", "203.0.113.254/24");
  addr("internet", "vpn0", "2001:db8:113::ffff/64");
  for (const a of [
    `${ADDR.echo}/32`,
    `${ADDR.authDns}/32`,
    `${ADDR.telegram}/32`,
    `${ADDR.ntfy}/32`,
    `${ADDR.webhook}/32`,
    `${ADDR.mqtt}/32`,
    `${ADDR.echo6}/128`,
  ])
    addr("internet", "lo", a);

  // Every default route points inside the lab; `internet` has none at all.
  ip("isp", "route add default via 198.51.100.254");
  ip("isp", "-6 route add default via 2001:db8:51::ffff");
  ip("vpn", "route add default via 203.0.113.254");
  ip("vpn", "-6 route add default via 2001:db8:113::ffff");
  ip("home", "route add default via 192.0.2.9");
  ip("home", "-6 route add default via 2001:db8:0:2::1");
  healthyRoutes();

  nft(
    "isp",
    `table ip labnat {
  chain pre {
    type nat hook prerouting priority -100;
    ip daddr ${ADDR.homePublic} tcp dport ${SERVER_PORT} dnat to ${ADDR.homeLan}:${SERVER_PORT};
    # the DNS oracle: port 53, UDP and TCP, forwarded to the server like on a home router
    ip daddr ${ADDR.homePublic} udp dport 53 dnat to ${ADDR.homeLan}:53;
    ip daddr ${ADDR.homePublic} tcp dport 53 dnat to ${ADDR.homeLan}:53;
  }
  # the ISP's own resolver runs on the router here: its queries to the public address leave from it
  chain out {
    type nat hook output priority -100;
    ip daddr ${ADDR.homePublic} udp dport 53 dnat to ${ADDR.homeLan}:53;
    ip daddr ${ADDR.homePublic} tcp dport 53 dnat to ${ADDR.homeLan}:53;
  }
  chain post {
    type nat hook postrouting priority 100;
    oifname "wan0" ip saddr 192.0.2.0/24 snat to ${ADDR.homePublic};
    # hairpin: a LAN client reaching the home's public address is seen coming from it
    oifname "home0" ip saddr 192.0.2.0/29 ct status dnat snat to ${ADDR.homePublic};
  }
}
table ip6 labnat {
  chain post { type nat hook postrouting priority 100; oifname "wan0" ip6 saddr 2001:db8:0::/48 snat to ${ADDR.homePublic6}; }
}
`,
  );
  nft("vpn", vpnNatRules(ADDR.vpnExit));

  mkdirSync(dir, { recursive: true });
  const geoOverrides = join(dir, "geo-overrides.json");
  writeFileSync(geoOverrides, JSON.stringify(GEO_OVERRIDES, null, 2));
  mkdirSync(`/etc/netns/${NS.client}`, { recursive: true });
  const clientResolvConf = `/etc/netns/${NS.client}/resolv.conf`;
  writeFileSync(clientResolvConf, `nameserver ${ADDR.vpnTun}\n`);
  return {
    dir,
    geoOverrides,
    ...writeResolverConfs(dir, false),
    clientResolvConf,
  };
}

// ---- the client's network states (all changes happen in the client namespace) ----------------

const flush = () => {
  ip("client", "route flush default", { allowFail: true });
  ip("client", "-6 route flush default", { allowFail: true });
};

/** Tunnel up, everything (IPv4 and IPv6) through it. */
export function healthyRoutes(): void {
  ip("client", "link set tun0 up");
  flush();
  ip("client", `route add default via ${ADDR.vpnTun} dev tun0`);
  ip("client", `-6 route add default via ${ADDR.vpnTun6} dev tun0`);
}

/** The tunnel interface goes down; without a kill switch the ISP route takes over. */
export function tunnelDown(killSwitch: boolean): void {
  ip("client", "link set tun0 down");
  flush();
  if (!killSwitch) {
    ip("client", `route add default via ${ADDR.ispLan} dev lan0`);
    ip("client", `-6 route add default via ${ADDR.ispLan6} dev lan0`);
  }
}

/** IPv4 stays in the tunnel, IPv6 goes out through the ISP (a v4-only tunnel). */
export function ipv6AroundTunnel(): void {
  ip("client", "-6 route flush default", { allowFail: true });
  ip("client", `-6 route add default via ${ADDR.ispLan6} dev lan0`);
}

/** Rewrites the client's resolv.conf in place (the bind mount of ip netns exec follows the inode). */
export function setClientResolver(files: WorldFiles, resolver: string): void {
  writeFileSync(files.clientResolvConf, `nameserver ${resolver}\n`);
}
