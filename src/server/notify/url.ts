/**
 * Channel URLs (`--notify URL`): one URL per channel, Apprise style. This module does the part
 * every scheme shares: the scheme, the routing filters (filter.ts), and the display form with
 * every secret masked (`redactedUrl`), which is what logs, errors, the dashboard and outbox rows
 * show. What each scheme needs from the rest of the URL is checked by its channel
 * (channels/registry.ts).
 */
import { type RouteFilter, takeRouteFilter } from "./filter.ts";

export const SCHEMES = [
  "ntfy",
  "ntfys",
  "gotify",
  "gotifys",
  "discord+https",
  "slack+https",
  "slack+http",
  "smtp",
  "smtps",
  "webhook+https",
  "webhook+http",
  "mqtt",
  "mqtts",
  "apprise+https",
  "apprise+http",
  "tgram",
] as const;
export type Scheme = (typeof SCHEMES)[number];

export interface ChannelUrl {
  scheme: Scheme;
  /** the URL with the filter parameters taken out (secrets still in it: never show it) */
  url: URL;
  filter: RouteFilter;
  /** the display form: secrets masked, filters kept */
  redacted: string;
}

/** Query parameters that carry secrets in any scheme. */
const SECRET_PARAMS = new Set(["secret", "token", "password", "pass", "key", "apikey", "api_key"]);
/** Schemes whose last path segment is the secret (an app token, a webhook token, a key). */
const SECRET_LAST_SEGMENT = new Set<string>([
  "gotify",
  "gotifys",
  "discord+https",
  "slack+https",
  "slack+http",
  "apprise+https",
  "apprise+http",
]);
const MASK = "***";

const schemeOf = (text: string) => /^([a-z][a-z0-9+.-]*):\/\//i.exec(text.trim())?.[1]?.toLowerCase() ?? null;

/**
 * Telegram bot tokens ("123456:ABC-def") sit where a host would, and their colon reads as a
 * port: tgram://TOKEN/CHAT is rewritten to tgram://BOT_ID:SECRET@telegram/CHAT before parsing.
 */
function normalize(text: string): string {
  const m = /^tgram:\/\/([^/@?#]+)(.*)$/is.exec(text.trim());
  return m ? `tgram://${m[1]}@telegram${m[2]}` : text.trim();
}

function mask(url: URL, scheme: string): string {
  const u = new URL(url.href);
  if (u.password) u.password = MASK;
  if (scheme === "tgram" && u.username) u.password = MASK;
  for (const key of [...u.searchParams.keys()])
    if (SECRET_PARAMS.has(key.toLowerCase())) u.searchParams.set(key, MASK);
  if (SECRET_LAST_SEGMENT.has(scheme)) {
    const parts = u.pathname.split("/");
    const last = parts.findLastIndex((p) => p !== "");
    if (last >= 0) parts[last] = MASK;
    u.pathname = parts.join("/");
  }
  // a display form: the characters URLSearchParams encodes but people write stay readable
  let out = u.href.replaceAll("%2A%2A%2A", MASK).replace(/%(40|2C|3A|2F)/gi, (c) => decodeURIComponent(c));
  if (scheme === "tgram") out = out.replace(/^tgram:\/\/([^@]*)@telegram/, "tgram://$1");
  return out;
}

/** The display form of a channel URL: every secret masked; a URL that does not parse shows only its scheme. */
export function redactedUrl(text: string): string {
  const scheme = schemeOf(text);
  try {
    return mask(new URL(normalize(text)), scheme ?? "");
  } catch {
    return scheme ? `${scheme}://${MASK}` : MASK;
  }
}

/** Parses the shared part of a channel URL; the error sentence never contains a secret. */
export function parseChannelUrl(text: string): ChannelUrl | { error: string } {
  const scheme = schemeOf(text);
  if (!scheme) return { error: `${redactedUrl(text)} is not a URL (e.g. ntfys://ntfy.sh/my-topic)` };
  if (!(SCHEMES as readonly string[]).includes(scheme))
    return {
      error: `unknown scheme "${scheme}://" (one of ${SCHEMES.map((s) => `${s}://`).join(", ")})`,
    };
  let url: URL;
  try {
    url = new URL(normalize(text));
  } catch {
    return { error: `${redactedUrl(text)} does not parse as a URL` };
  }
  const redacted = mask(url, scheme);
  if (!url.hostname) return { error: `${redacted} has no host` };
  const filter = takeRouteFilter(url.searchParams);
  if (typeof filter === "string") return { error: `${redacted}: ${filter}` };
  return { scheme: scheme as Scheme, url, filter, redacted };
}

/**
 * An edited channel URL with its secrets kept: where `edited` still shows a secret masked
 * (`***`, as the dashboard shows it), the secret of `stored` takes its place. Only on the same
 * service (scheme, host, port, user): a secret is never sent somewhere it was not meant for.
 */
export function unmaskUrl(edited: string, stored: string): string | { error: string } {
  if (!edited.includes(MASK)) return edited.trim();
  let e: URL;
  let s: URL;
  try {
    e = new URL(normalize(edited));
    s = new URL(normalize(stored));
  } catch {
    return { error: `${redactedUrl(edited)} does not parse as a URL` };
  }
  const scheme = schemeOf(edited) ?? "";
  if (e.protocol !== s.protocol || e.host !== s.host || e.username !== s.username)
    return {
      error:
        "the address changed: type the secrets again instead of *** (they are kept only for the same service)",
    };
  if (e.password === MASK && s.password) e.password = s.password;
  for (const [key, value] of [...e.searchParams]) {
    const kept = s.searchParams.get(key);
    if (value === MASK && kept && SECRET_PARAMS.has(key.toLowerCase())) e.searchParams.set(key, kept);
  }
  if (SECRET_LAST_SEGMENT.has(scheme)) {
    const parts = e.pathname.split("/");
    const last = parts.findLastIndex((p) => p !== "");
    if (parts[last] === MASK) {
      parts[last] = s.pathname.split("/").findLast((p) => p !== "") ?? "";
      e.pathname = parts.join("/");
    }
  }
  const out = e.href;
  if (out.includes(MASK) || out.includes("%2A%2A%2A"))
    return { error: "*** stands where no secret was stored: type the secret" };
  return scheme === "tgram" ? out.replace(/^tgram:\/\/([^@]*)@telegram/, "tgram://$1") : out;
}

/** The URL without its filter parameters, masked: a channel's stable, secret-free name. */
export function channelName(u: ChannelUrl): string {
  return mask(u.url, u.scheme);
}

/**
 * Env and TOML give several URLs in one string, separated by commas; a comma inside a URL (e.g.
 * ?only=a,b) is not followed by a scheme, so only commas before "<scheme>://" separate.
 */
export const URL_LIST_SEPARATOR = /,(?=\s*[a-z][a-z0-9+.-]*:\/\/)/i;
