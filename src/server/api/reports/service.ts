/**
 * Report ingestion without HTTP: signature, freshness, replay, JSON, schema, then hand the
 * report to the monitor. Elysia-free so it is testable and reusable (legacy keepalive, benches).
 */
import { validateReport } from "../../../protocol/report.ts";
import {
  isTimestampFresh,
  MAX_CLOCK_SKEW_S,
  parseSignedHeaders,
  signatureMatches,
} from "../../../protocol/signing.ts";
import type { Keyring } from "../../auth/keyring.ts";
import type { DnsOracle, OracleGrant } from "../../dns/oracle.ts";
import { ApiError, storageUnavailable, tooManyRequests, unauthorized } from "../../errors.ts";
import type { ClientGist } from "../../monitor/gist.ts";
import type { AcceptedReport, AcceptResult } from "../../monitor/service.ts";
import { reportCommit, type Store, storageFailure, type Transaction } from "../../store/index.ts";
import type { ClientCache } from "./client-cache.ts";

export interface ReportLimits {
  /** reports accepted per client per second (sustained) and at once */
  perClient: { ratePerS: number; burst: number };
  /** failed authentications per source address per second and at once */
  failures: { ratePerS: number; burst: number };
}

export interface ReportIngestDeps {
  store: Store;
  /** the report path's cache of clients; absent = read the store every time */
  clients?: ClientCache;
  keyring: Keyring;
  now: () => number;
  /** Judges and persists the report inside the caller's transaction. */
  accept: (r: AcceptedReport, tx: Transaction) => Promise<AcceptResult>;
  /** the DNS oracle: its sightings attach to reports, and each 202 grants the next round's labels */
  oracle?: DnsOracle;
  limits: ReportLimits;
  onAuthFailure?: (reason: string) => void;
  /** a storage error turned into 503 (for the log) */
  onStorageFailure?: (reason: string, error: Error) => void;
}

/** What the report path answers: the monitor's result, the server's time, the next oracle labels. */
export type IngestResult = AcceptResult & { serverTime: string; oracle?: OracleGrant };

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
  /** one transaction (and fsync) per event-loop turn, on either engine (store/index.ts reportCommit) */
  private readonly commit: <T>(work: (tx: Transaction) => Promise<T>) => Promise<T>;

  constructor(private readonly deps: ReportIngestDeps) {
    this.commit = reportCommit(deps.store);
  }

  async handle(req: IncomingReport): Promise<IngestResult> {
    try {
      return await this.verifyAndAccept(req);
    } catch (e) {
      const reason = storageFailure(e);
      if (reason === null) throw e;
      this.deps.onStorageFailure?.(reason, e as Error);
      throw storageUnavailable(reason);
    }
  }

  private async verifyAndAccept(req: IncomingReport): Promise<IngestResult> {
    const { store, now, limits } = this.deps;
    const fail = async (reason: string): Promise<never> => {
      this.deps.onAuthFailure?.(reason);
      const { ratePerS, burst } = limits.failures;
      const wait = await store.limits.take(
        "report-auth-failure",
        req.sourceIp ?? "unknown",
        ratePerS,
        burst,
        now(),
      );
      if (wait > 0) throw tooManyRequests(wait);
      throw unauthorized();
    };

    const headers = parseSignedHeaders(req.header);
    if (!headers) return fail("missing_or_malformed_headers");
    const t = now();
    if (!isTimestampFresh(headers.timestamp, Math.floor(t / 1000))) return fail("stale_timestamp");
    const cache = this.deps.clients;
    let client = await (cache
      ? cache.get(headers.clientId, store.clients)
      : store.clients.get(headers.clientId));
    if (!client) return fail("unknown_client");
    const signedBy = (c: ClientGist) =>
      this.secretsOf(c, t).some((s) => signatureMatches(s, headers, req.body));
    if (!signedBy(client)) {
      // The cache may predate a rotation the CLI made a moment ago: look once more.
      client = cache ? await cache.reload(headers.clientId, store.clients) : null;
      if (!client || !signedBy(client)) return fail("bad_signature");
    }

    const { ratePerS, burst } = limits.perClient;
    const wait = await store.limits.take("report", client.id, ratePerS, burst, t);
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
    // slip between the check and the write, and a report that is not stored does not burn it;
    // the answer waits for the commit.
    const expiresAt = (headers.timestamp + MAX_CLOCK_SKEW_S + 1) * 1000;
    const { oracle } = this.deps;
    const accepted = await this.commit(async (tx) => {
      if (!(await tx.nonces.use(client.id, headers.nonce, expiresAt, t))) return null;
      const accept = (report: typeof result.report, inTx: Transaction) =>
        this.deps.accept({ client, report, sourceIp: req.sourceIp, receivedAt: t }, inTx);
      if (!oracle?.carries(result.report)) return accept(result.report, tx);
      // the sightings a report takes are gone only if the report is stored: one unit for both
      return tx.transaction(async (inner) =>
        accept(await oracle.attach(result.report, client.id, inner, t), inner),
      );
    });
    if (accepted === null) return fail("replayed_nonce");
    return {
      ...accepted,
      serverTime: new Date(t).toISOString(),
      ...(oracle ? { oracle: oracle.grant(client.id, t, accepted.nextReportInS) } : {}),
    };
  }

  private secretsOf(client: ClientGist, now: number): string[] {
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
