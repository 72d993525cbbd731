/** Small HTTP helpers shared by the API plugins. */
import type { Logger } from "../cli/common.ts";
import { ApiError, errorBody, errorResponse } from "./errors.ts";

/** A route served by Bun.serve directly (the hot paths) and mounted in the app as well. */
export type PlainRoute = (request: Request) => Promise<Response>;

/**
 * A JSON route outside Elysia: the handler's answer, or our error shape for an ApiError (a 500
 * for anything else, logged); every answer carries the request id.
 */
export function jsonRoute(
  name: string,
  logger: Logger,
  handle: (request: Request) => Promise<{ status: number; body: unknown }>,
): PlainRoute {
  return async (request) => {
    const requestId = requestIdOf(request);
    try {
      const { status, body } = await handle(request);
      return new Response(JSON.stringify(body), {
        status,
        headers: { "content-type": "application/json", "x-request-id": requestId },
      });
    } catch (e) {
      let response: Response;
      if (e instanceof ApiError) response = errorResponse(e);
      else {
        logger.error(`unhandled error on ${name} [${requestId}]`, e);
        response = Response.json(errorBody("internal_error", "internal error; see the server log"), {
          status: 500,
        });
      }
      response.headers.set("x-request-id", requestId);
      return response;
    }
  };
}

/**
 * Reads a request body, refusing more than `limit` bytes without buffering them all:
 * Content-Length is checked first, and a chunked body is cut off as soon as it grows too big.
 */
export async function readBodyBytesLimited(request: Request, limit: number): Promise<Uint8Array> {
  const tooLarge = () =>
    new ApiError(413, "payload_too_large", `the request body is larger than ${limit} bytes`);
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge();
  // With a Content-Length the server reads exactly that many bytes: one read, no stream.
  if (declared !== null) return request.bytes();
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

/** The same as text (UTF-8; a byte-order mark is dropped, invalid bytes become U+FFFD). */
export async function readBodyLimited(request: Request, limit: number): Promise<string> {
  return utf8.decode(await readBodyBytesLimited(request, limit));
}

const utf8 = new TextDecoder();

export function requireJsonContentType(request: Request): void {
  const type = request.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json")
    throw new ApiError(415, "unsupported_media_type", "send the body as Content-Type: application/json");
}

/** Request ids made here: random per process, then a counter (a UUID per request showed in profiles). */
const REQUEST_ID_PREFIX = crypto.randomUUID().slice(0, 13);
let requestCounter = 0;

/** The caller's X-Request-Id when it is a sane token, else a fresh one (logged and echoed). */
export function requestIdOf(request: Request): string {
  const given = request.headers.get("x-request-id");
  if (given && /^[\w.-]{1,128}$/.test(given)) return given;
  requestCounter = (requestCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${REQUEST_ID_PREFIX}-${requestCounter.toString(36)}`;
}
