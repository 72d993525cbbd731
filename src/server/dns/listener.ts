/**
 * The DNS oracle's listener: UDP and TCP on one address and port, rate-limited per source
 * address. A query for a label the server minted is recorded (who asked, over which transport,
 * with which EDNS client subnet) *before* it is answered, so the report the client sends once
 * it has its answer finds the sighting, on whichever replica that report lands.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "../../logger.ts";
import type { OracleSighting } from "../../protocol/report.ts";
import { RateLimiter } from "../auth/rate-limit.ts";
import { canonicalIp } from "../monitor/cidr.ts";
import type { OracleLabels } from "./labels.ts";
import { type Asked, respond, type ZoneConfig } from "./responder.ts";

/** A sighting waits this long for the report that carries its name. */
export const SIGHTING_TTL_MS = 10 * 60_000;
/** Recent sightings remembered to skip a resolver's retries (a bounded set, cleared when full). */
const RECENT_SIGHTINGS = 4096;
const TCP_IDLE_MS = 10_000;
const TCP_MAX_CONNECTIONS = 512;
/** Queries one TCP connection may have in flight before it is closed. */
const TCP_MAX_PENDING = 16;

export interface DnsRateLimit {
  /** queries per second and source address, sustained */
  perS: number;
  /** and at once */
  burst: number;
}

/** A resolver serving a thousand clients of this server asks about 70 times a second. */
export const DEFAULT_DNS_RATE_LIMIT: DnsRateLimit = { perS: 100, burst: 500 };

export interface DnsListenerDeps {
  zone: ZoneConfig;
  labels: Pick<OracleLabels, "check">;
  /** Stores a sighting; the answer waits for it. */
  record: (sighting: OracleSighting, expiresAt: number) => Promise<void>;
  now: () => number;
  logger: Pick<Logger, "info" | "warn" | "error" | "debug">;
  rateLimit?: DnsRateLimit;
}

export interface DnsListener {
  host: string;
  /** the same port for UDP and TCP */
  port: number;
  /** what happened to queries since the start (for tests, benchmarks and the log) */
  readonly counts: { answered: number; dropped: number; limited: number; recorded: number };
  stop(): Promise<void>;
}

export async function startDnsListener(
  listen: { hostname: string; port: number },
  deps: DnsListenerDeps,
): Promise<DnsListener> {
  const oracle = new Handler(deps);
  try {
    return await bindBoth(listen, oracle);
  } catch (e) {
    // "every address" on a machine without IPv6: IPv4 alone
    const code = (e as { code?: string }).code;
    if (listen.hostname !== "::" || (code !== "EAFNOSUPPORT" && code !== "EADDRNOTAVAIL")) throw e;
    return bindBoth({ ...listen, hostname: "0.0.0.0" }, oracle);
  }
}

async function bindBoth(listen: { hostname: string; port: number }, oracle: Handler): Promise<DnsListener> {
  // Port 0 (tests) picks a free UDP port, which TCP must then get too: retry when it is taken.
  for (let attempt = 0; ; attempt++) {
    const udp = await bindUdp(listen.hostname, listen.port);
    const port = udp.address().port;
    try {
      const tcp = await listenTcp(listen.hostname, port);
      return serve(listen.hostname, port, udp, tcp, oracle);
    } catch (e) {
      udp.close();
      if (listen.port !== 0 || attempt >= 10 || (e as { code?: string }).code !== "EADDRINUSE") throw e;
    }
  }
}

