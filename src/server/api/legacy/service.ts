/**
 * Drop-in for the predecessor's Python clients: their keepalive JSON becomes an ordinary v1
 * report. Their "DNS test" (a CDN location) says nothing about the resolver, so the DNS
 * verdict stays unknown rather than pretending.
 *
 * The legacy key is one shared value, sent in clear, without signature or nonce: it may only
 * touch the clients it created itself (origin "legacy"). A keepalive naming a client enrolled
 * with `clients add` is refused like a wrong key, so the key can neither forge a bypass for a
 * signed client nor make a silent one look alive.
 */
import { timingSafeEqual } from "node:crypto";
import { isIPv4, isIPv6, type ReportV1 } from "../../../protocol/report.ts";
import { type Keyring, newId } from "../../auth/keyring.ts";
import { ApiError, storageUnavailable, tooManyRequests, unauthorized } from "../../errors.ts";
import type { ClientGist } from "../../monitor/gist.ts";
import type { AcceptResult } from "../../monitor/service.ts";
import {
  type ClientRecord,
  reportCommit,
  type Store,
  storageFailure,
  type Transaction,
} from "../../store/index.ts";
import type { ClientCache } from "../reports/client-cache.ts";

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

const sha256 = (text: string): Uint8Array => Bun.SHA256.hash(text) as Uint8Array;

const LEGACY_CLIENT_ID = /^[\w.@-]{1,64}$/;

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
  // never cut: a longer id cut to 64 characters could name another client
  const clientId = typeof body.client_id === "string" ? body.client_id : null;
  if (!clientId || !LEGACY_CLIENT_ID.test(clientId))
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

export interface LegacyIngestDeps {
  apiKey: string;
  store: Store;
  keyring: Keyring;
  /** where clients are looked up by id (the report path's cache); default: the store */
  clients?: ClientCache;
  now: () => number;
  /** the interval legacy clients are assumed to report at (--legacy-interval) */
  intervalS: number;
  /** judges and stores the report built from a keepalive (the monitor), inside `tx` */
  accept: (
    r: { client: ClientGist; report: ReportV1; sourceIp: string | null; receivedAt: number },
    tx: Transaction,
  ) => Promise<AcceptResult>;
  /** per source address, refused keys (the same rule as failed report signatures) */
  failures: { ratePerS: number; burst: number };
  onAuthFailure?: (reason: string) => void;
  /** a storage error turned into 503 (for the log) */
  onStorageFailure?: (reason: string, error: Error) => void;
}

/**
 * Elysia-free, like ReportIngest. An unchanged keepalive costs no database read: the name
 * resolves to an id in memory, the client comes from the report path's cache, and the
 * monitor's unchanged-report shortcut stores nothing until its next heartbeat write.
 */
export class LegacyKeepaliveIngest {
  private readonly keyHash: Uint8Array;
  /** lower-cased name -> id of the legacy clients seen (names are unique without regard to case) */
  private readonly idByName = new Map<string, string>();
  private readonly commit: <T>(work: (tx: Transaction) => Promise<T>) => Promise<T>;

  constructor(private readonly deps: LegacyIngestDeps) {
    this.keyHash = sha256(deps.apiKey);
    this.commit = reportCommit(deps.store);
  }

  /** Checks the X-API-Key value; throws 401, or 429 once an address has failed too often. */
  async authenticate(given: string | null, sourceIp: string | null): Promise<void> {
    // digests of equal length compared in constant time: neither the key nor its length leaks
    const ok = given !== null && timingSafeEqual(sha256(given), this.keyHash);
    if (!ok) await this.refuse("bad_legacy_key", sourceIp);
  }

  /** Stores an authenticated keepalive (its JSON text) for the legacy client it names. */
  async accept(text: string, sourceIp: string | null): Promise<{ serverTime: string }> {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ApiError(400, "invalid_json", "the request body is not valid JSON");
    }
    const keepalive = parseLegacyKeepalive(body);
    try {
      const client = await this.clientFor(keepalive.clientId);
      if (client.origin !== "legacy") return this.refuse("not_a_legacy_client", sourceIp);
      const t = this.deps.now();
      const report = legacyToReport(keepalive, this.deps.intervalS, t);
      await this.commit((tx) => this.deps.accept({ client, report, sourceIp, receivedAt: t }, tx));
      return { serverTime: new Date(t).toISOString() };
    } catch (e) {
      const reason = storageFailure(e);
      if (reason === null) throw e;
      this.deps.onStorageFailure?.(reason, e as Error);
      throw storageUnavailable(reason);
    }
  }

  private async refuse(reason: string, sourceIp: string | null): Promise<never> {
    this.deps.onAuthFailure?.(reason);
    const { ratePerS, burst } = this.deps.failures;
    const wait = await this.deps.store.limits.take(
      "legacy-auth-failure",
      sourceIp ?? "unknown",
      ratePerS,
      burst,
      this.deps.now(),
    );
    if (wait > 0) throw tooManyRequests(wait);
    throw unauthorized();
  }

  /** The client named `name` (any letter case), created as a legacy client on first contact. */
  private async clientFor(name: string): Promise<ClientGist> {
    const { store, now } = this.deps;
    const key = name.toLowerCase();
    const knownId = this.idByName.get(key);
    const cache = this.deps.clients;
    const known =
      knownId === undefined
        ? null
        : await (cache ? cache.get(knownId, store.clients) : store.clients.get(knownId));
    if (known) return known;
    let client = await store.clients.getByName(name);
    if (!client) {
      // Legacy clients never sign: their stored secret is random and unused.
      const id = newId("c_");
      try {
        await store.clients.create({
          id,
          name,
          createdAt: now(),
          secretEnc: this.deps.keyring.encrypt(newId("unused_")),
          origin: "legacy",
        });
      } catch (e) {
        // another process (the CLI) took the name a moment ago: judge by what is there now
        if (!(await store.clients.getByName(name))) throw e;
      }
      client = (await store.clients.getByName(name)) as ClientRecord;
    }
    if (this.idByName.size >= 100_000) this.idByName.clear();
    this.idByName.set(key, client.id);
    return client;
  }
}
