/**
 * DNS resolver identity: ask names whose authoritative servers answer with the address of
 * the resolver that asked them. The answers therefore name the resolver's egress address,
 * which is what a DNS leak changes.
 *
 * Which answer strings name the resolver:
 *  - whoami.akamai.net A/AAAA: each address is the resolver's egress address.
 *  - o-o.myaddr.l.google.com TXT: a string that is a bare IP address is the resolver's egress
 *    address; "edns0-client-subnet <prefix>" is the client subnet the resolver forwarded (EDNS
 *    Client Subnet), which names the *client's* network, not the resolver. Raw answers are kept
 *    in the report; `resolverAddresses` extracts the identifying ones.
 *
 * Queries go to the system resolvers listed in /etc/resolv.conf (the path applications use;
 * inside `ip netns exec` that is /etc/netns/<ns>/resolv.conf), tried in order like glibc does,
 * or to an explicit `IP:PORT` resolver.
 */
import { Resolver } from "node:dns/promises";
import { readFile } from "node:fs/promises";
import type { DnsObservation, DnsProbeType, OracleLookup, OracleLookupType } from "../protocol/report.ts";
import { normalizeIp } from "./ip-answer.ts";

export interface DnsProbe {
  name: string;
  type: DnsProbeType;
}

export const DEFAULT_DNS_PROBES: DnsProbe[] = [
  { name: "whoami.akamai.net", type: "A" },
  { name: "o-o.myaddr.l.google.com", type: "TXT" },
];

/** glibc uses at most three nameservers (MAXNS). */
const MAX_NAMESERVERS = 3;

/** "NAME:TYPE" → probe; throws a one-line message on a bad spec. */
export function parseDnsProbe(spec: string): DnsProbe {
  const m = /^([A-Za-z0-9_.-]{1,253}):(A|AAAA|TXT)$/i.exec(spec.trim());
  if (!m?.[1] || !m[2]) throw new Error(`${JSON.stringify(spec)} is not NAME:TYPE with TYPE A, AAAA or TXT`);
  return { name: m[1].replace(/\.$/, ""), type: m[2].toUpperCase() as DnsProbeType };
}

/** "IP:PORT" or "[IPv6]:PORT" (port optional, 53) → the form node:dns setServers takes; null when invalid. */
export function parseResolverAddress(text: string): string | null {
  const s = text.trim();
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(s);
  const v4 = /^(\d+\.\d+\.\d+\.\d+)(?::(\d{1,5}))?$/.exec(s);
  const m = v6 ?? v4;
  const ip = m?.[1] ? normalizeIp(m[1]) : normalizeIp(s);
  if (!ip) return null;
  const port = m?.[2] ? Number(m[2]) : 53;
  if (port < 1 || port > 65535) return null;
  if (port === 53) return ip;
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The nameserver lines of a resolv.conf text, in order, at most three (as glibc). */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    // A scope id (fe80::1%eth0) cannot be passed to c-ares; such entries are skipped.
    const ip = m?.[1] && !m[1].includes("%") ? normalizeIp(m[1]) : null;
    if (ip) out.push(ip);
  }
  return out.slice(0, MAX_NAMESERVERS);
}

export async function systemResolvers(resolvConfPath = "/etc/resolv.conf"): Promise<string[]> {
  let text = "";
  try {
    text = await readFile(resolvConfPath, "utf8");
  } catch {
    // no resolv.conf: glibc then falls back to the local host
  }
  const servers = parseResolvConf(text);
  return servers.length ? servers : ["127.0.0.1"];
}

/** The strings of one observation that name a resolver (see the module comment). */
export function resolverAddresses(obs: DnsObservation): string[] {
  return obs.answers.flatMap((a) => {
    const ip = normalizeIp(a);
    return ip ? [ip] : [];
  });
}

export interface DnsProbeOptions {
  /** Explicit resolver "IP:PORT"; otherwise the system resolvers. */
  resolver?: string;
  timeoutMs: number;
  /** For tests: where the system resolvers are read from. */
  resolvConfPath?: string;
  /** Cancels the queries still waiting (agent shutdown, a round made stale by a network change). */
  signal?: AbortSignal;
}