function serve(host: string, port: number, udp: UdpSocket, tcp: Server, oracle: Handler): DnsListener {
  udp.on("message", (packet, rinfo) => {
    void oracle.handle(packet, rinfo.address, "udp").then((reply) => {
      if (reply) udp.send(reply, rinfo.port, rinfo.address, () => {});
    });
  });
  udp.on("error", (e) => oracle.logger.warn(`DNS oracle UDP socket: ${e.message}`));
  const sockets = new Set<Socket>();
  tcp.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    tcpSession(socket, oracle);
  });
  tcp.on("error", (e) => oracle.logger.warn(`DNS oracle TCP listener: ${e.message}`));
  return {
    host,
    port,
    counts: oracle.counts,
    async stop() {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}

/** RFC 7766 framing: each message is preceded by its length (2 bytes); answered in order. */
function tcpSession(socket: Socket, oracle: Handler): void {
  const from = socket.remoteAddress ?? "";
  let buffered: Buffer = Buffer.alloc(0);
  let pending = 0;
  let queue = Promise.resolve();
  socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
  socket.on("error", () => socket.destroy());
  socket.on("data", (chunk: Buffer) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    while (buffered.length >= 2) {
      const length = buffered.readUInt16BE(0);
      if (buffered.length < 2 + length) break;
      const packet = buffered.subarray(2, 2 + length);
      buffered = buffered.subarray(2 + length);
      if (++pending > TCP_MAX_PENDING) {
        socket.destroy();
        return;
      }
      queue = queue.then(async () => {
        const reply = await oracle.handle(packet, from, "tcp");
        pending--;
        if (!reply) return;
        const frame = Buffer.alloc(2 + reply.length);
        frame.writeUInt16BE(reply.length, 0);
        reply.copy(frame, 2);
        if (!socket.destroyed) socket.write(frame);
      });
    }
  });
}

class Handler {
  readonly counts = { answered: 0, dropped: 0, limited: 0, recorded: 0 };
  readonly logger: DnsListenerDeps["logger"];
  private readonly limiter: RateLimiter;
  private readonly recent = new Set<string>();
  private lastRecordError = 0;

  constructor(private readonly deps: DnsListenerDeps) {
    const limit = deps.rateLimit ?? DEFAULT_DNS_RATE_LIMIT;
    this.limiter = new RateLimiter(limit.perS, limit.burst, deps.now);
    this.logger = deps.logger;
  }

  /** The reply to send, or null to send nothing. Never throws. */
  async handle(packet: Buffer, fromText: string, transport: "udp" | "tcp"): Promise<Buffer | null> {
    const from = canonicalIp(fromText) ?? fromText;
    if (this.limiter.take(from) > 0) {
      this.counts.limited++;
      return null;
    }
    let outcome: ReturnType<typeof respond>;
    try {
      outcome = respond(packet, this.deps.zone, { from, transport });
    } catch (e) {
      // respond() is built not to throw (the fuzz test holds it to that); if it ever does, drop
      this.counts.dropped++;
      this.logger.debug(`DNS oracle dropped a query from ${from}: ${(e as Error).message}`);
      return null;
    }
    if (outcome.asked) await this.remember(outcome.asked, from, transport);
    if (outcome.reply) this.counts.answered++;
    else this.counts.dropped++;
    return outcome.reply;
  }

  private async remember(asked: Asked, resolver: string, transport: "udp" | "tcp"): Promise<void> {
    const now = this.deps.now();
    if (this.deps.labels.check(asked.label, now) === null) return;
    // a resolver's retry of the same query adds nothing
    const key = `${asked.name} ${resolver} ${asked.qtype} ${transport} ${asked.clientSubnet ?? ""}`;
    if (this.recent.has(key)) return;
    if (this.recent.size >= RECENT_SIGHTINGS) this.recent.clear();
    this.recent.add(key);
    try {
      await this.deps.record(
        {
          name: asked.name,
          qtype: asked.qtype,
          resolver,
          transport,
          client_subnet: asked.clientSubnet,
          at: now,
        },
        now + SIGHTING_TTL_MS,
      );
      this.counts.recorded++;
    } catch (e) {
      // answer anyway: the report then shows no sighting (unknown, never green)
      if (now - this.lastRecordError > 60_000) {
        this.lastRecordError = now;
        this.logger.error(`DNS oracle: a sighting was not stored: ${(e as Error).message}`);
      }
    }
  }
}

function bindUdp(hostname: string, port: number): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: hostname.includes(":") ? "udp6" : "udp4", ipv6Only: false });
    socket.once("error", reject);
    socket.bind(port, hostname, () => {
      socket.off("error", reject);
      resolve(socket);
    });
  });
}

function listenTcp(hostname: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ pauseOnConnect: false });
    server.maxConnections = TCP_MAX_CONNECTIONS;
    server.once("error", reject);
    server.listen({ host: hostname, port, ipv6Only: false }, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}
