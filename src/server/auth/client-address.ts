/**
 * The address a request really came from. X-Forwarded-For is honoured only when the peer is a
 * trusted proxy (`--trusted-proxy CIDR`), and then read from the right: each trusted hop is
 * skipped, and the first untrusted address is the client. Anyone else can write any XFF they like.
 */
import { type Cidr, cidrContains, parseCidr, parseIp } from "../monitor/cidr.ts";

/** IPv4-mapped IPv6 ("::ffff:192.0.2.1") is shown and compared as plain IPv4. */
const unmap = (ip: string) => (ip.toLowerCase().startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip);

/** Parses `--trusted-proxy` values; returns the first bad entry as an error message. */
export function parseTrustedProxies(entries: string[]): { ranges: Cidr[] } | { error: string } {
  const ranges: Cidr[] = [];
  for (const entry of entries) {
    const text = entry.includes("/") ? entry : `${entry}/${entry.includes(":") ? 128 : 32}`;
    const range = parseCidr(text.trim());
    if (!range) return { error: `${JSON.stringify(entry)} is not an IP address or CIDR range` };
    ranges.push(range);
  }
  return { ranges };
}

export function isTrusted(ip: string, ranges: readonly Cidr[]): boolean {
  const parsed = parseIp(unmap(ip));
  return parsed !== null && ranges.some((r) => cidrContains(r, parsed));
}

/**
 * The client address for one request. `peer` is the TCP peer (Bun's server.requestIP), null
 * under app.handle. Returns null when nothing is known.
 */
export function clientAddress(
  headers: Headers,
  peer: string | null,
  trusted: readonly Cidr[],
): string | null {
  if (peer === null) return null;
  const direct = unmap(peer);
  if (!trusted.length || !isTrusted(direct, trusted)) return direct;
  const hops = (headers.get("x-forwarded-for") ?? "")
    .split(",")
    .map((h) => unmap(h.trim()))
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as string;
    if (parseIp(hop) === null) return direct; // a garbled header is not evidence of anything
    if (!isTrusted(hop, trusted)) return hop;
  }
  // every hop was a trusted proxy: the leftmost is as close to the client as we can tell
  return hops[0] ?? direct;
}

/** True when the original request was HTTPS: the URL itself, or X-Forwarded-Proto from a trusted proxy. */
export function isHttpsRequest(request: Request, peer: string | null, trusted: readonly Cidr[]): boolean {
  if (new URL(request.url).protocol === "https:") return true;
  if (peer === null || !isTrusted(peer, trusted)) return false;
  return request.headers.get("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase() === "https";
}
