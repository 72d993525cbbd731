/**
 * Drop-in for the predecessor's Python clients: their keepalive JSON becomes an ordinary v1
 * report. Their "DNS test" (a CDN location) says nothing about the resolver, so the DNS
 * verdict stays unknown rather than pretending.
 */
import { isIPv4, isIPv6, type ReportV1 } from "../../../protocol/report.ts";
import { ApiError } from "../../errors.ts";

export interface LegacyKeepalive {
  clientId: string;
  ip: string;
  clientVersion: string | null;
  /** what the old client believed about its location; kept as evidence, never judged */
  location: {
    country: string | null;
    city: string | null;
    region: string | null;
    org: string | null;
    timezone: string | null;
  };
  dnsTest: { location: string | null; colo: string | null };
  timestamp: string | null;
}

const str = (v: unknown, max = 256): string | null =>
  typeof v === "string" && v.length > 0 ? v.slice(0, max) : null;
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Accepts both the nested (`location: {...}`, `dns_test: {...}`) and the flat form. */
export function parseLegacyKeepalive(body: unknown): LegacyKeepalive {
  if (!isObject(body))
    throw new ApiError(400, "validation_failed", "the body must be a JSON object", [
      { path: "", message: "must be an object" },
    ]);
  const fields: { path: string; message: string }[] = [];
  const clientId = str(body.client_id, 64);
  if (!clientId || !/^[\w.@-]{1,64}$/.test(clientId))
    fields.push({ path: "/client_id", message: "must be 1-64 characters of letters, digits, . _ - @" });
  const ip = str(body.public_ip) ?? str(body.ip);
  if (!ip || !(isIPv4(ip) || isIPv6(ip)))
    fields.push({
      path: body.public_ip !== undefined ? "/public_ip" : "/ip",
      message: "must be an IP address",
    });
  if (fields.length) throw new ApiError(400, "validation_failed", "the keepalive is not valid", fields);
  const loc = isObject(body.location) ? body.location : body;
  const dns = isObject(body.dns_test) ? body.dns_test : {};
  return {
    clientId: clientId as string,
    ip: ip as string,
    clientVersion: str(body.client_version, 64),
    location: {
      country: str(loc.country, 64),
      city: str(loc.city, 128),
      region: str(loc.region, 128),
      org: str(loc.org, 256) ?? str(loc.provider, 256),
      timezone: str(loc.timezone, 64),
    },
    dnsTest: {
      location: str(dns.location, 64) ?? str(body.dns_loc, 64),
      colo: str(dns.colo, 64) ?? str(body.dns_colo, 64),
    },
    timestamp: str(body.timestamp, 64),
  };
}

export function legacyToReport(k: LegacyKeepalive, intervalS: number, receivedAt: number): ReportV1 {
  const family = isIPv4(k.ip) ? "ipv4" : "ipv6";
  const result = {
    ip: k.ip,
    consistent: true,
    answers: [{ provider: "legacy-client", ip: k.ip, latency_ms: null, error: null }],
  };
  const none = { ip: null, consistent: true, answers: [] };
  return {
    v: 1,
    agent: {
      version: k.clientVersion ?? "legacy",
      os: "legacy-python-client",
      arch: "",
      hostname: k.clientId,
    },
    observed_at: new Date(receivedAt).toISOString(),
    interval_s: intervalS,
    ipv4: family === "ipv4" ? result : none,
    ...(family === "ipv6" ? { ipv6: result } : {}),
    dns: [],
    errors: [{ probe: "dns", message: "legacy client: its DNS test does not identify the resolver" }],
  };
}
