/**
 * Report protocol v1: the JSON body a client sends to POST /api/v1/reports.
 * Shared by both halves, so it must stay free of server-only imports.
 * The authoritative prose description lives in docs/protocol.md.
 */
import { parseIPv6 } from "./ip.ts";

export const REPORT_VERSION = 1;
export const MAX_REPORT_BYTES = 64 * 1024;

export interface AgentInfo {
  version: string;
  os: string;
  arch: string;
  hostname: string;
}

/** One provider's answer to "what is my public address?" */
export interface ProviderAnswer {
  provider: string;
  ip: string | null;
  latency_ms: number | null;
  error: string | null;
}

/** The result for one address family. `ip` is the consensus, null when there is none. */
export interface IpFamilyResult {
  ip: string | null;
  /** false when providers answered with different addresses */
  consistent: boolean;
  answers: ProviderAnswer[];
}

export type DnsProbeType = "A" | "AAAA" | "TXT";

/** One DNS "who is asking" probe: the answers name the resolver egress address the authority saw. */
export interface DnsObservation {
  probe: string;
  type: DnsProbeType;
  /** the resolver the query was sent to (from resolv.conf or --dns-resolver) */
  via: string | null;
  answers: string[];
  latency_ms: number | null;
  error: string | null;
}

/**
 * One lookup of a fresh name under the server's DNS oracle zone (docs/protocol.md, "DNS
 * oracle"), made through the system resolver like any application's. What matters is not the
 * answer but who asks the server's authoritative listener for the name: the server records
 * that and attaches it to this report (see OracleSighting).
 */
export interface OracleLookup {
  /** `<label>.<zone>`, the label as the server minted it */
  name: string;
  type: OracleLookupType;
  /** the resolver the query was sent to (from resolv.conf or --dns-resolver) */
  via: string | null;
  latency_ms: number | null;
  /** null when the resolver answered (an empty answer too: the oracle need not give addresses) */
  error: string | null;
}

export type OracleLookupType = "A" | "AAAA";

/**
 * Who asked the server's DNS oracle for one of a report's names. Written by the server only:
 * `validateReport` never takes this field from a client.
 */
export interface OracleSighting {
  /** the lookup's name, lower case */
  name: string;
  /** the query type the resolver asked for (A, AAAA, TXT, ...) */
  qtype: string;
  /** the address the query came from: the resolver's egress */
  resolver: string;
  transport: "udp" | "tcp";
  /** the EDNS Client Subnet the resolver forwarded ("192.0.2.0/24"), if any */
  client_subnet: string | null;
  /** server time, ms */
  at: number;
}

/** A report carries at most this many oracle lookups. */
export const MAX_ORACLE_LOOKUPS = 4;

export interface ProbeError {
  probe: string;
  message: string;
}

export interface ReportV1 {
  v: 1;
  agent?: AgentInfo;
  /** ISO 8601 UTC time the probes finished (spooled reports keep theirs). */
  observed_at: string;
  /** The interval the agent runs at, in seconds. */
  interval_s: number;
  ipv4: IpFamilyResult;
  ipv6?: IpFamilyResult;
  dns?: DnsObservation[];
  /** lookups of the server's DNS oracle names (absent: the client made none) */
  dns_oracle?: OracleLookup[];
  /** attached by the server: who asked its DNS oracle for the names in `dns_oracle` */
  oracle_seen?: OracleSighting[];
  errors?: ProbeError[];
  /** true when the report waited in the client's spool: history is updated, stale alerts are not sent */
  replayed?: boolean;
  /**
   * true when the report was sent before its DNS probes finished (a network change: the IP
   * answers are news that cannot wait); `dns` is then empty and the next report carries it.
   * The server keeps its previous DNS verdict meanwhile (docs/protocol.md, docs/verdicts.md).
   */
  dns_pending?: boolean;
}

