/**
 * The enrollment token a user pastes into `sentinel client --token`: it bundles the server
 * URL, the client id and its secret so one value is enough. Format: "st1." + base64url(JSON).
 * It is a secret: never log it or print it after enrollment.
 */

export interface EnrollmentToken {
  server: string;
  clientId: string;
  secret: string;
}

const PREFIX = "st1.";

export function encodeToken(t: EnrollmentToken): string {
  return (
    PREFIX + Buffer.from(JSON.stringify({ u: t.server, c: t.clientId, s: t.secret })).toString("base64url")
  );
}

export class TokenFormatError extends Error {
  readonly code = "invalid_token";
}

export function decodeToken(token: string): EnrollmentToken {
  const trimmed = token.trim();
  if (!trimmed.startsWith(PREFIX))
    throw new TokenFormatError(
      'the token does not start with "st1."; copy it again from `sentinel clients add`',
    );
  try {
    const o = JSON.parse(Buffer.from(trimmed.slice(PREFIX.length), "base64url").toString("utf8"));
    if (typeof o.u === "string" && typeof o.c === "string" && typeof o.s === "string" && o.c && o.s)
      return { server: o.u, clientId: o.c, secret: o.s };
  } catch {
    // fall through to the one error message below
  }
  throw new TokenFormatError(
    "the token is damaged (not valid base64url JSON); copy it again from `sentinel clients add`",
  );
}
