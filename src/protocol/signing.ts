/**
 * Request signing for protocol v1 (docs/protocol.md):
 *   Sentinel-Signature: v1=<hex HMAC-SHA256(secret, "<client>.<timestamp>.<nonce>.<raw body>")>
 * The server checks exactly what was sent: the timestamp header as its text (not the number it
 * reads as) and the body as its bytes (not the text they decode to), so nothing a signature
 * does not cover can pass for signed. Pure functions, usable by the client, the server and
 * tests. Bun's own HMAC and a string comparison: the server checks one per report, and
 * node:crypto's createHmac plus a hex round trip to Buffers cost it twice as much.
 */
import { randomBytes } from "node:crypto";

export const HEADER_CLIENT = "sentinel-client";
export const HEADER_TIMESTAMP = "sentinel-timestamp";
export const HEADER_NONCE = "sentinel-nonce";
export const HEADER_SIGNATURE = "sentinel-signature";

/** Reports older or newer than this (seconds) are refused; nonces are remembered this long. */
export const MAX_CLOCK_SKEW_S = 300;

export const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** `body` is the raw body: bytes as sent, or a string that is sent as its UTF-8 encoding. */
export function computeSignature(
  secret: string,
  clientId: string,
  timestamp: string,
  nonce: string,
  body: string | Uint8Array,
): string {
  return new Bun.CryptoHasher("sha256", secret)
    .update(`${clientId}.${timestamp}.${nonce}.`)
    .update(body)
    .digest("hex");
}

export function newNonce(): string {
  return randomBytes(18).toString("base64url");
}

/** The four headers for a signed request. */
export function signRequest(
  clientId: string,
  secret: string,
  body: string,
  nowS: number = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const timestamp = String(nowS);
  const nonce = newNonce();
  return {
    "Content-Type": "application/json",
    "Sentinel-Client": clientId,
    "Sentinel-Timestamp": timestamp,
    "Sentinel-Nonce": nonce,
    "Sentinel-Signature": `v1=${computeSignature(secret, clientId, timestamp, nonce, body)}`,
  };
}

export interface SignedHeaders {
  clientId: string;
  timestamp: number;
  /** the Sentinel-Timestamp header as sent: what the signature covers */
  timestampText: string;
  nonce: string;
  signature: string;
}

/** Parses the signing headers; null when any is missing or malformed. */
export function parseSignedHeaders(get: (name: string) => string | null): SignedHeaders | null {
  const clientId = get(HEADER_CLIENT);
  const ts = get(HEADER_TIMESTAMP);
  const nonce = get(HEADER_NONCE);
  const sig = get(HEADER_SIGNATURE);
  if (!clientId || !ts || !nonce || !sig) return null;
  if (!CLIENT_ID_PATTERN.test(clientId) || !/^\d{1,12}$/.test(ts) || !NONCE_PATTERN.test(nonce)) return null;
  const m = /^v1=([0-9a-f]{64})$/.exec(sig.trim());
  if (!m?.[1]) return null;
  return { clientId, timestamp: Number(ts), timestampText: ts, nonce, signature: m[1] };
}

export function isTimestampFresh(timestampS: number, nowS: number): boolean {
  return Math.abs(nowS - timestampS) <= MAX_CLOCK_SKEW_S;
}

/** Constant-time check of a hex signature against the expected one, over the body as sent. */
export function signatureMatches(secret: string, h: SignedHeaders, body: string | Uint8Array): boolean {
  return constantTimeEqual(computeSignature(secret, h.clientId, h.timestampText, h.nonce, body), h.signature);
}

/** Equal strings? In a time that does not depend on where they differ (only on the length). */
function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}