export interface FieldError {
  path: string;
  message: string;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIPv4(s: string): boolean {
  return IPV4.test(s);
}

/** RFC 4291 text, without a zone ("%eth0" is not an address a provider can see). */
export function isIPv6(s: string): boolean {
  return /^[0-9a-fA-F:.]{2,45}$/.test(s) && parseIPv6(s) !== null;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Collects field errors with JSON-pointer paths, like the API's error shape. */
class Checker {
  readonly errors: FieldError[] = [];
  fail(path: string, message: string): void {
    if (this.errors.length < 20) this.errors.push({ path, message });
  }
  string(
    o: Record<string, unknown>,
    key: string,
    path: string,
    opts: { max?: number; optional?: boolean } = {},
  ) {
    const v = o[key];
    if (v === undefined && opts.optional) return;
    if (typeof v !== "string") return this.fail(`${path}/${key}`, "must be a string");
    if (v.length > (opts.max ?? 256))
      this.fail(`${path}/${key}`, `must be at most ${opts.max ?? 256} characters`);
  }
  nullableString(o: Record<string, unknown>, key: string, path: string, max = 512) {
    const v = o[key];
    if (v === null || v === undefined) return;
    if (typeof v !== "string") return this.fail(`${path}/${key}`, "must be a string or null");
    if (v.length > max) this.fail(`${path}/${key}`, `must be at most ${max} characters`);
  }
  nullableNumber(o: Record<string, unknown>, key: string, path: string) {
    const v = o[key];
    if (v === null || v === undefined) return;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0)
      this.fail(`${path}/${key}`, "must be a non-negative number or null");
  }
  array(o: Record<string, unknown>, key: string, path: string, max: number): unknown[] | undefined {
    const v = o[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) {
      this.fail(`${path}/${key}`, "must be an array");
      return undefined;
    }
    if (v.length > max) {
      this.fail(`${path}/${key}`, `must have at most ${max} items`);
      return undefined;
    }
    return v;
  }
}

function checkFamily(c: Checker, body: Record<string, unknown>, key: "ipv4" | "ipv6", optional: boolean) {
  const v = body[key];
  const path = `/${key}`;
  if (v === undefined && optional) return;
  if (!isObject(v)) return c.fail(path, "must be an object");
  const validIp = key === "ipv4" ? isIPv4 : isIPv6;
  const family = key === "ipv4" ? "IPv4" : "IPv6";
  if (v.ip !== null && v.ip !== undefined && (typeof v.ip !== "string" || !validIp(v.ip)))
    c.fail(`${path}/ip`, `must be an ${family} address or null`);
  if (v.consistent !== undefined && typeof v.consistent !== "boolean")
    c.fail(`${path}/consistent`, "must be a boolean");
  const answers = c.array(v, "answers", path, 16) ?? [];
  answers.forEach((a, i) => {
    const p = `${path}/answers/${i}`;
    if (!isObject(a)) {
      c.fail(p, "must be an object");
      return;
    }
    c.string(a, "provider", p, { max: 512 });
    if (a.ip !== null && a.ip !== undefined && (typeof a.ip !== "string" || !validIp(a.ip)))
      c.fail(`${p}/ip`, `must be an ${family} address or null`);
    c.nullableNumber(a, "latency_ms", p);
    c.nullableString(a, "error", p);
  });
}

/**
 * Validates a parsed JSON value as a v1 report. Returns the report with defaults
 * filled in (missing optional parts become empty), or the list of field errors.
 * Unknown fields are ignored, so newer clients can talk to older servers.
 */
export function validateReport(
  body: unknown,
): { ok: true; report: ReportV1 } | { ok: false; errors: FieldError[] } {
  const c = new Checker();
  if (!isObject(body)) return { ok: false, errors: [{ path: "", message: "must be a JSON object" }] };
  if (body.v !== REPORT_VERSION) c.fail("/v", "must be 1");
  if (typeof body.observed_at !== "string" || Number.isNaN(Date.parse(body.observed_at)))
    c.fail("/observed_at", "must be an ISO 8601 date-time");
  if (
    typeof body.interval_s !== "number" ||
    !Number.isInteger(body.interval_s) ||
    body.interval_s < 1 ||
    body.interval_s > 86400
  )
    c.fail("/interval_s", "must be an integer from 1 to 86400");
  if (body.agent !== undefined) {
    if (!isObject(body.agent)) c.fail("/agent", "must be an object");
    else
      for (const k of ["version", "os", "arch", "hostname"])
        c.string(body.agent, k, "/agent", { optional: true });
  }
  if (body.replayed !== undefined && typeof body.replayed !== "boolean")
    c.fail("/replayed", "must be a boolean");
  if (body.dns_pending !== undefined && typeof body.dns_pending !== "boolean")
    c.fail("/dns_pending", "must be a boolean");
  else if (body.dns_pending === true && Array.isArray(body.dns) && body.dns.length > 0)
    c.fail("/dns_pending", "must not be true in a report that carries DNS observations");
  checkFamily(c, body, "ipv4", false);
  checkFamily(c, body, "ipv6", true);
  const dns = c.array(body, "dns", "", 16) ?? [];
  dns.forEach((d, i) => {
    const p = `/dns/${i}`;
    if (!isObject(d)) {
      c.fail(p, "must be an object");
      return;
    }
    c.string(d, "probe", p);
    if (d.type !== "A" && d.type !== "AAAA" && d.type !== "TXT")
      c.fail(`${p}/type`, "must be A, AAAA or TXT");
    c.nullableString(d, "via", p, 64);
    const answers = c.array(d, "answers", p, 16) ?? [];
    answers.forEach((a, j) => {
      if (typeof a !== "string" || a.length > 256)
        c.fail(`${p}/answers/${j}`, "must be a string of at most 256 characters");
    });
    c.nullableNumber(d, "latency_ms", p);
    c.nullableString(d, "error", p);
  });
  const lookups = c.array(body, "dns_oracle", "", MAX_ORACLE_LOOKUPS) ?? [];
  lookups.forEach((l, i) => {
    const p = `/dns_oracle/${i}`;
    if (!isObject(l)) {
      c.fail(p, "must be an object");
      return;
    }
    c.string(l, "name", p, { max: 253 });
    if (l.type !== "A" && l.type !== "AAAA") c.fail(`${p}/type`, "must be A or AAAA");
    c.nullableString(l, "via", p, 64);
    c.nullableNumber(l, "latency_ms", p);
    c.nullableString(l, "error", p);
  });
  const errors = c.array(body, "errors", "", 32) ?? [];
  errors.forEach((e, i) => {
    const p = `/errors/${i}`;
    if (!isObject(e)) {
      c.fail(p, "must be an object");
      return;
    }
    c.string(e, "probe", p);
    c.string(e, "message", p, { max: 1024 });
  });
  if (c.errors.length > 0) return { ok: false, errors: c.errors };
  return { ok: true, report: normalise(body) };
}

function normaliseFamily(v: unknown): IpFamilyResult {
  if (!isObject(v)) return { ip: null, consistent: true, answers: [] };
  const answers = ((v.answers as Record<string, unknown>[] | undefined) ?? []).map((a) => ({
    provider: a.provider as string,
    ip: (a.ip as string | null | undefined) ?? null,
    latency_ms: (a.latency_ms as number | null | undefined) ?? null,
    error: (a.error as string | null | undefined) ?? null,
  }));
  return {
    ip: (v.ip as string | null | undefined) ?? null,
    consistent: (v.consistent as boolean | undefined) ?? true,
    answers,
  };
}

function normalise(body: Record<string, unknown>): ReportV1 {
  const agent = body.agent as Partial<AgentInfo> | undefined;
  return {
    v: 1,
    agent: agent
      ? {
          version: agent.version ?? "",
          os: agent.os ?? "",
          arch: agent.arch ?? "",
          hostname: agent.hostname ?? "",
        }
      : undefined,
    observed_at: new Date(body.observed_at as string).toISOString(),
    interval_s: body.interval_s as number,
    ipv4: normaliseFamily(body.ipv4),
    ipv6: body.ipv6 === undefined ? undefined : normaliseFamily(body.ipv6),
    dns: ((body.dns as Record<string, unknown>[] | undefined) ?? []).map((d) => ({
      probe: d.probe as string,
      type: d.type as DnsProbeType,
      via: (d.via as string | null | undefined) ?? null,
      answers: (d.answers as string[] | undefined) ?? [],
      latency_ms: (d.latency_ms as number | null | undefined) ?? null,
      error: (d.error as string | null | undefined) ?? null,
    })),
    ...(Array.isArray(body.dns_oracle)
      ? {
          dns_oracle: (body.dns_oracle as Record<string, unknown>[]).map((l) => ({
            name: (l.name as string).toLowerCase(),
            type: l.type as OracleLookupType,
            via: (l.via as string | null | undefined) ?? null,
            latency_ms: (l.latency_ms as number | null | undefined) ?? null,
            error: (l.error as string | null | undefined) ?? null,
          })),
        }
      : {}),
    errors: ((body.errors as ProbeError[] | undefined) ?? []).map((e) => ({
      probe: e.probe,
      message: e.message,
    })),
    ...(body.replayed === true ? { replayed: true } : {}),
    ...(body.dns_pending === true ? { dns_pending: true } : {}),
  };
}
