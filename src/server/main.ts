/**
 * Wires the real server together: store, keyring, geo, home identity, monitor, HTTP. Used by
 * `sentinel server` and by integration tests (which start it on port 0 with a temp data dir).
 */
import { join } from "node:path";
import { resolveOptions } from "../config/options.ts";
import type { Logger } from "../logger.ts";
import { DEFAULT_IPV4_PROVIDERS, DEFAULT_IPV6_PROVIDERS } from "../probe/options.ts";
import { KEEPALIVE_PATH } from "./api/legacy/index.ts";
import { ClientCache } from "./api/reports/client-cache.ts";
import { REPORTS_PATH } from "./api/reports/index.ts";
import { type AppDeps, createApp, createKeepaliveRoute, createReportRoute } from "./app.ts";
import { clientAddress, isHttpsRequest, parseTrustedProxies } from "./auth/client-address.ts";
import { loadSharedKeyring } from "./auth/key-fingerprint.ts";
import { loadKeyring } from "./auth/keyring.ts";
import { ensureSetupToken } from "./auth/users.ts";
import { Broker } from "./broker.ts";
import { acquireDataLock } from "./data-lock.ts";
import { OracleLabels } from "./dns/labels.ts";
import { type DnsListener, startDnsListener } from "./dns/listener.ts";
import { type DnsOracleOptions, dnsOracleConfig } from "./dns/options.ts";
import { DnsOracle } from "./dns/oracle.ts";
import { rememberPublicUrl } from "./enrollment.ts";
import { loadGeo } from "./geo/index.ts";
import type { GeoLookup } from "./geo/types.ts";
import { HomeIdentityService } from "./home-identity.ts";
import type { PlainRoute } from "./http.ts";
import { BUN_BODY_CEILING, envelope, receivedRequest } from "./http-envelope.ts";
import { instrumentFetch } from "./metrics/http.ts";
import { ServerMetrics } from "./metrics/server-metrics.ts";
import { DEFAULT_DNS_ALLOW_ASNS } from "./monitor/evaluate.ts";
import { homeWarning } from "./monitor/home.ts";
import { type AcceptedReport, ClientMonitor } from "./monitor/service.ts";
import { createNotifications, type Notifications } from "./notify/index.ts";
import { type NotifyOptions, notifySpecs } from "./notify/options.ts";
import { channelStatusProvider } from "./notify/status.ts";
import { ensurePrivateDir } from "./private-files.ts";
import { historyService } from "./reports/index.ts";
import { periodic, ServiceList } from "./services.ts";
import { StorageHealth } from "./storage-health.ts";
import { DATABASE_FILE, openStore, reportCommit } from "./store/index.ts";
import { channelWarnings } from "./web/channels.ts";

/** Notification options come flat, like every server option; missing ones take their defaults. */
export interface ServerOptions extends Partial<NotifyOptions>, DnsOracleOptions {
  listen: { hostname: string; port: number };
  dataDir: string;
  /** a postgres:// URL: the database several replicas share (default: SQLite in dataDir) */
  database?: string | undefined;
  databasePoolSize?: number;
  /** ms */
  databaseStatementTimeout?: number;
  /** the server key file (default: server.key in dataDir) */
  serverKeyFile?: string | undefined;
  publicUrl: string;
  /** true when publicUrl is the default guess, not configured (kept with it for `clients add`) */
  publicUrlGuessed?: boolean;
  logger: Logger;
  homeIp?: string[];
  homeAsn?: number[];
  homeLearn?: boolean;
  homeRefresh?: number;
  ip4Provider?: string[];
  ip6Provider?: string[];
  dnsAllowAsn?: number[];
  grace?: number;
  geoOverrides?: string | undefined;
  trustedProxy?: string[];
  legacyApiKey?: string | undefined;
  legacyInterval?: number;
  reportRate?: number;
  now?: () => number;
  /** tests inject a geo table; the server otherwise loads the embedded database */
  geo?: GeoLookup;
  sweepIntervalMs?: number;
  /** history and events older than this are pruned; 0 or absent keeps everything */
  retention?: number;
  /** --report-schedule: when summary reports go to the alert channels */
  reportSchedule?: string[];
  /** --notify-anomalies: anomaly events alert */
  notifyAnomalies?: boolean;
  /** how often rollups and due reports are looked at (tests shorten it) */
  historyEveryMs?: number;
  /** GET /metrics needs Authorization: Bearer <token> when set */
  metricsToken?: string | undefined;
  /** PEM files: serve HTTPS directly instead of behind a reverse proxy */
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
}

