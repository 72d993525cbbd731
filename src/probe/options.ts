/**
 * Probe options shared by `sentinel client` and `sentinel check` (declarative, see config/options.ts).
 */
import type { OptionSpecs } from "../config/options.ts";
import { parseDnsProbe, parseResolverAddress } from "./dns.ts";

/** Keyless echo services reachable over one family only, so each list measures its own family. */
export const DEFAULT_IPV4_PROVIDERS = [
  "https://api.ipify.org",
  "https://ipv4.icanhazip.com",
  "https://v4.ident.me",
];
export const DEFAULT_IPV6_PROVIDERS = [
  "https://api6.ipify.org",
  "https://ipv6.icanhazip.com",
  "https://v6.ident.me",
];
export const DEFAULT_DNS_PROBE_SPECS = ["whoami.akamai.net:A", "o-o.myaddr.l.google.com:TXT"];

/** Option check: an http(s) URL. */
export const httpUrlCheck = (v: string): string | undefined => {
  try {
    return /^https?:$/.test(new URL(v).protocol) ? undefined : "must be an http:// or https:// URL";
  } catch {
    return "must be an http:// or https:// URL";
  }
};

const urlList = (v: string[]) => {
  for (const u of v) {
    let ok = false;
    try {
      ok = /^https?:$/.test(new URL(u).protocol);
    } catch {
      // reported below
    }
    if (!ok) return `${JSON.stringify(u)} is not an http(s) URL`;
  }
  if (v.length > 15) return "at most 15 providers per family";
  return undefined;
};

export const probeSpecs = {
  ip4Provider: {
    kind: "list",
    description: "IPv4 echo provider URL, plain-text or JSON answer (repeatable)",
    default: DEFAULT_IPV4_PROVIDERS,
    valueHint: "URL",
    check: urlList,
  },
  ip6Provider: {
    kind: "list",
    description: "IPv6 echo provider URL, plain-text or JSON answer (repeatable)",
    default: DEFAULT_IPV6_PROVIDERS,
    valueHint: "URL",
    check: urlList,
  },
  noIpv6: { kind: "boolean", description: "Do not probe IPv6 (the report then carries no IPv6 part)" },
  dnsProbe: {
    kind: "list",
    description: "DNS resolver-identity probe NAME:TYPE, TYPE is A, AAAA or TXT (repeatable)",
    default: DEFAULT_DNS_PROBE_SPECS,
    valueHint: "NAME:TYPE",
    check: (v: string[]) => {
      if (v.length > 16) return "at most 16 probes";
      for (const s of v) {
        try {
          parseDnsProbe(s);
        } catch (e) {
          return (e as Error).message;
        }
      }
      return undefined;
    },
  },
  dnsResolver: {
    kind: "string",
    description: "Send DNS probes to this resolver instead of the ones in /etc/resolv.conf",
    valueHint: "IP:PORT",
    check: (v: string) => (parseResolverAddress(v) ? undefined : `${JSON.stringify(v)} is not IP:PORT`),
  },
  timeout: {
    kind: "duration",
    valueHint: "DURATION",
    description: "Timeout of each provider request, DNS probe and report upload (e.g. 5s, 800ms)",
    default: 5000,
    check: (v: number) => (v >= 100 && v <= 60_000 ? undefined : "must be between 100ms and 60s"),
  },
} satisfies OptionSpecs;
