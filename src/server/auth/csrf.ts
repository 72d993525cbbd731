/**
 * CSRF: every state-changing request carries the session's token, as the `_csrf` form field
 * or the X-CSRF-Token header (htmx sends it via hx-headers on <body>). A cross-site form can
 * neither read the token nor set the header. The login form, which has no session yet, uses a
 * double-submit cookie instead.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";

export const CSRF_FIELD = "_csrf";
export const CSRF_HEADER = "x-csrf-token";

export const newCsrfToken = () => randomBytes(24).toString("base64url");

export function tokensEqual(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The token a request presents: the header wins, then the form field. */
export function presentedCsrfToken(headers: Headers, form: Record<string, unknown> | null): string | null {
  const header = headers.get(CSRF_HEADER);
  if (header) return header;
  const field = form?.[CSRF_FIELD];
  return typeof field === "string" ? field : null;
}

export const isStateChanging = (method: string) => !["GET", "HEAD", "OPTIONS"].includes(method.toUpperCase());
