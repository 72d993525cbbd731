/** `sentinel server` options of the DNS oracle, and the zone they describe. */

import { checkListen, parseListen } from "../../cli/server-options.ts";
import type { OptionSpecs } from "../../config/options.ts";
import { normalizeIp } from "../../probe/ip-answer.ts";
import type { ZoneConfig } from "./responder.ts";

const HOST_NAME =
  /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** A DNS name as the oracle compares it: lower case, no trailing dot; null when it is not one. */
export function dnsName(text: string): string | null {
  const name = text.trim().toLowerCase().replace(/\.$/, "");
  return HOST_NAME.test(name) ? name : null;
}

export const dnsOracleSpecs = {
  dnsZone: {
    kind: "string",
    description:
      "Be the DNS leak oracle for this zone (delegated to this server with an NS record; docs/operations.md): clients resolve fresh names in it and the server sees which resolver asks",
    valueHint: "ZONE",
    check: (v: string) =>
      dnsName(v)?.includes(".") ? undefined : "must be a DNS name such as leak.example.org",
  },
  dnsListen: {
    kind: "string",
    description:
      "Where the DNS oracle listens, UDP and TCP (default :53, every IPv4 and IPv6 address, with --dns-zone)",
    valueHint: "HOST:PORT",
    check: checkListen,
  },
  dnsAnswerIp: {
    kind: "list",
    description:
      "Address the oracle's A/AAAA answers carry, this server's public one (repeatable; none: empty answers, which is enough)",
    valueHint: "IP",
    check: (v: string[]) => {
      const bad = v.find((ip) => normalizeIp(ip) === null);
      if (bad !== undefined) return `${JSON.stringify(bad)} is not an IP address`;
      return v.length > 8 ? "at most 8 addresses" : undefined;
    },
  },
  dnsNsName: {
    kind: "string",
    description:
      "The name server the zone's NS record names (default ns.<zone>; a dynamic DNS name for a home line)",
    valueHint: "HOST",
    check: (v: string) => (dnsName(v) ? undefined : "must be a host name"),
  },
} satisfies OptionSpecs;

export interface DnsOracleOptions {
  dnsZone?: string | undefined;
  dnsListen?: string | undefined;
  dnsAnswerIp?: string[];
  dnsNsName?: string | undefined;
}

export interface DnsOracleConfig {
  zone: ZoneConfig;
  listen: { hostname: string; port: number };
}

/** The oracle's configuration; null without --dns-zone. Throws a one-line message on a bad combination. */
export function dnsOracleConfig(o: DnsOracleOptions, now: number): DnsOracleConfig | null {
  if (!o.dnsZone) {
    const stray = [
      o.dnsListen && "--dns-listen",
      o.dnsAnswerIp?.length && "--dns-answer-ip",
      o.dnsNsName && "--dns-ns-name",
    ].find(Boolean);
    if (stray) throw new Error(`${stray} needs --dns-zone`);
    return null;
  }
  const zone = dnsName(o.dnsZone);
  if (!zone?.includes(".")) throw new Error("--dns-zone must be a DNS name such as leak.example.org");
  const listenText = o.dnsListen ?? ":53";
  const listen = parseListen(listenText);
  if (!listen) throw new Error(`--dns-listen ${checkListen(listenText)}`);
  // ":53" means every address: one dual-stack socket takes IPv4 and IPv6
  if (/^\s*:/.test(listenText)) listen.hostname = "::";
  const ips = (o.dnsAnswerIp ?? []).map((ip) => normalizeIp(ip) as string);
  const nsName = o.dnsNsName ? dnsName(o.dnsNsName) : `ns.${zone}`;
  if (!nsName) throw new Error("--dns-ns-name must be a host name");
  return {
    zone: {
      zone,
      nsName,
      answerIps: { v4: ips.filter((ip) => !ip.includes(":")), v6: ips.filter((ip) => ip.includes(":")) },
      serial: Math.floor(now / 1000) >>> 0,
    },
    listen,
  };
}
