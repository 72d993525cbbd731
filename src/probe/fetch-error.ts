/**
 * A failed fetch in a few words a person reads at a glance: "connection refused", not Bun's
 * "ECONNREFUSED: ECONNREFUSED: Unable to connect. Is the computer able to access the url?".
 * Shared by the probes, the client's uploads and the doctor, so one problem reads the same
 * everywhere.
 */

const WORDS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed (temporarily)",
  ConnectionClosed: "connection closed before an answer",
};

/** TLS failures, whatever the runtime calls them, need a different fix than a dead port. */
const TLS = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME|ALTNAME/i;

export function describeFetchError(e: unknown, timeoutMs?: number): string {
  const err = e as { name?: string; code?: string; message?: string } | null;
  if (err?.name === "TimeoutError") return timeoutMs ? `timed out after ${timeoutMs} ms` : "timed out";
  if (err?.name === "AbortError") return "aborted";
  const code = err?.code;
  if (code && WORDS[code]) return WORDS[code];
  const message = String(err?.message ?? e);
  if (code && TLS.test(code)) return `TLS failed: ${code}`;
  // Bun repeats the code at the start of the message; say it once.
  const text = code && !message.includes(code) ? `${code}: ${message}` : message;
  return text.slice(0, 300);
}

/** A certificate or handshake problem (as opposed to a dead port or a timeout). */
export function isTlsError(e: unknown): boolean {
  const err = e as { code?: string; message?: string } | null;
  return TLS.test(`${err?.code ?? ""} ${err?.message ?? ""}`);
}
