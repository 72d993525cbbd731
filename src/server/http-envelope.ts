/**
 * What every response of Bun.serve carries, whichever handler made it: the security headers,
 * a request id, our JSON error shape for a body over the server-wide limit (Bun's own limit
 * answers an empty 413 without headers, so ours sits below it), and a JSON 500 if a handler
 * throws. The hot paths (reports, keepalive) are routed past the Elysia app, so this wrapper,
 * not an app hook, is the one place that sees every response.
 */
import type { Logger } from "../cli/common.ts";
import { securityHeaders } from "./auth/headers.ts";
import { errorBody } from "./errors.ts";
import { requestIdOf } from "./http.ts";

/** The largest request body any route accepts (an import document is the biggest). */
export const MAX_REQUEST_BYTES = 1 << 20;

/**
 * Bun.serve's own limit, far above ours: only a body that passes ours is read, so this one is
 * never the one a client meets (its 413 would be empty and without headers).
 */
export const BUN_BODY_CEILING = Number.MAX_SAFE_INTEGER;

export interface EnvelopeDeps {
  logger: Logger;
  /** true when the request came over HTTPS (directly, through a trusted proxy, or per --public-url) */
  isHttps: (request: Request) => boolean;
  /**
   * Buffer a chunked body (no Content-Length) here, within the limit, before the handler runs.
   * Off for handlers that read with their own, smaller limit (readBodyLimited).
   */
  bufferChunked: boolean;
}

/** A request rebuilt around a buffered body -> the one Bun received (server.requestIP knows only that). */
const received = new WeakMap<Request, Request>();
export const receivedRequest = (request: Request): Request => received.get(request) ?? request;

const HEADERS = {
  http: Object.entries(securityHeaders(false)),
  https: Object.entries(securityHeaders(true)),
};

function tooLarge(request: Request): Response {
  return Response.json(
    errorBody("payload_too_large", `the request body is larger than ${MAX_REQUEST_BYTES} bytes`),
    { status: 413, headers: { "cache-control": "no-store", "x-request-id": requestIdOf(request) } },
  );
}

/** The body of a chunked request, or null when it grows over the limit (then it is not read further). */
async function bufferBody(body: ReadableStream<Uint8Array>): Promise<Uint8Array<ArrayBuffer> | null> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return new Uint8Array(Buffer.concat(chunks, size));
    size += value.byteLength;
    if (size > MAX_REQUEST_BYTES) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
}

export function envelope(
  handle: (request: Request) => Promise<Response> | Response,
  deps: EnvelopeDeps,
): (request: Request) => Promise<Response> {
  const answer = async (request: Request): Promise<Response> => {
    const declared = request.headers.get("content-length");
    if (declared !== null) {
      if (Number(declared) > MAX_REQUEST_BYTES) return tooLarge(request);
    } else if (request.body && deps.bufferChunked) {
      const body = await bufferBody(request.body);
      if (body === null) return tooLarge(request);
      const rebuilt = new Request(request.url, { method: request.method, headers: request.headers, body });
      received.set(rebuilt, request);
      request = rebuilt;
    }
    try {
      return await handle(request);
    } catch (e) {
      const requestId = requestIdOf(request);
      deps.logger.error(`unhandled error on ${request.method} [${requestId}]`, e);
      return Response.json(errorBody("internal_error", "internal error; see the server log"), {
        status: 500,
        headers: { "x-request-id": requestId },
      });
    }
  };
  return async (request) => {
    const response = await answer(request);
    for (const [name, value] of deps.isHttps(request) ? HEADERS.https : HEADERS.http)
      response.headers.set(name, value);
    return response;
  };
}
