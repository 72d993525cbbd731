/**
 * Wires the real server together: store, keyring, monitor, HTTP. Used by `sentinel server`
 * and by integration tests (which start it on port 0 with a temp data dir).
 */
import { mkdirSync } from "node:fs";
import type { Logger } from "../cli/common.ts";
import { createApp } from "./app.ts";
import { loadKeyring } from "./auth/keyring.ts";
import { ClientMonitor } from "./monitor/service.ts";
import { openStore } from "./store/index.ts";

export interface ServerOptions {
  listen: { hostname: string; port: number };
  dataDir: string;
  publicUrl: string;
  reportRate?: number;
  logger: Logger;
  now?: () => number;
}

export interface RunningServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** IPv4-mapped IPv6 ("::ffff:192.0.2.1") is shown and compared as plain IPv4. */
export const normaliseAddress = (ip: string) => (ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip);

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const now = o.now ?? Date.now;
  mkdirSync(o.dataDir, { recursive: true, mode: 0o750 });
  const store = openStore(o.dataDir);
  const keyring = loadKeyring(o.dataDir);
  const startedAt = now();
  const monitor = new ClientMonitor({ store, now, logger: o.logger });
  monitor.start(startedAt);

  let server: ReturnType<typeof Bun.serve> | undefined;
  const app = createApp({
    store,
    keyring,
    logger: o.logger,
    now,
    startedAt,
    acceptReport: (r) => monitor.acceptReport(r),
    sourceIpOf: (request) => {
      const addr = server?.requestIP(request)?.address;
      return addr ? normaliseAddress(addr) : null;
    },
    limits: { reportsPerClientPerS: o.reportRate ?? 1 },
  });
  server = Bun.serve({ hostname: o.listen.hostname, port: o.listen.port, fetch: (req) => app.handle(req), maxRequestBodySize: 1 << 20 });
  const url = `http://${o.listen.hostname.includes(":") ? `[${o.listen.hostname}]` : o.listen.hostname}:${server.port}`;
  o.logger.info(`listening on ${url} (data in ${o.dataDir}); clients enroll against ${o.publicUrl}`);

  return {
    url,
    port: server.port as number,
    async stop() {
      monitor.stop();
      await server?.stop();
      store.close();
    },
  };
}
