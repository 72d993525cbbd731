/** @jsxImportSource @kitajs/html */
/** The page shell: head with embedded assets, skip link, navigation, theme toggle, main. */
import type { Children } from "@kitajs/html";
import { CsrfField } from "./components.tsx";
import { type BannerView, isAdmin, type PageContext } from "./context.ts";

/** htmx must not inject its own <style> or evaluate strings: the CSP forbids both anyway. */
const HTMX_CONFIG = JSON.stringify({
  includeIndicatorStyles: false,
  allowEval: false,
  allowScriptTags: false,
  selfRequestsOnly: true,
  historyCacheSize: 0,
});

export function Head({ title, assets }: { title: string; assets: PageContext["assets"] }) {
  return (
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="color-scheme" content="light dark" />
      <meta name="referrer" content="same-origin" />
      <meta name="htmx-config" content={HTMX_CONFIG} />
      <title safe>{`${title} · VPN Sentinel`}</title>
      <link rel="stylesheet" href={assets.css} />
      <link rel="icon" href="data:," />
      {/* app.js runs first (not deferred) so the stored theme applies before the first paint */}
      <script src={assets.js} />
      <script src={assets.htmx} defer />
      <script src={assets.sse} defer />
    </head>
  );
}

const NAV: { href: string; label: string; admin?: boolean }[] = [
  { href: "/", label: "Overview" },
  { href: "/events", label: "Events" },
  { href: "/analytics", label: "Analytics" },
  { href: "/channels", label: "Alerts" },
  { href: "/users", label: "Users", admin: true },
  { href: "/tokens", label: "API tokens", admin: true },
  { href: "/audit", label: "Audit log", admin: true },
];

function Nav({ ctx }: { ctx: PageContext }) {
  const current = (href: string) => (href === "/" ? ctx.path === "/" : ctx.path.startsWith(href));
  return (
    <nav class="nav" aria-label="Main">
      <ul>
        {NAV.filter((n) => !n.admin || isAdmin(ctx)).map((n) => (
          <li>
            <a href={n.href} aria-current={current(n.href) ? "page" : undefined} safe>
              {n.label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function ThemeToggle() {
  return (
    <button
      type="button"
      class="icon-button"
      data-theme-toggle
      aria-label="Switch colour theme"
      title="Switch colour theme"
    >
      <svg viewBox="0 0 20 20" aria-hidden="true" focusable="false">
        <path d="M10 2.5a7.5 7.5 0 1 0 0 15z" class="fill" />
        <circle cx="10" cy="10" r="7.5" />
      </svg>
    </button>
  );
}

export function Layout({ ctx, title, children }: { ctx: PageContext; title: string; children?: Children }) {
  return (
    <html lang="en">
      <Head title={title} assets={ctx.assets} />
      <body hx-headers={JSON.stringify({ "X-CSRF-Token": ctx.csrf })}>
        <a class="skip-link" href="#main">
          Skip to content
        </a>
        <header class="topbar">
          <div class="topbar-inner">
            <a class="brand" href="/">
              <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false" class="brand-mark">
                <path d="M12 2.5l8 3v6c0 5-3.4 8.6-8 10-4.6-1.4-8-5-8-10v-6z" />
                <path d="M8.5 12l2.5 2.5 4.5-5" class="brand-check" />
              </svg>
              <span>VPN Sentinel</span>
            </a>
            <Nav ctx={ctx} />
            <div class="topbar-end">
              <ThemeToggle />
              <details class="user-menu">
                <summary>
                  <span class="sr-only">Signed in as </span>
                  <span safe>{ctx.user.name}</span>
                  <span class="role">{ctx.user.role}</span>
                </summary>
                <div class="user-menu-panel">
                  <a href="/account">Account</a>
                  <form method="post" action="/logout">
                    <CsrfField token={ctx.csrf} />
                    <button type="submit" class="link-button">
                      Sign out
                    </button>
                  </form>
                </div>
              </details>
            </div>
          </div>
        </header>
        <main id="main" class="main" tabindex="-1">
          <Banners banners={ctx.banners} />
          {children}
        </main>
      </body>
    </html>
  );
}

/**
 * Server-wide problems on top of every page. Its own swap target: the overview's live updates
 * send it along, so a banner goes away as soon as its problem is fixed.
 */
export function Banners({ banners, oob }: { banners: BannerView[]; oob?: boolean }) {
  return (
    <section
      id="banners"
      class="banners"
      aria-label="Server warnings"
      hidden={banners.length === 0}
      hx-swap-oob={oob ? "true" : undefined}
    >
      {banners.map((b) => (
        <div class="banner" role="status" data-code={b.code}>
          <p class="banner-title" safe>
            {b.title}
          </p>
          <p class="banner-text">
            <span safe>{b.message}</span>
            {b.href ? (
              <>
                {" "}
                <a href={b.href}>Fix it here</a>
              </>
            ) : null}
          </p>
        </div>
      ))}
    </section>
  );
}

/** Pages without a session (login, setup): just the card. */
export function BareLayout({
  title,
  assets,
  children,
}: {
  title: string;
  assets: PageContext["assets"];
  children?: Children;
}) {
  return (
    <html lang="en">
      <Head title={title} assets={assets} />
      <body class="bare">
        <main id="main" class="bare-main">
          <div class="bare-brand">
            <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false" class="brand-mark">
              <path d="M12 2.5l8 3v6c0 5-3.4 8.6-8 10-4.6-1.4-8-5-8-10v-6z" />
              <path d="M8.5 12l2.5 2.5 4.5-5" class="brand-check" />
            </svg>
            <span>VPN Sentinel</span>
          </div>
          {children}
        </main>
      </body>
    </html>
  );
}

export function PageHeader({ title, sub, children }: { title: string; sub?: string; children?: Children }) {
  return (
    <div class="page-header">
      <div>
        <h1 safe>{title}</h1>
        {sub ? (
          <p class="page-sub" safe>
            {sub}
          </p>
        ) : null}
      </div>
      <div class="page-actions">{children}</div>
    </div>
  );
}

/** A message after an action; role=status so screen readers announce it. */
export function Notice({ kind, text }: { kind: "ok" | "error" | "info"; text: string }) {
  return (
    <div class={`notice notice-${kind}`} role={kind === "error" ? "alert" : "status"}>
      <span safe>{text}</span>
    </div>
  );
}

/** Live-update state; app.js flips it when the event stream drops and polling takes over. */
export function LiveIndicator() {
  return (
    <p class="live" data-live-indicator role="status" aria-live="polite">
      <span class="live-dot" aria-hidden="true" />
      <span data-live-text>Live</span>
    </p>
  );
}
