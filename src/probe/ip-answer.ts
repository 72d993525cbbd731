/**
 * Understanding an IP echo service's answer. Providers answer either plain text
 * ("203.0.113.7\n") or JSON with the address under one of a few well-known keys.
 */
import { isIPv4, isIPv6 } from "../protocol/report.ts";

/** JSON keys used by common echo services (ipify: ip, ident.me: address, ip-api: query, httpbin: origin). */
const JSON_KEYS = [
  "ip",
  "address",
  "query",
  "ip_addr",
  "origin",
  "client_ip",
  "clientIp",
  "YourFuckingIPAddress",
];

/**
 * Canonical text form of an address: IPv6 lower-case and compressed, IPv4-mapped IPv6
 * ("::ffff:203.0.113.7", what a dual-stack server often sees) reduced to plain IPv4,
 * so that equal addresses compare equal in the consensus. null when not an address.
 */
export function normalizeIp(text: string): string | null {
  const s = text.trim();
  if (isIPv4(s)) return s;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(s);
  if (mapped?.[1] && isIPv4(mapped[1])) return mapped[1];
  if (!isIPv6(s)) return null;
  return new URL(`http://[${s}]/`).hostname.slice(1, -1);
}

export function ipFamilyOf(ip: string): 4 | 6 {
  return ip.includes(":") ? 6 : 4;
}

/** Extracts the address from a provider's body; null when it holds none. */
export function parseIpAnswer(body: string): string | null {
  const text = body.trim();
  if (text.startsWith("{")) {
    try {
      const o = JSON.parse(text) as Record<string, unknown>;
      for (const key of JSON_KEYS) {
        const v = o[key];
        // httpbin's "origin" may list proxies: "client, proxy"; the first one is the caller.
        if (typeof v === "string") return normalizeIp(v.split(",")[0] ?? "");
      }
    } catch {
      // not JSON after all: fall through to plain text
    }
    return null;
  }
  // Plain text: the first whitespace-separated token (some services append a newline or notes).
  return normalizeIp(text.split(/\s+/)[0] ?? "");
}
