/// <reference types="@kitajs/html/htmx.d.ts" />
/** What every page template knows about the request: who is looking, and the CSRF token for forms. */
export interface PageContext {
  user: { name: string; role: "admin" | "viewer" };
  csrf: string;
  /** the current path, for the navigation's aria-current */
  path: string;
  /** asset URLs with their content hash, so they can be cached forever */
  assets: { css: string; js: string; htmx: string; sse: string };
  /** server-wide problems shown on top of every page, e.g. "home address unknown" */
  banners: BannerView[];
  /** when the page started reading, for its event stream's `since` (the changes it missed) */
  live: string;
}

/** One server-wide problem: what is wrong (title), why and how to fix it (message). */
export interface BannerView {
  code: string;
  title: string;
  message: string;
  /** the page where it is fixed */
  href?: string;
}

export const isAdmin = (ctx: PageContext) => ctx.user.role === "admin";