const hostPort = (host: string, port: number) => `${host.includes(":") ? `[${host}]` : host}:${port}`;

export interface RunningServer {
  url: string;
  port: number;
  monitor: ClientMonitor;
  home: HomeIdentityService;
  broker: Broker;
  notifications: Notifications;
  /** where the DNS oracle listens (--dns-zone); null without one */
  dns: { host: string; port: number } | null;
  /** for the systemd watchdog: the database answers and the sweeper is alive */
  healthy(): Promise<boolean>;
  stop(): Promise<void>;
}

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const now = o.now ?? Date.now;
  const { logger } = o;
  const openDataDir = ensurePrivateDir(o.dataDir);
  if (openDataDir) logger.warn(openDataDir);
  if (Boolean(o.tlsCert) !== Boolean(o.tlsKey)) throw new Error("--tls-cert and --tls-key go together");
  const dnsConfig = dnsOracleConfig(o, now());
  // Held until stop(); a failed start leaves it to this process, whose exit makes it stale.
  const lock = acquireDataLock(o.dataDir);
  const store = await openStore({
    dataDir: o.dataDir,
    quickCheck: true,
    database: o.database,
    postgres: {
      ...(o.databasePoolSize ? { poolSize: o.databasePoolSize } : {}),
      ...(o.databaseStatementTimeout ? { statementTimeoutMs: o.databaseStatementTimeout } : {}),
      log: {
        info: (message, fields) => logger.info(message, fields ?? {}),
        warn: (message, fields) => logger.warn(message, fields ?? {}),
      },
    },
  });
  const storage = new StorageHealth({ logger, now, database: join(o.dataDir, DATABASE_FILE) });
  await rememberPublicUrl(store, o.publicUrl, o.publicUrlGuessed ?? false);
  // replicas share one key: the database knows which, and refuses a replica with another
  const keyring =
    store.engine === "postgres"
      ? await loadSharedKeyring(store.meta, o.dataDir, Bun.env, o.serverKeyFile).catch(async (e) => {
          await store.close();
          throw e;
        })
      : loadKeyring(o.dataDir, Bun.env, o.serverKeyFile);
  const geo = o.geo ?? (await loadGeo({ overridesFile: o.geoOverrides }));
  const broker = new Broker(store.changes);
  const trusted = parseTrustedProxies(o.trustedProxy ?? []);
  if ("error" in trusted) throw new Error(`--trusted-proxy: ${trusted.error}`);
  const startedAt = now();

  const notifyDefaults = resolveOptions(notifySpecs, { argv: [], env: {} }).options;
  const notifyOptions = Object.fromEntries(
    Object.keys(notifySpecs).map((k) => [
      k,
      o[k as keyof NotifyOptions] ?? notifyDefaults[k as keyof NotifyOptions],
    ]),
  ) as NotifyOptions;
  const notifications = createNotifications({
    store,
    broker,
    now,
    logger,
    options: { ...notifyOptions, publicUrl: o.publicUrl },
    keyring,
  });
  // every replica routes alerts (the notifier runs in the report's transaction), so every one
  // knows the dashboard's channels
  await notifications.load();

  let monitor: ClientMonitor | undefined;
  const home = new HomeIdentityService(
    {
      addresses: o.homeIp ?? [],
      asns: o.homeAsn ?? [],
      learn: o.homeLearn ?? true,
      ip4Providers: o.ip4Provider ?? DEFAULT_IPV4_PROVIDERS,
      ip6Providers: o.ip6Provider ?? DEFAULT_IPV6_PROVIDERS,
      refreshMs: o.homeRefresh ?? 600_000,
      timeoutMs: 5000,
    },
    { store, geo, now, logger },
    {
      onChange: (before, after) => {
        monitor
          ?.recordServerEvent({
            kind: "home.changed",
            from: before ? [before.ipv4, before.ipv6].filter(Boolean).join(", ") : null,
            to: [after.ipv4, after.ipv6].filter(Boolean).join(", "),
            evidence: { reason: "The home network's public address changed.", before, after },
            at: after.at,
            // the first learning is not news
            suppressed: before === null,
          })
          .catch((e) => logger.error(`home.changed not recorded: ${(e as Error).message}`));
        // every client is judged against the new home now, not at its next report
        void monitor?.rejudgeStale();
      },
      // the notifier stores the uplink event itself and holds back the offline alerts it explains
      onUplink: (up, at) =>
        void notifications.notifier
          .uplinkChanged({ down: !up, at })
          .catch((e) => logger.error(`uplink change not recorded: ${(e as Error).message}`)),
    },
  );
  await home.load();
  const clientCache = new ClientCache(broker);
  monitor = new ClientMonitor({
    store,
    ...(o.retention ? { retentionMs: o.retention } : {}),
    cache: clientCache,
    now,
    logger,
    geo,
    broker,
    home: () => home.current(),
    onEvents: async (tx, events, client) => {
      await notifications.notifier.enqueue(tx, events, { now: now(), client });
    },
    defaults: {
      dnsAllowAsns: o.dnsAllowAsn ?? [...DEFAULT_DNS_ALLOW_ASNS],
      graceS: Math.round((o.grace ?? 60_000) / 1000),
    },
    heartbeatsWriteBehind: store.engine === "sqlite",
    anomalyAlerts: o.notifyAnomalies ?? false,
  });
  const monitorRef = monitor;

  // The time-driven work runs in the process that leads (always, on SQLite).
  const leading = new ServiceList(logger).add(
    {
      name: "monitor",
      start: () =>
        monitorRef.start(now(), { restarted: store.engine === "sqlite", downtimeToleranceMs: 30_000 }),
      stop: () => monitorRef.stop(),
    },
    periodic(
      "sweeper",
      o.sweepIntervalMs ?? 500,
      async () => {
        try {
          await monitorRef.sweep();
        } catch (e) {
          // a storage error is logged once a minute, not every pass
          if (storage.failed("sweeper pass failed (no late or offline alerts meanwhile)", e) === null)
            throw e;
        }
      },
      logger,
    ),
    { name: "home identity", start: () => home.start(), stop: () => home.stop() },
    { name: "notifications", start: () => notifications.start(), stop: () => notifications.stop() },
    historyService({
      store,
      monitor,
      channels: notifications.directory,
      now,
      logger,
      broker,
      reportSchedule: o.reportSchedule ?? [],
      timeZone: notifyOptions.notifyTimezone,
      notifyAnomalies: o.notifyAnomalies ?? false,
      retentionMs: o.retention ?? 0,
      ...(o.historyEveryMs ? { everyMs: o.historyEveryMs } : {}),
    }),
  );
  const everywhere = new ServiceList(logger);
  // The DNS oracle answers on every replica; the sightings it records meet their report in the store.
  let dnsOracle: DnsOracle | undefined;
  let listener: DnsListener | undefined;
  if (dnsConfig) {
    const labels = new OracleLabels(keyring.derive("dns oracle labels"));
    dnsOracle = new DnsOracle(dnsConfig.zone.zone, labels);
    const commit = reportCommit(store);
    everywhere.add({
      name: "DNS oracle",
      start: async () => {
        listener = await startDnsListener(dnsConfig.listen, {
          zone: dnsConfig.zone,
          labels,
          record: (sighting, expiresAt) => commit((tx) => tx.oracle.record(sighting, expiresAt)),
          now,
          logger,
        }).catch((e: Error & { code?: string }) => {
          const where = hostPort(dnsConfig.listen.hostname, dnsConfig.listen.port);
          const hint =
            e.code === "EACCES"
              ? ": ports below 1024 need root or CAP_NET_BIND_SERVICE (docs/operations.md, DNS leak oracle)"
              : "";
          throw new Error(`--dns-listen ${where}: ${e.message}${hint}`);
        });
        logger.info(
          `DNS oracle for ${dnsConfig.zone.zone} listening on ${hostPort(listener.host, listener.port)} (UDP and TCP)`,
        );
      },
      stop: async () => listener?.stop(),
    });
    leading.add(periodic("DNS oracle pruning", 60_000, () => store.oracle.prune(now()), logger));
  }
  // the other replicas judge reports against the home identity the leader learns
  if (store.engine !== "sqlite")
    everywhere.add(periodic("home identity reload", 5_000, () => home.load(), logger));
  await everywhere.start();
  const metrics = new ServerMetrics({ store, broker, now });
  let leadershipChange = Promise.resolve();
  await store.leadership.start((lead) => {
    metrics.leadershipChanged(lead);
    logger.info(lead ? "this replica leads: the time-driven work runs here" : "this replica follows");
    leadershipChange = leadershipChange.then(() => (lead ? leading.start() : leading.stop()));
  });
  await leadershipChange;
  if (store.leadership.isLeader()) await notifications.notifier.serverStarted(startedAt);

  let server: ReturnType<typeof Bun.serve> | undefined;
  const peerOf = (request: Request) => server?.requestIP(receivedRequest(request))?.address ?? null;
  const sourceIpOf = (request: Request) => clientAddress(request.headers, peerOf(request), trusted.ranges);
  await ensureSetupToken(store, logger, o.publicUrl);
  // decided at start where it can be: reading request.url builds a string per request
  const servedOverHttps = o.publicUrl.startsWith("https:") || Boolean(o.tlsCert);
  const isHttps = (request: Request) =>
    servedOverHttps ||
    (trusted.ranges.length > 0 && isHttpsRequest(request, peerOf(request), trusted.ranges));
  const channels = channelStatusProvider({ notifications, store, keyring, broker, now });
  const appDeps = {
    metrics: { metrics, token: o.metricsToken },
    web: {
      publicUrl: o.publicUrl,
      isHttps,
      channels,
    },
    store,
    keyring,
    logger,
    now,
    startedAt,
    broker,
    clientCache,
    warnings: async () => [
      ...[homeWarning(home.current())].filter((w) => w !== null),
      ...channelWarnings(await channels.list(), now()),
    ],
    telegramWebhook: () => notifications.webhook(),
    storage,
    monitor,
    acceptReport: (r: AcceptedReport, tx) => monitorRef.acceptReport(r, tx),
    ...(dnsOracle ? { dnsOracle } : {}),
    sourceIpOf,
    limits: { reportsPerClientPerS: o.reportRate ?? 1 },
    ...(o.legacyApiKey
      ? { legacy: { apiKey: o.legacyApiKey, intervalS: Math.round((o.legacyInterval ?? 300_000) / 1000) } }
      : {}),
  } satisfies AppDeps;
  const reports = createReportRoute(appDeps);
  const keepalive = createKeepaliveRoute(appDeps);
  const app = createApp({ ...appDeps, reports, ...(keepalive ? { keepalive } : {}) });
  // The hot paths go straight to their handlers; every other request (and other methods on
  // these paths) goes through the app.
  const hotPaths: [string, PlainRoute][] = [[REPORTS_PATH, reports]];
  if (keepalive) hotPaths.push([KEEPALIVE_PATH, keepalive]);
  server = Bun.serve({
    hostname: o.listen.hostname,
    port: o.listen.port,
    // Every response passes the envelope (security headers, our 413, a JSON 500); the hot
    // routes read their bodies with their own, smaller limits.
    routes: Object.fromEntries(
      hotPaths.map(([path, route]) => [
        path,
        {
          POST: instrumentFetch(envelope(route, { logger, isHttps, bufferChunked: false }), {
            logger,
            metrics,
            path,
          }),
        },
      ]),
    ),
    fetch: instrumentFetch(
      envelope((req) => app.handle(req), { logger, isHttps, bufferChunked: true }),
      { logger, metrics },
    ),
    maxRequestBodySize: BUN_BODY_CEILING,
    ...(o.tlsCert && o.tlsKey ? { tls: { cert: Bun.file(o.tlsCert), key: Bun.file(o.tlsKey) } } : {}),
  });
  const url = `${o.tlsCert ? "https" : "http"}://${hostPort(o.listen.hostname, server.port ?? o.listen.port)}`;
  logger.info(`listening on ${url} (data in ${o.dataDir}); clients enroll against ${o.publicUrl}`);

  return {
    url,
    port: server.port as number,
    monitor,
    home,
    broker,
    notifications,
    dns: listener ? { host: listener.host, port: listener.port } : null,
    healthy: async () => (await store.readiness()).ok,
    async stop() {
      // The leader's services stop while the requests in flight drain: the notifications are
      // bounded (about 2 s with a dead Bot API), and rows queued meanwhile wait in the outbox
      // for the next start.
      const stoppingServices = leadershipChange.then(() => leading.stop());
      // Stop accepting, let requests in flight finish (their writes commit), then close.
      const closed = server?.stop();
      await store.sqlite?.groupCommit.flush();
      await Promise.race([closed, Bun.sleep(2000)]);
      await server?.stop(true);
      await store.sqlite?.groupCommit.flush();
      await stoppingServices;
      await monitorRef.stop(); // last: it writes the heartbeats of the requests above
      await everywhere.stop();
      await store.leadership.stop();
      notifications.close();
      metrics.close();
      broker.close();
      await store.close();
      lock.release();
    },
  };
}
