/**
 * The lab's Internet services, each run as its own process inside the `internet` namespace:
 *
 *   bun test/lab/services.ts echo HOST...            IP echo on port 80 and 8080 ("what is my address?")
 *   bun test/lab/services.ts dns HOST                authoritative "who is asking" DNS on port 53
 *   bun test/lab/services.ts telegram HOST LOGFILE   fake Telegram Bot API on port 80, one JSON line per sendMessage
 *   bun test/lab/services.ts ntfy HOST LOGFILE       fake ntfy on port 80 (checks the JSON publish), one line per message
 *   bun test/lab/services.ts webhook HOST SECRET LOGFILE   Standard Webhooks receiver on port 80 (verifies
 *                                                    every signature with the reference library), one line per event
 *   bun test/lab/services.ts mqtt-record URL LOGFILE  subscribes to everything on the lab's Mosquitto, one line per message
 */
import { appendFileSync } from "node:fs";
import mqtt from "mqtt";
import { type DnsHandler, startFakeDns } from "../fakes/dns.ts";
import { fakeNtfy, fakeWebhookReceiver, type Recorded } from "../fakes/notify-services.ts";

const [mode, ...rest] = process.argv.slice(2);

/** Answers every probe name with the address that asked: the resolver's egress. */
const whoIsAsking: DnsHandler = (q) => {
  const v4 = /^\d+\.\d+\.\d+\.\d+$/.test(q.from);
  if (q.type === "A") return v4 ? [q.from] : [];
  if (q.type === "AAAA") return v4 ? [] : [q.from];
  if (q.type === "TXT") return [q.from];
  return [];
};

function echo(hosts: string[]) {
  for (const hostname of hosts)
    for (const port of [80, 8080])
      Bun.serve({
        hostname,
        port,
        fetch: (req, server) =>
          new Response(`${server.requestIP(req)?.address ?? ""}\n`, {
            headers: { "content-type": "text/plain" },
          }),
      });
}

function telegram(hostname: string, logFile: string) {
  let messageId = 1;
  const ok = (result: unknown) => Response.json({ ok: true, result });
  Bun.serve({
    hostname,
    port: 80,
    async fetch(req) {
      const m = /^\/bot([^/]+)\/(\w+)$/.exec(new URL(req.url).pathname);
      if (!m) return Response.json({ ok: false, error_code: 404, description: "Not Found" }, { status: 404 });
      const method = m[2] as string;
      const text = await req.text();
      const params = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
      if (method === "getMe")
        return ok({ id: 4242, is_bot: true, first_name: "Sentinel", username: "sentinel_lab_bot" });
      if (method === "getUpdates") {
        await Bun.sleep(Math.min(1000, Number(params.timeout ?? 0) * 1000));
        return ok([]);
      }
      if (method !== "sendMessage") return ok(true);
      appendFileSync(
        logFile,
        `${JSON.stringify({ at: Date.now(), chat_id: params.chat_id, text: params.text })}\n`,
      );
      return ok({
        message_id: messageId++,
        date: Math.floor(Date.now() / 1000),
        chat: { id: Number(params.chat_id), type: "private" },
        text: params.text,
      });
    },
  });
}

/** Appends what a fake accepted (2xx) to `logFile`, as `line` makes it. */
function logAccepted(logFile: string, line: (r: Recorded) => Record<string, unknown>) {
  return (r: Recorded) => {
    if (r.status >= 200 && r.status < 300)
      appendFileSync(logFile, `${JSON.stringify({ at: r.at, ...line(r) })}\n`);
  };
}

function ntfy(hostname: string, logFile: string) {
  fakeNtfy({ listen: { hostname, port: 80 } }).onRecord = logAccepted(logFile, (r) => {
    const b = r.body as { topic: string; title?: string; message?: string };
    return { topic: b.topic, title: b.title, message: b.message };
  });
}

function webhook(hostname: string, secret: string, logFile: string) {
  fakeWebhookReceiver(secret, { hostname, port: 80 }).onRecord = logAccepted(logFile, (r) => {
    const b = r.body as { type: string; data: { client?: { name: string } | null; title?: string } };
    return {
      id: r.headers.get("webhook-id"),
      type: b.type,
      client: b.data.client?.name ?? null,
      title: b.data.title,
    };
  });
}

async function mqttRecord(url: string, logFile: string) {
  const client = await mqtt.connectAsync(url, { clientId: "lab-recorder", reconnectPeriod: 500 });
  client.on("message", (topic, payload, packet) =>
    appendFileSync(
      logFile,
      `${JSON.stringify({ at: Date.now(), topic, payload: payload.toString(), retain: packet.retain })}\n`,
    ),
  );
  await client.subscribeAsync("#", { qos: 1 });
}

if (mode === "echo") echo(rest);
else if (mode === "dns") await startFakeDns({ host: rest[0] ?? "127.0.0.1", port: 53, handler: whoIsAsking });
else if (mode === "telegram") telegram(rest[0] ?? "127.0.0.1", rest[1] ?? "/dev/null");
else if (mode === "ntfy") ntfy(rest[0] ?? "127.0.0.1", rest[1] ?? "/dev/null");
else if (mode === "webhook") webhook(rest[0] ?? "127.0.0.1", rest[1] ?? "", rest[2] ?? "/dev/null");
else if (mode === "mqtt-record") await mqttRecord(rest[0] ?? "mqtt://127.0.0.1", rest[1] ?? "/dev/null");
else {
  console.error(
    "usage: services.ts echo HOST... | dns HOST | telegram HOST LOGFILE | ntfy HOST LOGFILE | webhook HOST SECRET LOGFILE | mqtt-record URL LOGFILE",
  );
  process.exit(2);
}
console.log(`${mode} ready`);
