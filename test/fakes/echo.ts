/**
 * Local fake IP-echo providers ("what is my address?") for tests, on 127.0.0.1 port 0.
 *
 *   const echo = startFakeEcho({ answer: "203.0.113.7" });              // plain text "203.0.113.7\n"
 *   const json = startFakeEcho({ answer: "203.0.113.7", format: "json", jsonKey: "address" });
 *   const busy = startFakeEcho({ status: 429, retryAfter: "120" });     // rate-limited
 *   ... --ip4-provider ${echo.url} ...
 *   echo.hits      // how many requests it got
 *   echo.answer = "198.51.100.9";   // change the answer between rounds (exit changed)
 *   echo.stop();
 *
 * `answer: "caller"` echoes the caller's address as the server saw it, like a real provider.
 */
import type { Server } from "bun";

export interface FakeEchoOptions {
  /** The address to answer, or "caller" for the requester's address. Default "caller". */
  answer?: string;
  format?: "plain" | "json";
  /** JSON key for the address (ipify: ip, ident.me: address, ip-api: query). Default "ip". */
  jsonKey?: string;
  /** Answer with this status instead of an address (e.g. 429, 503). */
  status?: number;
  /** Retry-After header value sent with a non-200 status. */
  retryAfter?: string;
  /** Delay before answering, to test timeouts. */
  delayMs?: number;
}

export interface FakeEcho extends Required<Pick<FakeEchoOptions, "answer" | "format" | "jsonKey">> {
  url: string;
  hits: number;
  status: number;
  retryAfter: string | undefined;
  delayMs: number;
  server: Server<undefined>;
  stop(): void;
}

export function startFakeEcho(opts: FakeEchoOptions = {}): FakeEcho {
  const echo = {
    answer: opts.answer ?? "caller",
    format: opts.format ?? "plain",
    jsonKey: opts.jsonKey ?? "ip",
    status: opts.status ?? 200,
    retryAfter: opts.retryAfter,
    delayMs: opts.delayMs ?? 0,
    hits: 0,
  } as FakeEcho;
  echo.server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req, server) {
      echo.hits++;
      if (echo.delayMs) await Bun.sleep(echo.delayMs);
      if (echo.status !== 200) {
        return new Response("slow down\n", {
          status: echo.status,
          headers: echo.retryAfter ? { "Retry-After": echo.retryAfter } : {},
        });
      }
      const ip = echo.answer === "caller" ? (server.requestIP(req)?.address ?? "") : echo.answer;
      return echo.format === "json"
        ? Response.json({ [echo.jsonKey]: ip, country: "ZZ" })
        : new Response(`${ip}\n`);
    },
  });
  echo.url = echo.server.url.href.replace(/\/$/, "");
  echo.stop = () => void echo.server.stop(true);
  return echo;
}

/**
 * An IP echo provider on loopback that drops every connection until it is given an `answer`: a
 * network failure, as when the server's own uplink is down (an HTTP error would make the prober
 * back the provider off, and a test would wait minutes for the next attempt).
 */
export function startDroppingEcho() {
  const echo = {
    answer: null as string | null,
    hits: 0,
    url: "",
    stop: () => listener.stop(true),
  };
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket) {
        echo.hits++;
        if (echo.answer !== null)
          socket.write(
            `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${echo.answer.length + 1}\r\nConnection: close\r\n\r\n${echo.answer}\n`,
          );
        socket.end();
      },
    },
  });
  echo.url = `http://127.0.0.1:${listener.port}/`;
  return echo;
}
