/**
 * The dashboard's request plumbing: who is asking (session cookie), may they (role, CSRF,
 * origin), and the small response helpers every route uses. Elysia-free, so the rules are
 * testable on plain Requests.
 */

import type { PageContext } from "../../../templates/context.ts";
import type { Logger } from "../../logger.ts";
import { isStateChanging, presentedCsrfToken, tokensEqual } from "../auth/csrf.ts";
import type { Keyring } from "../auth/keyring.ts";
import { type ActiveSession, loadSession, sessionCookieName } from "../auth/sessions.ts";
import type { LoginPolicy } from "../auth/users.ts";
import type { Broker } from "../broker.ts";
import type { ClientMonitor } from "../monitor/service.ts";
import type { ApiRole, Store } from "../store/index.ts";
import type { ServerWarnings } from "../warnings.ts";
import { ASSET_URLS } from "./assets.ts";
import type { ChannelStatusProvider } from "./channels.ts";

export interface WebDeps {
  store: Store;
  keyring: Keyring;
  logger: Logger;
  now: () => number;
  broker: Broker;
  /** the URL people and clients use; https here makes cookies Secure */
  publicUrl: string;
  /** the real client address (honours --trusted-proxy); null when unknown */
  clientAddress: (request: Request) => string | null;
  /** true when the request came over HTTPS, directly or through a trusted proxy */
  isHttps?: (request: Request) => boolean;
  /** re-judges a client after its settings changed (and publishes client.changed) */
  monitor?: Pick<ClientMonitor, "settingsChanged" | "learnedNetworks">;
  channels?: ChannelStatusProvider;
  loginPolicy?: LoginPolicy;
  /** how long a rotated-out client secret keeps working */
  rotateGraceMs?: number;
  stream?: { heartbeatMs?: number; coalesceMs?: number; refetchEveryMs?: number };
  /** server-wide problems, shown as banners on every page */
  warnings?: ServerWarnings;
}

/** A signed-in request: its session, and the server-wide warnings its page shows (read once per request). */
export type Auth = ActiveSession & {
  banners: PageContext["banners"];
  /** the broker's mark before this request read anything (see PageContext.live) */
  liveMark: string;
};
export type Form = Record<string, unknown>;

export function parseCookies(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq < 1) continue;
    const name = part.slice(0, eq).trim();
    if (!(name in out)) {
      try {
        out[name] = decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        // a malformed cookie is ignored, like browsers do
      }
    }
  }
  return out;
}

export function cookieHeader(
  name: string,
  value: string,
  o: { secure: boolean; maxAgeS: number; sameSite: "Lax" | "Strict" },
) {
  return `${name}=${value}; Path=/; HttpOnly; SameSite=${o.sameSite}; Max-Age=${o.maxAgeS}${o.secure ? "; Secure" : ""}`;
}

/**
 * A post-login target survives only as a same-origin path of plain URL characters (RFC 3986
 * path and query characters, percent escapes kept as they are): control characters, non-ASCII
 * and whitespace could end up in the Location header as something a browser reads differently
 * (or as a header Bun refuses to send). Anything else, and /login itself, becomes "/".
 */
const SAFE_NEXT = /^\/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@/?%#]{0,2047}$/;
export function safeNext(next: unknown): string {
  return typeof next === "string" && SAFE_NEXT.test(next) && !next.startsWith("/login") ? next : "/";
}

export const formText = (form: Form | null, key: string): string => {
  const v = form?.[key];
  return typeof v === "string" ? v : "";
};

const HTML = "text/html; charset=utf-8";

/** Templates are synchronous (no async components), so an element is always a string. */
export function renderSync(element: JSX.Element): string {
  if (typeof element !== "string") throw new Error("dashboard templates must render synchronously");
  return element;
}

export class Web {
  constructor(readonly deps: WebDeps) {}

  get store() {
    return this.deps.store;
  }

  now() {
    return this.deps.now();
  }

  secure(request: Request): boolean {
    return this.deps.publicUrl.startsWith("https:") || (this.deps.isHttps?.(request) ?? false);
  }

  address(request: Request): string | null {
    return this.deps.clientAddress(request);
  }

