/**
 * Fast detection: a dropped tunnel shows up in the routing table, the interface list or
 * resolv.conf long before the next scheduled probe. RouteWatcher polls those files (cheap:
 * a few small reads per second, no netlink socket or privileges needed) and calls back when
 * their fingerprint changes, so the agent can probe at once.
 *
 * What the fingerprint covers, and why:
 *  - IPv4/IPv6 routes of prefix length 0 or 1: the default route, and the 0/1 + 128/1 pair
 *    (OpenVPN's redirect-gateway def1, many VPN apps) that overrides it without replacing it;
 *  - every interface and its operstate: wg-quick routes through a policy table that
 *    /proc/net/route does not show, but its interface disappearing or going down is visible;
 *  - the nameserver/search lines of resolv.conf (comments ignored): a DNS leak often starts there.
 * Counters (RefCnt, Use) are left out: they change all the time without meaning anything.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { normalizeIp } from "./ip-answer.ts";

export interface RouteSources {
  /** Text of /proc/net/route */
  route: string;
  /** Text of /proc/net/ipv6_route */
  ipv6Route: string;
  /** interface name → operstate ("up", "down", "unknown", ...) */
  interfaces: Record<string, string>;
  /** Text of /etc/resolv.conf */
  resolvConf: string;
}

export interface RouteSnapshot {
  /** Readable lines, sorted; used both to compare and to log what changed. */
  lines: string[];
  fingerprint: string;
}

const RTF_UP = 0x0001;
const RTF_REJECT = 0x0200;

/** /proc/net/route writes IPv4 addresses as little-endian hex. */
function hexToIPv4(hex: string): string {
  const n = Number.parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join(".");
}

function maskToPrefix(hex: string): number {
  let n = Number.parseInt(hex, 16) >>> 0;
  let bits = 0;
  while (n) {
    bits += n & 1;
    n >>>= 1;
  }
  return bits;
}

function hexToIPv6(hex: string): string {
  return normalizeIp((hex.match(/.{4}/g) ?? []).join(":")) ?? hex;
}

export function defaultRoutesV4(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, dest = "", gw = "", flags = "0", , , metric = "0", mask = "FFFFFFFF"] = f;
    const prefix = maskToPrefix(mask);
    if (prefix > 1 || !(Number.parseInt(flags, 16) & RTF_UP)) continue;
    out.push(
      `route4 ${hexToIPv4(dest)}/${prefix} dev ${iface} via ${hexToIPv4(gw)} metric ${Number.parseInt(metric, 10)}`,
    );
  }
  return out;
}

export function defaultRoutesV6(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [dest = "", plen = "ff", , , nexthop = "", metric = "0", , , flags = "0", iface] = f;
    const prefix = Number.parseInt(plen, 16);
    const fl = Number.parseInt(flags, 16);
    if (prefix > 1 || !(fl & RTF_UP) || fl & RTF_REJECT) continue;
    out.push(
      `route6 ${hexToIPv6(dest)}/${prefix} dev ${iface} via ${hexToIPv6(nexthop)} metric ${Number.parseInt(metric, 16)}`,
    );
  }
  return out;
}

/** The lines of resolv.conf that decide where queries go. */
export function resolvConfLines(text: string): string[] {
  return text
    .split("\n")
    .map((l) =>
      l
        .replace(/[#;].*$/, "")
        .trim()
        .replace(/\s+/g, " "),
    )
    .filter((l) => /^(nameserver|search|domain|options) /.test(l))
    .map((l) => `resolv ${l}`);
}

export function routeSnapshot(src: RouteSources): RouteSnapshot {
  const lines = [
    ...defaultRoutesV4(src.route),
    ...defaultRoutesV6(src.ipv6Route),
    ...Object.entries(src.interfaces).map(([name, state]) => `link ${name} ${state.trim() || "unknown"}`),
    ...resolvConfLines(src.resolvConf),
  ].sort();
  return { lines, fingerprint: createHash("sha256").update(lines.join("\n")).digest("hex").slice(0, 16) };
}

/** Lines that appeared ("+ ...") or went away ("- ..."), for the log. */
export function describeChange(before: RouteSnapshot, after: RouteSnapshot): string[] {
  const was = new Set(before.lines);
  const now = new Set(after.lines);
  return [
    ...before.lines.filter((l) => !now.has(l)).map((l) => `- ${l}`),
    ...after.lines.filter((l) => !was.has(l)).map((l) => `+ ${l}`),
  ];
}

export interface RoutePaths {
  route: string;
  ipv6Route: string;
  sysClassNet: string;
  resolvConf: string;
}

export const SYSTEM_ROUTE_PATHS: RoutePaths = {
  route: "/proc/net/route",
  ipv6Route: "/proc/net/ipv6_route",
  sysClassNet: "/sys/class/net",
  resolvConf: "/etc/resolv.conf",
};

const readOr = (path: string) => readFile(path, "utf8").catch(() => "");

/** Reads the current sources; a missing file (no IPv6, no resolv.conf) reads as empty. */
export async function readRouteSources(paths: RoutePaths = SYSTEM_ROUTE_PATHS): Promise<RouteSources> {
  const names = await readdir(paths.sysClassNet).catch(() => [] as string[]);
  const states = await Promise.all(names.map((n) => readOr(join(paths.sysClassNet, n, "operstate"))));
  const [route, ipv6Route, resolvConf] = await Promise.all([
    readOr(paths.route),
    readOr(paths.ipv6Route),
    readOr(paths.resolvConf),
  ]);
  return {
    route,
    ipv6Route,
    resolvConf,
    interfaces: Object.fromEntries(names.map((n, i) => [n, (states[i] ?? "").trim()])),
  };
}

export interface RouteChange {
  before: RouteSnapshot;
  after: RouteSnapshot;
  changes: string[];
}

export class RouteWatcher {
  private timer: ReturnType<typeof setInterval> | null = null;
  private last: RouteSnapshot | null = null;
  private polling = false;

  constructor(
    private readonly opts: {
      intervalMs: number;
      paths?: Partial<RoutePaths>;
      onChange: (c: RouteChange) => void;
    },
  ) {}

  private get paths(): RoutePaths {
    return { ...SYSTEM_ROUTE_PATHS, ...this.opts.paths };
  }

  get snapshot(): RouteSnapshot | null {
    return this.last;
  }

  /** Takes the first snapshot (no callback for it), then polls every intervalMs. */
  async start(): Promise<void> {
    this.last = routeSnapshot(await readRouteSources(this.paths));
    this.timer = setInterval(() => void this.poll(), this.opts.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One poll; true when something changed. Overlapping polls are skipped (slow /proc never piles up). */
  async poll(): Promise<boolean> {
    if (this.polling) return false;
    this.polling = true;
    try {
      const next = routeSnapshot(await readRouteSources(this.paths));
      const before = this.last;
      this.last = next;
      if (!before || before.fingerprint === next.fingerprint) return false;
      this.opts.onChange({ before, after: next, changes: describeChange(before, next) });
      return true;
    } finally {
      this.polling = false;
    }
  }
}
