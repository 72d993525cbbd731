/**
 * A real Mosquitto broker for a test (Debian package `mosquitto`): started on a free loopback
 * port with a temp config and password file, stopped with the test. Plus a recording mqtt.js
 * subscriber.
 */
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";

export interface Broker {
  port: number;
  url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

export async function startMosquitto(dir: string, users: Record<string, string>): Promise<Broker> {
  const passwords = join(dir, "passwords");
  writeFileSync(passwords, "");
  for (const [user, pass] of Object.entries(users)) {
    const r = Bun.spawnSync(["mosquitto_passwd", "-b", passwords, user, pass], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`mosquitto_passwd: ${r.stderr}`);
  }
  const port = await freePort();
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous false",
      `password_file ${passwords}`,
      "persistence false",
      "log_dest stderr",
      "log_type error",
      "",
    ].join("\n"),
  );
  // started as root, mosquitto drops to its own user: it must be able to read these
  for (const [path, mode] of [
    [dir, 0o755],
    [passwords, 0o644],
    [conf, 0o644],
  ] as const)
    chmodSync(path, mode);
  const proc = Bun.spawn(["mosquitto", "-c", conf], { stdout: "ignore", stderr: "pipe" });
  const end = Date.now() + 5_000;
  for (;;) {
    try {
      const c = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      c.end();
      break;
    } catch {
      if (Date.now() > end || proc.exitCode !== null)
        throw new Error(`mosquitto did not start: ${await new Response(proc.stderr).text()}`);
      await Bun.sleep(20);
    }
  }
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    async stop() {
      proc.kill();
      await proc.exited;
    },
  };
}

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

/** Subscribes to `topic` and records every message (retained ones first, flagged). */
export async function recorder(url: string, auth: { username: string; password: string }, topic = "#") {
  const client: MqttClient = await mqtt.connectAsync(url, {
    ...auth,
    clientId: `rec-${crypto.randomUUID().slice(0, 6)}`,
  });
  const messages: Received[] = [];
  client.on("message", (t, p, packet) =>
    messages.push({ topic: t, payload: p.toString(), retain: packet.retain }),
  );
  await client.subscribeAsync(topic, { qos: 1 });
  return {
    messages,
    last: (t: string) => messages.filter((m) => m.topic === t).at(-1),
    async waitFor(cond: () => boolean, ms = 5_000) {
      const stop = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > stop) throw new Error(`mqtt: condition not met within ${ms} ms`);
        await Bun.sleep(10);
      }
    },
    close: () => client.endAsync(),
  };
}
