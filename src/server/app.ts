/**
 * createApp(deps): composes the feature plugins into one Elysia app. Every dependency is
 * injected (store, clock, keyring, logger, monitor), so tests build the real app in-process.
 */
import { Elysia } from "elysia";
import type { Logger } from "../logger.ts";
import { clientsApi } from "./api/clients/index.ts";
import { eventsApi } from "./api/events/index.ts";
import { exportApi } from "./api/export/index.ts";
import { healthApi } from "./api/health/index.ts";
import { historyApi } from "./api/history/index.ts";
import { keepaliveRoute, legacyApi } from "./api/legacy/index.ts";
import { LegacyKeepaliveIngest } from "./api/legacy/service.ts";
import { metricsApi } from "./api/metrics/index.ts";
import { openApiDocument } from "./api/openapi.ts";
import type { ClientCache } from "./api/reports/client-cache.ts";
import { type ReportRoute, reportRoute, reportsApi } from "./api/reports/index.ts";
import { ReportIngest } from "./api/reports/service.ts";
import { whoamiApi } from "./api/whoami/index.ts";
import type { Keyring } from "./auth/keyring.ts";
import { RateLimiter } from "./auth/rate-limit.ts";
import { badgeRoutes } from "./badges/routes.ts";
import type { Broker } from "./broker.ts";
import type { DnsOracle } from "./dns/oracle.ts";
import { ApiError, errorBody, errorResponse } from "./errors.ts";
import { type PlainRoute, requestIdOf } from "./http.ts";
import type { ServerMetrics } from "./metrics/server-metrics.ts";
import type { AcceptedReport, AcceptResult, ClientMonitor } from "./monitor/service.ts";
import { StorageHealth } from "./storage-health.ts";
import type { Store, Transaction } from "./store/index.ts";
import type { ServerWarnings } from "./warnings.ts";
import { type WebDeps, webApp } from "./web/index.tsx";

export interface AppDeps {
  store: Store;
  keyring: Keyring;
  logger: Logger;
  now: () => number;
  /** judges and persists an authenticated, valid report inside `tx` */
  acceptReport: (r: AcceptedReport, tx: Transaction) => Promise<AcceptResult>;
  /** the DNS leak oracle (--dns-zone): labels in the 202 answer and whoami, sightings on reports */
  dnsOracle?: DnsOracle;
  /** the address a request came from (honours trusted proxies); null when unknown */
  sourceIpOf?: (request: Request) => string | null;
  limits?: { reportsPerClientPerS?: number; reportBurst?: number; whoamiPerS?: number };
  startedAt?: number;
  broker: Broker;
  /** Telegram webhook mode: the bot's handler (it checks Telegram's secret token header) */
  telegramWebhook?: () => ((req: Request) => Promise<Response>) | null;
  /** storage errors: throttled logging, and a damaged database turns /readyz red */
  storage?: StorageHealth;
  /** the report route, when the caller also serves it outside the app (see createReportRoute) */
  reports?: ReportRoute;
  /** the report path's client cache */
  clientCache?: ClientCache;
  monitor: Pick<ClientMonitor, "settingsChanged" | "acceptServerBuiltReport" | "learnedNetworks">;
  /** the predecessor's keepalive endpoint; absent = not mounted */
  legacy?: { apiKey: string; intervalS: number };
  /** the keepalive route, when the caller also serves it outside the app (see createKeepaliveRoute) */
  keepalive?: PlainRoute;
  /** GET /metrics; absent = not mounted. `token` (--metrics-token) makes it need a bearer token. */
  metrics?: { metrics: ServerMetrics; token?: string | undefined };
  /** server-wide problems (home unknown, ...): dashboard banners and the client list's `warnings` */
  warnings?: ServerWarnings;
  /** the dashboard: public URL (https makes cookies Secure), channel status, login limits */
  web?: Pick<WebDeps, "publicUrl" | "isHttps" | "channels" | "loginPolicy" | "rotateGraceMs" | "stream">;
}

const limitsOf = (deps: AppDeps) => ({
  reportsPerClientPerS: 1,
  reportBurst: 30,
  whoamiPerS: 2,
  ...deps.limits,
});

/** In-process apps without one (tests) get their own, on first use. */
const storageHealthOf = (deps: AppDeps): StorageHealth =>
  (deps.storage ??= new StorageHealth({ logger: deps.logger, now: deps.now }));

/** POST /api/v1/reports with its ingest; main.ts serves it directly, createApp mounts it. */
export function createReportRoute(deps: AppDeps): ReportRoute {
  const { store, logger, now } = deps;
  const limits = limitsOf(deps);
  const ingest = new ReportIngest({
    store,
    ...(deps.clientCache ? { clients: deps.clientCache } : {}),
    keyring: deps.keyring,
    now,
    accept: deps.acceptReport,
    ...(deps.dnsOracle ? { oracle: deps.dnsOracle } : {}),
    limits: {
      perClient: { ratePerS: limits.reportsPerClientPerS, burst: limits.reportBurst },
      failures: AUTH_FAILURES,
    },
    onAuthFailure: (reason) => {
      logger.debug(`report refused: ${reason}`);
      deps.metrics?.metrics.authFailure(reason);
    },
    onStorageFailure: (_reason, e) => storageHealthOf(deps).failed("report not stored (503)", e),
  });
  return reportRoute(ingest, deps.sourceIpOf ?? (() => null), logger);
}

