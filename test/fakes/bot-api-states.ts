/**
 * A Bot API in the states a real one can be in when the server stops: answering (long polls
 * held for their full timeout, like Telegram), refusing connections (nothing listens),
 * black-holed (accepts the TCP connection, never answers), or, after answering getMe, 429 to
 * everything else or slow (answers after 30 s), so the bot is polling when it must stop.
 * Real local sockets on 127.0.0.1; counts what it was asked.
 */
import { FAKE_BOT_INFO } from "./telegram.ts";

export type BotApiState = "answering" | "refusing" | "black-holed" | "429" | "slow";
export const BOT_API_STATES: readonly BotApiState[] = ["answering", "refusing", "black-holed", "429", "slow"];

export interface BotApiInState {
  url: string;
  /** requests (HTTP states) or TCP connections (black-holed) seen so far, by method */
  seen(method?: string): number;
  stop(): Promise<void>;
}

export async function startBotApi(state: BotApiState): Promise<BotApiInState> {
  const seen: string[] = [];
  const count = (method?: string) =>
    method === undefined ? seen.length : seen.filter((m) => m === method).length;
  if (state === "refusing") {
    // a port that was just free: connections are refused
    const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = probe.port;
    probe.stop(true);
    return { url: `http://127.0.0.1:${port}`, seen: count, stop: async () => {} };
  }
  if (state === "black-holed") {
    const sockets = new Set<{ end(): void }>();
    const listener = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open(socket) {
          sockets.add(socket);
          seen.push("connection");
        },
        data() {},
        close(socket) {
          sockets.delete(socket);
        },
      },
    });
    return {
      url: `http://127.0.0.1:${listener.port}`,
      seen: count,
      async stop() {
        for (const s of sockets) s.end();
        listener.stop(true);
      },
    };
  }
  const pending = new Set<() => void>();
  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        pending.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      pending.add(done);
    });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const method = /\/bot[^/]+\/(\w+)$/.exec(new URL(req.url).pathname)?.[1] ?? "?";
      seen.push(method);
      const params = (await req.json().catch(() => ({}))) as { timeout?: number };
      if (method === "getMe") return Response.json({ ok: true, result: FAKE_BOT_INFO });
      if (state === "429")
        return Response.json(
          {
            ok: false,
            error_code: 429,
            description: "Too Many Requests: retry after 30",
            parameters: { retry_after: 30 },
          },
          { status: 429 },
        );
      if (state === "slow") await wait(30_000);
      if (method === "getUpdates") {
        if (state === "answering") await wait((params.timeout ?? 0) * 1000);
        return Response.json({ ok: true, result: [] });
      }
      if (method === "sendMessage")
        return Response.json({
          ok: true,
          result: { message_id: seen.length, date: Math.floor(Date.now() / 1000), chat: { id: 1 }, text: "" },
        });
      return Response.json({ ok: true, result: true });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    seen: count,
    async stop() {
      for (const done of [...pending]) done();
      await server.stop(true);
    },
  };
}
