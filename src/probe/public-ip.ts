/**
 * "What address does the world see for me?" for one family, asked of several echo providers
 * at once. I/O comes in through `fetch`, time through `now`, and per-provider back-off through
 * a `ProviderPool` the caller keeps between rounds, so the client and the server's
 * home-identity check share this code.
 */
import type { IpFamilyResult, ProviderAnswer } from "../protocol/report.ts";
import { type ProviderPool, parseRetryAfter } from "./backoff.ts";
import { consensus } from "./consensus.ts";
import { describeFetchError } from "./fetch-error.ts";
import { ipFamilyOf, parseIpAnswer } from "./ip-answer.ts";

export interface PublicIpOptions {
  timeoutMs: number;
  fetch?: typeof fetch;
  /** Epoch ms clock for back-off decisions. */
  now?: () => number;
  pool?: ProviderPool;
  /**
   * Providers that answer in whichever family the connection used (the sentinel server's
   * /api/v1/whoami): an answer of the other family is left out instead of counted as an error.
   */
  anyFamily?: string[];
  /** Aborts every request (agent shutdown). */
  signal?: AbortSignal;
  userAgent?: string;
}

/** Echo answers are tiny; never read more than this from a provider. */
const MAX_BODY_BYTES = 4096;

async function readLimited(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < MAX_BODY_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  reader.cancel().catch(() => {});
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES));
}

/** One provider's raw outcome, before the round decides what it means for back-off. */
interface Attempt {
  answer: ProviderAnswer | null;
  /** null: no verdict on the provider; number|undefined: a failure (with Retry-After ms when given). */
  blame: "none" | "provider" | "network";
  retryAfterMs?: number | null;
}

async function askProvider(
  provider: string,
  family: 4 | 6,
  opts: PublicIpOptions,
  now: () => number,
): Promise<Attempt> {
  const doFetch = opts.fetch ?? fetch;
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  const fail = (
    error: string,
    blame: Attempt["blame"],
    latency_ms: number | null,
    retryAfterMs?: number | null,
  ): Attempt => ({
    answer: { provider, ip: null, latency_ms, error },
    blame,
    retryAfterMs,
  });
  try {
    const timeout = AbortSignal.timeout(opts.timeoutMs);
    const res = await doFetch(provider, {
      signal: opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout,
      headers: {
        Accept: "application/json, text/plain;q=0.9",
        ...(opts.userAgent ? { "User-Agent": opts.userAgent } : {}),
      },
      redirect: "follow",
      // A fresh connection every time: after a route change a pooled socket still points down
      // the old path (the dead tunnel) and the probe would time out instead of seeing the leak.
      keepalive: false,
    });
    const body = await readLimited(res);
    if (!res.ok) {
      const retryAfter = parseRetryAfter(res.headers.get("retry-after"), now());
      const note = retryAfter !== null ? ` (Retry-After ${Math.ceil(retryAfter / 1000)} s)` : "";
      return fail(`HTTP ${res.status}${note}`, "provider", latency(), retryAfter);
    }
    const ip = parseIpAnswer(body);
    if (!ip) return fail("the answer holds no IP address", "provider", latency());
    if (ipFamilyOf(ip) !== family) {
      // A dual-stack provider reached over the other family: not this family's evidence.
      if (opts.anyFamily?.includes(provider)) return { answer: null, blame: "none" };
      return fail(
        `answered an IPv${ipFamilyOf(ip)} address (${ip}) to an IPv${family} probe`,
        "none",
        latency(),
      );
    }
    return { answer: { provider, ip, latency_ms: latency(), error: null }, blame: "none" };
  } catch (e) {
    // given up by the caller (a stale round, a stop): says nothing about the provider
    return fail(describeFetchError(e, opts.timeoutMs), opts.signal?.aborted ? "none" : "network", null);
  }
}

export async function probePublicIp(
  family: 4 | 6,
  providers: string[],
  opts: PublicIpOptions,
): Promise<IpFamilyResult> {
  const now = opts.now ?? Date.now;
  const pool = opts.pool;
  const attempts = await Promise.all(
    providers.map(async (provider): Promise<Attempt> => {
      const wait = pool?.waitFor(provider, now()) ?? 0;
      if (wait > 0) {
        const error = `skipped: backing off for ${Math.ceil(wait / 1000)} s (${pool?.reasonFor(provider)})`;
        return { answer: { provider, ip: null, latency_ms: null, error }, blame: "none" };
      }
      return askProvider(provider, family, opts, now);
    }),
  );
  // When nothing answered at all the fault is most likely our own network (tunnel down,
  // kill switch): backing every provider off would only delay noticing the recovery.
  const someoneAnswered = attempts.some((a) => a.answer?.ip);
  if (pool) {
    for (const a of attempts) {
      if (!a.answer) continue;
      if (a.answer.ip) pool.success(a.answer.provider);
      else if (a.blame === "provider" || (a.blame === "network" && someoneAnswered))
        pool.failure(a.answer.provider, now(), a.retryAfterMs);
    }
  }
  return consensus(attempts.flatMap((a) => (a.answer ? [a.answer] : [])));
}
