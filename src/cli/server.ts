/** `sentinel server`: the judging, alerting, dashboard half. Runs outside the VPN. */
import { constants } from "node:fs";
import { defineCommand } from "citty";
import { cittyArgs, OptionError, type OptionSpecs } from "../config/options.ts";
import { probeSpecs } from "../probe/options.ts";
import { dnsOracleSpecs } from "../server/dns/options.ts";
import { parseCidr } from "../server/monitor/cidr.ts";
import { DEFAULT_DNS_ALLOW_ASNS } from "../server/monitor/evaluate.ts";
import { notifySpecs } from "../server/notify/options.ts";
import { reportSpecs } from "../server/reports/options.ts";
import { commonSpecs, createLogger, loadOptions, secretValues } from "./common.ts";
import { checkServerDataDir } from "./data-dir.ts";
import { geoSpecs } from "./geo.ts";
import { requireAccess } from "./permissions.ts";
import {
  checkListen,
  databaseTuningSpecs,
  dataDirSpecs,
  defaultPublicUrl,
  parseListen,
  publicUrlSpecs,
} from "./server-options.ts";

const cidrList = (v: string[]) => {
  const bad = v.find((e) => parseCidr(e.includes("/") ? e : `${e}/${e.includes(":") ? 128 : 32}`) === null);
  return bad === undefined ? undefined : `${JSON.stringify(bad)} is not an IP address or CIDR range`;
};

export const serverSpecs = {
  listen: {
    kind: "string",
    description: "Address and port to listen on (host:port, [v6]:port or :port)",
    default: "0.0.0.0:8088",
    valueHint: "HOST:PORT",
    check: checkListen,
  },
  ...dataDirSpecs,
  ...databaseTuningSpecs,
  ...publicUrlSpecs,
  homeIp: {
    kind: "list",
    description: "A home public address or CIDR (repeatable); reports exiting here are a bypass",
    valueHint: "IP|CIDR",
    check: cidrList,
  },
  homeAsn: {
    kind: "int-list",
    description: "The home ISP's AS number (repeatable); exits or resolvers in it leak",
    valueHint: "N",
  },
  homeLearn: {
    kind: "boolean",
    description: "Learn the home address by asking the IP providers (false: use only --home-ip/--home-asn)",
    default: true,
  },
  homeRefresh: {
    kind: "duration",
    description: "How often the home address is learned again",
    default: "10m",
    check: (v: number) =>
      v >= 60_000 ? undefined : "must be at least 1m (the IP providers would be flooded)",
  },
  ip4Provider: {
    ...probeSpecs.ip4Provider,
    description: "IPv4 echo provider the server learns its home address from (repeatable)",
  },
  ip6Provider: {
    ...probeSpecs.ip6Provider,
    description: "IPv6 echo provider the server learns its home address from (repeatable)",
  },
  dnsAllowAsn: {
    kind: "int-list",
    description: "AS numbers of resolvers that are fine to use (public resolvers; replaces the default list)",
    default: [...DEFAULT_DNS_ALLOW_ASNS],
    valueHint: "N",
  },
  ...dnsOracleSpecs,
  grace: {
    kind: "duration",
    description: "Silence tolerated beyond a client's interval before it is offline",
    default: "60s",
    check: (v: number) => (v >= 1000 ? undefined : "must be at least 1s"),
  },
  ...geoSpecs,
  trustedProxy: {
    kind: "list",
    description: "Reverse proxy address or CIDR whose X-Forwarded-For is believed (repeatable)",
    valueHint: "IP|CIDR",
    check: cidrList,
  },
  legacyApiKey: {
    kind: "string",
    secret: true,
    description:
      "Accept the predecessor's Python clients at POST /api/v1/keepalive with this X-API-Key; it only touches the clients it created (off unless set)",
  },
  legacyInterval: {
    kind: "duration",
    description: "Keepalive interval assumed for legacy clients",
    default: "5m",
    check: (v: number) => (v >= 1000 && v <= 86_400_000 ? undefined : "must be between 1s and 24h"),
  },
  ...notifySpecs,
  ...reportSpecs,
  reportRate: {
    kind: "int",
    description: "Reports accepted per client per second (sustained; bursts of 30 are fine); beyond it 429",
    default: 1,
    check: (v: number) => (v >= 1 ? undefined : "must be at least 1"),
  },
  retention: {
    kind: "duration",
    description:
      "Keep history and events this long, then prune them; 0 keeps everything. Daily rollups (summaries, reports) are kept at least 93 days",
    default: "180d",
    check: (v: number) => (v === 0 || v >= 86_400_000 ? undefined : "must be 0 or at least 1d"),
  },
  metricsToken: {
    kind: "string",
    secret: true,
    description: "Require Authorization: Bearer <token> on GET /metrics (open unless set)",
  },
  tlsCert: {
    kind: "string",
    description: "PEM certificate chain: serve HTTPS directly (with --tls-key)",
    valueHint: "FILE",
  },
  tlsKey: { kind: "string", description: "PEM private key for --tls-cert", valueHint: "FILE" },
  ...commonSpecs,
} satisfies OptionSpecs;

