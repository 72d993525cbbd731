/**
 * Report ingestion without HTTP: signature, freshness, replay, JSON, schema, then hand the
 * report to the monitor. Elysia-free so it is testable and reusable (legacy keepalive, benches).
 */
import { type ReportV1, validateReport } from "../../../protocol/report.ts";
import {
  isTimestampFresh,
  MAX_CLOCK_SKEW_S,
  parseSignedHeaders,
  signatureMatches,
} from "../../../protocol/signing.ts";
import type { Keyring } from "../../auth/keyring.ts";
import type { RateLimiter } from "../../auth/rate-limit.ts";
import { ApiError, tooManyRequests, unauthorized } from "../../errors.ts";
import type { OverallStatus } from "../../monitor/types.ts";
import { type ClientRecord, type Store, storageFailure } from "../../store/index.ts";
import type { ReplayGuard } from "./replay-guard.ts";

export interface AcceptedReport {
  client: ClientRecord;
  report: ReportV1;
  sourceIp: string | null;
  receivedAt: number;
}

/** What the monitor answers for an accepted report: when to report next, and what it concluded. */
export interface AcceptResult {
  nextReportInS: number;
  /** the client's overall status after this report */
  status: OverallStatus;
  /** why: the causes of the status, one sentence each (the "Protected" sentence when green) */
  reasons: string[];
}

export interface ReportIngestDeps {
  store: Store;
  /** where clients are looked up (the report path's cache); default: the store */
  clients?: { get(id: string): ClientRecord | null; reload(id: string): ClientRecord | null };
  keyring: Keyring;
  /** remembers used nonces (loaded from the store's log) */
  replays: ReplayGuard;
  now: () => number;
  /** Runs the write with others in one transaction (group commit); absent = one transaction per report. */
  writes?: GroupCommit;
  /** Judges and persists the report (one transaction). */
  accept: (r: AcceptedReport) => AcceptResult;
  /** per client id, after authentication */
  clientLimiter: RateLimiter;
  /** per source address, counts failed authentications only */
  failureLimiter: RateLimiter;
  onAuthFailure?: (reason: string) => void;
  /** a storage error turned into 503 (for the log) */
  onStorageFailure?: (reason: string, error: Error) => void;
}

export interface GroupCommit {
  run<T>(work: () => T): Promise<T>;
  onBeforeCommit(fn: () => void): void;
}

export interface IncomingReport {
  /** the body as sent (a string stands for its UTF-8 bytes): the signature covers exactly these */
  body: Uint8Array | string;
  header: (name: string) => string | null;
  sourceIp: string | null;
}

/** Invalid UTF-8 is refused, not replaced; a leading byte-order mark (signed with the rest) is dropped. */
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export class ReportIngest {
  /** sealed secret -> plain secret; sealed values change on rotation so entries never go stale */
  private readonly secretCache = new Map<string, string>();

  constructor(private readonly deps: ReportIngestDeps) {
    // the nonces a batch accepted are logged in the batch's own transaction
    deps.writes?.onBeforeCommit(() => deps.replays.persist());
  }

  /**
   * A full, read-only or failing disk answers 503 + Retry-After: the client keeps the report
   * and sends it again, and nothing was acknowledged that is not stored.
   */
  async handle(req: IncomingReport): Promise<AcceptResult & { serverTime: string }> {
    try {
      return await this.verifyAndAccept(req);
    } catch (e) {
      const reason = storageFailure(e);
      if (reason === null) throw e;
      this.deps.onStorageFailure?.(reason, e as Error);
      throw new ApiError(
        503,
        "storage_unavailable",
        `the server cannot store reports right now: ${reason}`,
        undefined,
        {
          "Retry-After": "30",
        },
      );
    }
  }

  private async verifyAndAccept(req: IncomingReport): Promise<AcceptResult & { serverTime: string }> {
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
    let client = (this.deps.clients ?? store.clients).get(headers.clientId);
    if (!client) return fail("unknown_client");
    const signedBy = (c: ClientRecord) =>
      this.secretsOf(c, t).some((s) => signatureMatches(s, headers, req.body));
    if (!signedBy(client)) {
      // The cache may predate a rotation the CLI made a moment ago: look once more.
      client = this.deps.clients?.reload(headers.clientId) ?? null;
      if (!client || !signedBy(client)) return fail("bad_signature");
    }

    const wait = this.deps.clientLimiter.take(client.id);
    if (wait > 0) throw tooManyRequests(wait);

    let parsed: unknown;
    try {
      parsed = JSON.parse(typeof req.body === "string" ? req.body : strictUtf8.decode(req.body));
    } catch {
      throw new ApiError(400, "invalid_json", "the request body is not valid UTF-8 JSON");
    }
    const result = validateReport(parsed);
    if (!result.ok)
      throw new ApiError(400, "validation_failed", "the report does not match protocol v1", result.errors);

    // The nonce is burnt in the same transaction that stores the report, so a replay can never
    // slip between the check and the write; the answer waits for the commit.
    const { replays } = this.deps;
    const write = () => {
      if (!replays.use(client.id, headers.nonce, (headers.timestamp + MAX_CLOCK_SKEW_S + 1) * 1000, t))
        return null;
      try {
        return this.deps.accept({ client, report: result.report, sourceIp: req.sourceIp, receivedAt: t });
      } catch (e) {
        replays.forget(client.id, headers.nonce);
        throw e;
      }
    };
    const accepted = await (this.deps.writes
      ? this.deps.writes.run(write)
      : store.transaction(() => {
          const outcome = write();
          replays.persist();
          return outcome;
        }));
    if (accepted === null) return fail("replayed_nonce");
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