async function query(
  server: string,
  probe: DnsProbe,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<string[]> {
  const r = new Resolver({ timeout: Math.max(1, Math.round(timeoutMs)), tries: 1 });
  r.setServers([server]);
  const cancel = () => r.cancel();
  signal?.addEventListener("abort", cancel);
  try {
    if (signal?.aborted) throw Object.assign(new Error("cancelled"), { code: "ECANCELLED" });
    if (probe.type === "A") return await r.resolve4(probe.name);
    if (probe.type === "AAAA") return await r.resolve6(probe.name);
    // A TXT record may be split into several character-strings; they form one text.
    return (await r.resolveTxt(probe.name)).map((chunks) => chunks.join(""));
  } finally {
    signal?.removeEventListener("abort", cancel);
    r.cancel();
  }
}

function describeDnsError(e: unknown): string {
  const err = e as Error & { code?: string };
  const meaning: Record<string, string> = {
    ETIMEOUT: "timed out",
    ENOTFOUND: "no such name (NXDOMAIN)",
    ENODATA: "no records of this type",
    ECONNREFUSED: "connection refused",
    ESERVFAIL: "server failure (SERVFAIL)",
    EREFUSED: "query refused",
    ECANCELLED: "cancelled",
  };
  const code = err?.code ?? "";
  return (
    meaning[code] ? `${code}: ${meaning[code]}` : `${code ? `${code}: ` : ""}${err?.message ?? String(e)}`
  ).slice(0, 300);
}

async function probeOne(
  probe: DnsProbe,
  servers: string[],
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<DnsObservation> {
  const perServer = timeoutMs / servers.length;
  let lastError = "no resolver configured";
  for (const server of servers) {
    const t0 = performance.now();
    try {
      const answers = await query(server, probe, perServer, signal);
      return {
        probe: probe.name,
        type: probe.type,
        via: server,
        answers: answers.slice(0, 16).map((a) => a.slice(0, 256)),
        latency_ms: Math.round(performance.now() - t0),
        error: null,
      };
    } catch (e) {
      lastError = describeDnsError(e);
      const code = (e as { code?: string }).code;
      // Only an unreachable server makes glibc try the next one; an answer (even NXDOMAIN) is final.
      if (code !== "ETIMEOUT" && code !== "ECONNREFUSED")
        return {
          probe: probe.name,
          type: probe.type,
          via: server,
          answers: [],
          latency_ms: Math.round(performance.now() - t0),
          error: lastError,
        };
    }
  }
  return {
    probe: probe.name,
    type: probe.type,
    via: servers[0] ?? null,
    answers: [],
    latency_ms: null,
    error: lastError,
  };
}

/** Runs every probe concurrently; never throws (failures are in each observation's `error`). */
export async function probeDnsResolvers(
  probes: DnsProbe[],
  opts: DnsProbeOptions,
): Promise<DnsObservation[]> {
  const explicit = opts.resolver ? parseResolverAddress(opts.resolver) : null;
  if (opts.resolver && !explicit) throw new Error(`${JSON.stringify(opts.resolver)} is not IP:PORT`);
  const servers = explicit ? [explicit] : await systemResolvers(opts.resolvConfPath);
  return Promise.all(probes.map((p) => probeOne(p, servers, opts.timeoutMs, opts.signal)));
}

/**
 * The server's DNS oracle names, looked up like the probes (system resolvers in glibc's order).
 * The oracle may answer with no address at all, and Bun's resolver reports that empty answer
 * (NODATA) as ENOTFOUND, like a missing name: either way a resolver answered. Whether the
 * oracle was reached, and by whom, only the server can tell.
 */
export async function lookUpOracleNames(
  names: { name: string; type: OracleLookupType }[],
  opts: DnsProbeOptions,
): Promise<OracleLookup[]> {
  const observed = await probeDnsResolvers(names, opts);
  return observed.map((o) => ({
    name: o.probe,
    type: o.type as OracleLookupType,
    via: o.via,
    latency_ms: o.latency_ms,
    error: /^(ENODATA|ENOTFOUND):/.test(o.error ?? "") ? null : o.error,
  }));
}
