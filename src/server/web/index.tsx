/** @jsxImportSource @kitajs/html */
/**
 * webApp(deps): the dashboard as one Elysia plugin. Server-rendered JSX (templates/), htmx 2
 * with its SSE extension, every asset embedded. Also sets the security headers on every
 * response of the app, API included.
 */
import { html } from "@elysiajs/html";
import { Elysia } from "elysia";
import { ErrorPage } from "../../../templates/login.tsx";
import { securityHeaders } from "../auth/headers.ts";
import { adminRoutes } from "./admin-routes.tsx";
import { analyticsRoutes } from "./analytics-routes.tsx";
import { ASSET_URLS, serveAsset } from "./assets.ts";
import { authRoutes } from "./auth-routes.tsx";
import { clientRoutes } from "./client-routes.tsx";
import { eventRoutes } from "./event-routes.tsx";
import { Web, type WebDeps } from "./guard.ts";
import { streamRoutes } from "./stream.tsx";

export type { ChannelStatus, ChannelStatusProvider } from "./channels.ts";
export type { WebDeps } from "./guard.ts";

export function webApp(deps: WebDeps) {
  const web = new Web(deps);
  web.errorPage = (auth, request, status, title, text) =>
    web.html(
      <ErrorPage
        ctx={auth ? web.pageContext(auth, request) : undefined}
        assets={ASSET_URLS}
        status={status}
        title={title}
        text={text}
      />,
      status,
    );

  return (
    new Elysia({ name: "web" })
      .use(html({ contentType: "text/html; charset=utf-8" }))
      // onRequest is global: the headers land on every response, errors and the API included.
      .onRequest(({ request, set }) => {
        Object.assign(set.headers, securityHeaders(web.secure(request)));
      })
      .get(
        "/assets/:name",
        async ({ request, params }) =>
          serveAsset(params.name, request) ?? web.notFound(null, request, "file"),
      )
      .use(authRoutes(web))
      .use(clientRoutes(web))
      .use(eventRoutes(web))
      .use(analyticsRoutes(web))
      .use(adminRoutes(web))
      .use(streamRoutes(web))
  );
}
