/**
 * Secrets out of log lines and error messages. Libraries put credentials where we do not look:
 * a Bot API URL carries the Telegram token (/bot<token>/<method>), and a failed fetch names its
 * URL on the error object, in the message, the stack or a `path` property. The logger passes
 * every line through redactValue; the Telegram boundary sanitises grammy's errors with
 * redactText before they travel further. Pure functions, no dependencies (the client imports it).
 */

export const REDACTED = "[redacted]";

/** Shapes of our own credentials and of the ones libraries carry, wherever they appear. */
const PATTERNS: [RegExp, string][] = [
  // a Bot API path segment, whatever the token looks like
  [/\/bot[^/\s"'`]+\//g, `/bot${REDACTED}/`],
  // a bare Telegram token: bot id, colon, 35 characters
  [/\b\d{5,16}:[A-Za-z0-9_-]{30,}/g, REDACTED],
  // API tokens (sst_...), enrollment tokens (st1....), Authorization values
  [/\bsst_[A-Za-z0-9_-]{16,}/g, REDACTED],
  [/\bst1\.[A-Za-z0-9_-]{16,}/g, REDACTED],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${REDACTED}`],
];

/**
 * Replaces credential shapes and the given secret values (8 characters or more: a shorter one
 * would blank out ordinary words) in a text.
 */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  for (const s of secrets) if (s.length >= 8) out = out.replaceAll(s, REDACTED);
  return out;
}

/**
 * A copy of a log argument with every string inside redacted: Errors keep their name, message,
 * stack, cause and own properties (redacted); objects and arrays are copied a few levels deep.
 */
export function redactValue(value: unknown, secrets: readonly string[] = [], depth = 0): unknown {
  if (typeof value === "string") return redactText(value, secrets);
  if (typeof value !== "object" || value === null || depth > 4) return value;
  const inner = (v: unknown) => redactValue(v, secrets, depth + 1);
  if (value instanceof Error) {
    const copy = new Error(redactText(value.message, secrets));
    copy.name = value.name;
    copy.stack = value.stack === undefined ? undefined : redactText(value.stack, secrets);
    if (value.cause !== undefined) copy.cause = inner(value.cause);
    for (const [k, v] of Object.entries(value)) (copy as unknown as Record<string, unknown>)[k] = inner(v);
    return copy;
  }
  if (value instanceof URL) return redactText(value.href, secrets);
  if (Array.isArray(value)) return value.map(inner);
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inner(v)]));
}
