/**
 * grammy's errors carry the request URL, and the Bot API URL carries the token
 * (/bot<token>/<method>): a failed fetch names it in its message or `path`. Nothing from grammy
 * leaves the Telegram code as it came: only a plain Error with a redacted message (and the
 * network cause, which says why) goes to a log or up the stack.
 */
import { HttpError } from "grammy";
import { redactText } from "../../../../cli/redact.ts";

export function sanitizedTelegramError(e: unknown, token: string): Error {
  const message = e instanceof Error ? e.message : String(e);
  const cause = e instanceof HttpError && e.error instanceof Error ? ` (${e.error.message})` : "";
  const clean = new Error(redactText(`${message}${cause}`, [token]));
  clean.name = e instanceof Error ? e.name : "Error";
  return clean;
}
