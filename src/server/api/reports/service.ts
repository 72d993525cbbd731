/**
 * Report ingestion without HTTP: signature, freshness, replay, JSON, schema, then hand the
 * report to the monitor. Elysia-free so it is testable and reusable (legacy keepalive, benches).
 */
import { type ReportV1, validateReport } from "../../../protocol/report.ts";
import { isTimestampFresh, MAX_CLOCK_SKEW_S, parseSignedHeaders, signatureMatches } from "../../../protocol/signing.ts";
import type { Keyring } from "../../auth/keyring.ts";
import type { RateLimiter } from "../../auth/rate-limit.ts";
import { ApiError, tooManyRequests, unauthorized } from "../../errors.ts";
import type { ClientRecord, Store } from "../../store/index.ts";

export interface AcceptedReport {
  client: ClientRecord;
  report: ReportV1;
  sourceIp: string | null;
  receivedAt: number;
}

/** What the monitor answers for an accepted report: when the client should report next. */
export interface AcceptResult {
  nextReportInS: number;
}

export interface ReportIngestDeps {
  store: Store;
  keyring: Keyring;
  now: () => number;
  /** Judges and persists the report (one transaction). */
  accept: (r: AcceptedReport) => AcceptResult;
  /** per client id, after authentication */
  clientLimiter: RateLimiter;
  /** per source address, counts failed authentications only */
  failureLimiter: RateLimiter;
  onAuthFailure?: (reason: string) => void;
}

export interface IncomingReport {
  body: string;
  header: (name: string) => string | null;
  sourceIp: string | null;
}

export class ReportIngest {
  /** sealed secret -> plain secret; sealed values change on rotation so entries never go stale */
  private readonly secretCache = new Map<string, string>();

  constructor(private readonly deps: ReportIngestDeps) {}

  handle(req: IncomingReport): AcceptResult & { serverTime: string } {
    const { store, now } = this.deps;
    const failKey = req.sourceIp ?? "unknown";
    const fail = (reason: string): never => {
      this.deps.onAuthFailure?.(reason);
      const wait = this.deps.failureLimiter.take(failKey);
      if (wait > 0) throw tooManyRequests(wait);
      throw unauthorized();
    };

    const headers = parseSignedHeaders(req.header);
    if (!headers) return fail("missing_or_malformed_headers");
    const t = now();
    if (!isTimestampFresh(headers.timestamp, Math.floor(t / 1000))) return fail("stale_timestamp");
    const client = store.clients.get(headers.clientId);
    if (!client) return fail("unknown_client");
    if (!this.secretsOf(client, t).some((s) => signatureMatches(s, headers, req.body))) return fail("bad_signature");

    const wait = this.deps.clientLimiter.take(client.id);
    if (wait > 0) throw tooManyRequests(wait);

    // Only a correctly signed request may burn a nonce, so nobody can pre-empt a client's nonces.
    if (!store.nonces.use(client.id, headers.nonce, (headers.timestamp + MAX_CLOCK_SKEW_S + 1) * 1000)) return fail("replayed_nonce");

    let parsed: unknown;
    try {
      parsed = JSON.parse(req.body);
    } catch {
      throw new ApiError(400, "invalid_json", "the request body is not valid JSON");
    }
    const result = validateReport(parsed);
    if (!result.ok) throw new ApiError(400, "validation_failed", "the report does not match protocol v1", result.errors);

    const accepted = this.deps.accept({ client, report: result.report, sourceIp: req.sourceIp, receivedAt: t });
    return { ...accepted, serverTime: new Date(t).toISOString() };
  }

  private secretsOf(client: ClientRecord, now: number): string[] {
    const secrets = [this.open(client.secretEnc)];
    if (client.prevSecretEnc && client.prevSecretUntil !== null && now < client.prevSecretUntil)
      secrets.push(this.open(client.prevSecretEnc));
    return secrets;
  }

  private open(sealed: string): string {
    let plain = this.secretCache.get(sealed);
    if (plain === undefined) {
      plain = this.deps.keyring.decrypt(sealed);
      if (this.secretCache.size > 50_000) this.secretCache.clear();
      this.secretCache.set(sealed, plain);
    }
    return plain;
  }
}