  async session(request: Request): Promise<Auth | null> {
    const liveMark = this.broker.mark();
    const cookies = parseCookies(request.headers.get("cookie"));
    const active = await loadSession(
      this.store,
      cookies[sessionCookieName(this.secure(request))],
      this.now(),
    );
    return active ? { ...active, banners: await this.banners(), liveMark } : null;
  }

  /**
   * Origin check for state-changing requests (defence in depth next to the CSRF token): a
   * browser sends Origin on cross-site POSTs, and it must name this server.
   */
  sameOrigin(request: Request): boolean {
    const origin = request.headers.get("origin");
    if (!origin || origin === "null") return origin === null;
    const host = request.headers.get("host");
    try {
      const o = new URL(origin);
      return (
        o.host === host ||
        o.origin === new URL(this.deps.publicUrl).origin ||
        o.origin === new URL(request.url).origin
      );
    } catch {
      return false;
    }
  }

  /**
   * Resolves the session and checks role, origin and (for POST & co.) the CSRF token. Returns
   * the session, or the response to send instead: 303 to /login for a browser without a
   * session, 401 for htmx and the event stream, 403 for a wrong role or a missing token.
   */
  async guard(request: Request, need: ApiRole, form: Form | null = null): Promise<Auth | Response> {
    const auth = await this.session(request);
    const url = new URL(request.url);
    if (!auth) {
      if (request.headers.get("hx-request") || request.headers.get("accept") === "text/event-stream")
        return new Response("sign in first", { status: 401, headers: { "hx-redirect": "/login" } });
      const next = request.method === "GET" ? `?next=${encodeURIComponent(url.pathname + url.search)}` : "";
      return this.redirect(`/login${next}`);
    }
    if (isStateChanging(request.method)) {
      if (!this.sameOrigin(request))
        return this.forbidden(auth, request, "This request came from another site.");
      if (!tokensEqual(presentedCsrfToken(request.headers, form), auth.session.csrfToken))
        return this.forbidden(
          auth,
          request,
          "The form expired or did not come from this dashboard. Reload the page and try again.",
        );
    }
    if (need === "admin" && auth.user.role !== "admin")
      return this.forbidden(auth, request, "This needs an admin account.");
    return auth;
  }

  pageContext(auth: Auth, request: Request): PageContext {
    return {
      user: { name: auth.user.name, role: auth.user.role },
      csrf: auth.session.csrfToken,
      path: new URL(request.url).pathname,
      assets: ASSET_URLS,
      banners: auth.banners,
      live: auth.liveMark,
    };
  }

  /** The server-wide problems every page shows (see ServerWarning). */
  async banners(): Promise<PageContext["banners"]> {
    return (await this.deps.warnings?.()) ?? [];
  }

  html(element: JSX.Element, status = 200, headers: Record<string, string> = {}): Response {
    const body = renderSync(element);
    // Pages show live state and, for admins, secrets: never cache them.
    return new Response(`${body.startsWith("<html") ? "<!doctype html>" : ""}${body}`, {
      status,
      headers: { "content-type": HTML, "cache-control": "no-store", ...headers },
    });
  }

  redirect(location: string, headers: Record<string, string> = {}): Response {
    return new Response(null, {
      status: 303,
      headers: { location, "cache-control": "no-store", ...headers },
    });
  }

  /** Set by the plugin, which owns the templates: renders a full error page. */
  errorPage: (auth: Auth | null, request: Request, status: number, title: string, text: string) => Response =
    (_a, _r, status, title) => new Response(title, { status });

  forbidden(auth: Auth | null, request: Request, text: string): Response {
    return this.errorPage(auth, request, 403, "Not allowed", text);
  }

  notFound(auth: Auth | null, request: Request, what = "page"): Response {
    return this.errorPage(auth, request, 404, "Not found", `There is no such ${what}.`);
  }

  /** Who did what, when and from where: every admin action and every sign-in. */
  audit(
    actor: string,
    request: Request,
    action: string,
    target: string | null,
    detail: Record<string, unknown> = {},
  ): Promise<number> {
    return this.store.auth.audit({
      at: this.now(),
      actor,
      action,
      target,
      detail,
      sourceIp: this.address(request),
    });
  }

  get logger(): Logger {
    return this.deps.logger;
  }

  get broker(): Broker {
    return this.deps.broker;
  }
}
