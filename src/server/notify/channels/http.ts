/**
 * What the HTTP channels (ntfy, Gotify, Discord, Slack, webhooks, Apprise) share: one POST with
 * a timeout, errors that carry the status and Retry-After, and one classification for the outbox:
 *   429 (and 503 with Retry-After) -> wait as told; 5xx, timeouts, refused connections -> retry
 *   with backoff; 401/403/404/410 -> the channel is disabled until its URL is fixed (a revoked
 *   token or a deleted webhook never starts working by itself); other 4xx -> this message fails.
 * Error texts name the service and the status, never the URL (it holds the secret).
 */
import type { Channel, ErrorClass, PaceRule, SendResult } from "../channel.ts";
import { type RouteCandidate, type RouteFilter, routeMatches } from "../filter.ts";
import type { MessageTemplates } from "../templates.ts";
import type { Notification } from "../types.ts";

export class HttpStatusError extends Error {
  constructor(
    readonly service: string,
    readonly status: number,
    /** what the service said, shortened (it never holds our secret) */
    readonly detail: string,
    readonly retryAfterMs: number | null,
  ) {
    super(`${service} ${status}${detail ? `: ${detail}` : ""}`);
  }
}

/** A failure before any answer (refused, reset, DNS, TLS, timeout). */
export class HttpTransportError extends Error {
  constructor(
    readonly service: string,
    readonly reason: string,
  ) {
    super(`${service} unreachable: ${reason}`);
  }
}

const DISABLING = new Set([401, 403, 404, 410]);

/** Retry-After as seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

export interface HttpRequest {
  url: string;
  headers?: Record<string, string>;
  body: string;
  contentType?: string;
}

/** POSTs and returns the answer; throws HttpStatusError (non-2xx) or HttpTransportError. */
export async function post(
  service: string,
  req: HttpRequest,
  timeoutMs: number,
): Promise<{ status: number; text: string }> {
  let res: Response;
  try {
    res = await fetch(req.url, {
      method: "POST",
      headers: { "content-type": req.contentType ?? "application/json", ...req.headers },
      body: req.body,
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "error",
    });
  } catch (e) {
    const err = e as Error & { code?: string };
    const reason =
      err.name === "TimeoutError"
        ? `no answer within ${Math.round(timeoutMs / 1000)} s`
        : (err.code ?? err.name);
    throw new HttpTransportError(service, reason);
  }
  const text = await res.text().catch(() => "");
  if (res.ok) return { status: res.status, text };
  let retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
  // Discord says it in the body too, as (fractional) seconds
  if (retryAfterMs === null && res.status === 429) {
    const inBody = /"retry_after"\s*:\s*([\d.]+)/.exec(text)?.[1];
    if (inBody) retryAfterMs = Math.round(Number(inBody) * 1000);
  }
  throw new HttpStatusError(
    service,
    res.status,
    text.replace(/\s+/g, " ").trim().slice(0, 200),
    retryAfterMs,
  );
}

export function classifyHttpError(err: unknown): ErrorClass {
  if (err instanceof HttpStatusError) {
    if (err.status === 429) return { retryAfterMs: err.retryAfterMs ?? 30_000 };
    if (err.status === 503 && err.retryAfterMs !== null) return { retryAfterMs: err.retryAfterMs };
    if (DISABLING.has(err.status)) return "disabled";
    if (err.status >= 500 || err.status === 408) return "retryable";
    return "permanent";
  }
  return "retryable";
}

export function describeHttpError(err: unknown): string {
  if (err instanceof HttpStatusError || err instanceof HttpTransportError) return err.message;
  return (err as Error)?.message ?? String(err);
}

/** Shared by every URL channel: one target (the URL itself), its filter, the templates. */
export interface UrlChannelContext {
  /** the masked URL: channel name and target */
  name: string;
  filter: RouteFilter;
  templates: MessageTemplates;
  publicUrl: string | null;
  requestTimeoutMs: number;
}

/** Base of the HTTP channels: a subclass says how a notification becomes a request. */
export abstract class HttpChannel implements Channel<HttpRequest> {
  abstract readonly service: string;
  readonly name: string;

  constructor(protected readonly ctx: UrlChannelContext) {
    this.name = ctx.name;
  }

  targets(): string[] {
    return [this.name];
  }

  validateConfig(): string[] {
    return [];
  }

  accepts(_target: string, c: RouteCandidate): boolean {
    return routeMatches(this.ctx.filter, c);
  }

  abstract render(n: Notification, target: string, meta?: { key?: string }): HttpRequest[];

  async send(target: string, message: HttpRequest): Promise<SendResult> {
    if (target !== this.name) throw new Error(`${this.service}: unknown target ${target}`);
    await post(this.service, message, this.ctx.requestTimeoutMs);
    return {};
  }

  classifyError(err: unknown): ErrorClass {
    return classifyHttpError(err);
  }

  pace(_target: string): PaceRule {
    return { minIntervalMs: 0 };
  }

  describeError(err: unknown): string {
    return describeHttpError(err);
  }
}

/** An http(s) URL from a channel URL: the scheme replaced, credentials and filters gone. */
export function serviceUrl(url: URL, protocol: "http:" | "https:", path = url.pathname): URL {
  const out = new URL(`${protocol}//${url.host}`);
  out.pathname = path;
  return out;
}