/** SIGTERM to exit, at most: a stop takes ~2 s (docs/operations.md), systemd waits 15 s */
const STOP_DEADLINE_MS = 4_500;

/** A read-only data dir (a read-only mount, ReadOnlyPaths=) as one line that says what to do. */
function readOnlyDataDir(e: unknown, dataDir: string): Error | null {
  const code = (e as { code?: unknown })?.code;
  if (code !== "EROFS" && !(typeof code === "string" && code.startsWith("SQLITE_READONLY"))) return null;
  return Object.assign(
    new Error(
      `the data directory ${dataDir} is read-only (${(e as Error).message}): the server keeps its database and lock file there; remount it read-write, or give --data-dir a writable directory`,
    ),
    { exitCode: 1 },
  );
}

export type ServerCliOptions = ReturnType<typeof loadOptions<typeof serverSpecs>>["options"];

export default defineCommand({
  meta: {
    name: "server",
    description: "Run the server: judge reports, notice silence, alert, serve the dashboard and API",
  },
  args: cittyArgs(serverSpecs),
  async run({ rawArgs }) {
    const { options, positionals } = loadOptions(serverSpecs, rawArgs, "server");
    if (positionals.length) throw new OptionError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const logger = createLogger(options, secretValues(serverSpecs, options));
    checkServerDataDir(options.dataDir);
    for (const pem of [options.tlsCert, options.tlsKey]) if (pem) requireAccess(pem, constants.R_OK, "read");
    const [{ startServer }, sd] = await Promise.all([
      import("../server/main.ts"),
      import("../system/sdnotify.ts"),
    ]);
    const listen = parseListen(options.listen) as { hostname: string; port: number };
    const running = await startServer({
      ...options,
      listen,
      publicUrl: options.publicUrl ?? defaultPublicUrl(listen.port),
      publicUrlGuessed: options.publicUrl === undefined,
      logger,
    }).catch((e: unknown) => {
      throw readOnlyDataDir(e, options.dataDir) ?? e;
    });
    sd.notifyReady(`listening on ${running.url}`);
    const stopWatchdog = sd.startWatchdog({ healthy: () => running.healthy() });
    const code = await new Promise<number>((resolve) => {
      const stop = async (signal: string) => {
        logger.info(`${signal} received; shutting down`);
        sd.notifyStopping();
        stopWatchdog();
        // Every part of stop() is bounded; this is the last resort if one is not.
        const deadline = setTimeout(() => {
          logger.error(`shutdown did not finish within ${STOP_DEADLINE_MS / 1000} s; exiting without it`);
          resolve(1);
        }, STOP_DEADLINE_MS);
        try {
          await running.stop();
          logger.info("stopped");
          resolve(0);
        } catch (e) {
          logger.error(`shutdown failed: ${(e as Error).message}`);
          resolve(1);
        } finally {
          clearTimeout(deadline);
        }
      };
      process.once("SIGTERM", () => void stop("SIGTERM"));
      process.once("SIGINT", () => void stop("SIGINT"));
    });
    // The data is closed; a retry timer inside a library (grammy sleeps up to a 429's
    // retry_after) or a request a channel does not abort must not keep the process alive.
    process.exit(code);
  },
});