/** Failed authentications are throttled per address, reports and keepalives alike: 5/s after a burst of 50. */
const AUTH_FAILURES = { ratePerS: 5, burst: 50 };

/** POST /api/v1/keepalive (with --legacy-api-key); main.ts serves it directly, createApp mounts it. */
export function createKeepaliveRoute(deps: AppDeps): PlainRoute | null {
  const { legacy, logger } = deps;
  if (!legacy) return null;
  const ingest = new LegacyKeepaliveIngest({
    apiKey: legacy.apiKey,
    intervalS: legacy.intervalS,
    store: deps.store,
    keyring: deps.keyring,
    ...(deps.clientCache ? { clients: deps.clientCache } : {}),
    now: deps.now,
    accept: deps.acceptReport,
    failures: AUTH_FAILURES,
    onAuthFailure: (reason) => {
      logger.debug(`keepalive refused: ${reason}`);
      deps.metrics?.metrics.authFailure(reason);
    },
    onStorageFailure: (reason, e) => logger.error(`keepalive not stored (503): ${reason}: ${e.message}`),
  });
  return keepaliveRoute(ingest, deps.sourceIpOf ?? (() => null), logger);
}

export function createApp(deps: AppDeps) {
  const { store, logger, now } = deps;
  const sourceIpOf = deps.sourceIpOf ?? (() => null);
  const limits = limitsOf(deps);
  const warnings = deps.warnings ?? (async () => []);

  return new Elysia({ name: "sentinel" })
    .onRequest(({ request, set }) => {
      set.headers["x-request-id"] = requestIdOf(request);
    })
    .onError(({ code, error, request, set }) => {
      const requestId = String(set.headers["x-request-id"] ?? "");
      const withId = (r: Response) => {
        if (requestId) r.headers.set("x-request-id", requestId);
        return r;
      };
      if (error instanceof ApiError) return withId(errorResponse(error));
      switch (code) {
        case "NOT_FOUND":
          return withId(Response.json(errorBody("not_found", "no such endpoint"), { status: 404 }));
        case "PARSE":
          return withId(
            Response.json(errorBody("invalid_json", "the request body could not be parsed"), { status: 400 }),
          );
        case "VALIDATION": {
          // Elysia's own message echoes the input ("found"); report paths and rule messages only.
          const fields = (error.all ?? []).slice(0, 20).map((e) => ({
            path: "path" in e ? String(e.path) : "",
            message:
              "summary" in e && e.summary ? String(e.summary).replace(/'.*'/g, "value") : "invalid value",
          }));
          return withId(
            Response.json(errorBody("validation_failed", "the request does not match the schema", fields), {
              status: 400,
            }),
          );
        }
      }
      logger.error(
        `unhandled error on ${request.method} ${new URL(request.url).pathname} [${requestId}]`,
        error,
      );
      return withId(
        Response.json(errorBody("internal_error", "internal error; see the server log"), { status: 500 }),
      );
    })
    .use(healthApi(store, deps.startedAt ?? now(), () => storageHealthOf(deps).damage(), deps.keyring))
    .use(whoamiApi(new RateLimiter(limits.whoamiPerS, 20, now), sourceIpOf, deps.dnsOracle, now))
    .use(reportsApi(deps.reports ?? createReportRoute(deps)))
    .use(clientsApi({ store, now, monitor: deps.monitor, broker: deps.broker, warnings, sourceIpOf }))
    .use(eventsApi({ store, now }))
    .use(historyApi({ store, now }))
    .use(badgeRoutes({ store, now }))
    .use(exportApi({ store, keyring: deps.keyring, now, broker: deps.broker, sourceIpOf }))
    .use(
      deps.metrics
        ? metricsApi({
            render: async () => (await deps.metrics?.metrics.render()) ?? "",
            token: deps.metrics.token,
          })
        : new Elysia({ name: "api.metrics.off" }),
    )
    .use(
      webApp({
        publicUrl: "http://localhost:8088",
        ...deps.web,
        store,
        keyring: deps.keyring,
        logger,
        now,
        broker: deps.broker,
        monitor: deps.monitor,
        clientAddress: sourceIpOf,
        warnings,
      }),
    )
    .get("/api/v1/openapi.json", () => openApiDocument())
    .post(
      "/telegram/webhook",
      ({ request }) => {
        const handler = deps.telegramWebhook?.();
        if (!handler) throw new ApiError(404, "not_found", "the Telegram bot is not in webhook mode");
        return handler(request);
      },
      { parse: "none" },
    )
    .use(
      deps.legacy
        ? legacyApi(deps.keepalive ?? (createKeepaliveRoute(deps) as PlainRoute))
        : new Elysia({ name: "api.legacy.off" }),
    );
}

export type App = ReturnType<typeof createApp>;
