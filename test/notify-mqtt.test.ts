/**
 * The MQTT channel against a real Mosquitto broker started by the test: Home Assistant
 * discovery retained, state changes, events through the channel, removal, refused credentials,
 * and the last will when the server process dies (SIGKILL).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type {
  ClientStateSource,
  ClientStateView,
  MqttChannel,
} from "../src/server/notify/channels/mqtt/channel.ts";
import { type Broker, recorder, startMosquitto } from "./fakes/mosquitto.ts";
import { deliver, sample, urlChannel } from "./helpers/notify.ts";
import { tempDir } from "./helpers/server.ts";

const dir = tempDir();
const AUTH = { username: "sentinel", password: "s3cret pass" };
const HA = { username: "ha", password: "ha-pass" };
let broker: Broker;

beforeAll(async () => {
  broker = await startMosquitto(dir.path, { [AUTH.username]: AUTH.password, [HA.username]: HA.password });
});
afterAll(async () => {
  await broker.stop();
  dir.remove();
});

/** An in-memory client list standing in for the store, with change notifications. */
function states(initial: ClientStateView[]) {
  const clients = new Map(initial.map((c) => [c.id, c]));
  const listeners = new Set<(id: string) => void>();
  const source: ClientStateSource = {
    list: async () => [...clients.values()],
    get: async (id) => clients.get(id) ?? null,
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
  return {
    source,
    set(c: ClientStateView) {
      clients.set(c.id, c);
      for (const l of listeners) l(c.id);
    },
    remove(id: string) {
      clients.delete(id);
      for (const l of listeners) l(id);
    },
  };
}

const laptop: ClientStateView = {
  id: "c-1",
  name: "Laptop",
  status: "green",
  liveness: "online",
  reason: "All good.",
  exit: { ip: "203.0.113.7", country: "NL", asn: 64500, org: "Example VPN" },
  lastReportAt: Date.UTC(2026, 10, 18, 12, 0),
};
const url = (path = "home/vpn") =>
  `mqtt://${AUTH.username}:${encodeURIComponent(AUTH.password)}@127.0.0.1:${broker.port}/${path}`;

test("discovery configs and state are retained; changes, events and removals are published", {
  timeout: 20_000,
}, async () => {
  const s = states([laptop, { ...laptop, id: "c-2", name: "NAS", status: "unknown", exit: null }]);
  const channel = urlChannel(url(), { states: s.source }) as MqttChannel;
  expect(channel.name).toBe(`mqtt://sentinel:***@127.0.0.1:${broker.port}/home/vpn`);
  await channel.start();
  const first = await recorder(broker.url, HA);
  await first.waitFor(() => first.last("home/vpn/clients/c-2/state") !== undefined);
  await first.close();
  // Home Assistant connecting later gets everything, retained
  const late = await recorder(broker.url, HA);
  const config = "homeassistant/binary_sensor/vpn_sentinel_c-1/protected/config";
  await late.waitFor(() => late.messages.length >= 1 + 2 * 5);
  expect(late.messages.every((m) => m.retain)).toBe(true);
  const rec = late;
  expect(rec.last("home/vpn/status")).toMatchObject({ payload: "online", retain: true });
  const protectedConfig = JSON.parse(rec.last(config)?.payload as string);
  expect(protectedConfig).toMatchObject({
    name: "VPN protected",
    device_class: "safety",
    state_topic: "home/vpn/clients/c-1/state",
    availability_topic: "home/vpn/status",
    unique_id: "vpn_sentinel_c-1_protected",
    device: {
      identifiers: ["vpn_sentinel_c-1"],
      name: "Laptop",
      configuration_url: "https://sentinel.example/x_y/clients/c-1",
    },
  });
  for (const object of ["status", "exit_country", "exit_as"])
    expect(rec.last(`homeassistant/sensor/vpn_sentinel_c-1/${object}/config`)?.retain).toBe(true);
  expect(JSON.parse(rec.last("home/vpn/clients/c-1/state")?.payload as string)).toMatchObject({
    status: "green",
    protected: true,
    exit_country: "NL",
    exit_asn: 64500,
  });
  // unknown is never protected
  expect(JSON.parse(rec.last("home/vpn/clients/c-2/state")?.payload as string)).toMatchObject({
    protected: false,
  });

  s.set({
    ...laptop,
    status: "red",
    reason: "Traffic bypasses the VPN.",
    exit: { ip: "198.51.100.1", country: "DE", asn: 3320, org: "Home ISP" },
  });
  await rec.waitFor(
    () => JSON.parse(rec.last("home/vpn/clients/c-1/state")?.payload ?? "{}").status === "red",
  );
  expect(JSON.parse(rec.last("home/vpn/clients/c-1/state")?.payload as string)).toMatchObject({
    protected: false,
    exit_country: "DE",
  });

  await deliver(channel, sample("bypass.started"));
  await rec.waitFor(() => rec.last("home/vpn/events") !== undefined);
  const event = rec.last("home/vpn/events") as { payload: string; retain: boolean };
  expect(event.retain).toBe(false);
  expect(JSON.parse(event.payload)).toMatchObject({
    type: "bypass.started",
    data: { severity: "red", client: { id: "c1" } },
  });

  s.remove("c-2");
  await rec.waitFor(
    () => rec.last("homeassistant/binary_sensor/vpn_sentinel_c-2/protected/config")?.payload === "",
  );
  await channel.stop();
  await rec.waitFor(() => rec.last("home/vpn/status")?.payload === "offline");
  await rec.close();
});

test("when the server dies without a goodbye, the broker publishes the last will: offline", {
  timeout: 20_000,
}, async () => {
  const rec = await recorder(broker.url, HA, "sentinel-kill/status");
  const root = `${import.meta.dir}/..`;
  const child = Bun.spawn(
    [
      process.execPath,
      "-e",
      `import { urlChannel } from "${root}/test/helpers/notify.ts";
       const c = urlChannel(${JSON.stringify(url("sentinel-kill"))});
       await c.start();
       console.log("started");
       await Bun.sleep(60_000);`,
    ],
    { cwd: root, stdout: "pipe", stderr: "inherit" },
  );
  await rec.waitFor(() => rec.last("sentinel-kill/status")?.payload === "online");
  child.kill("SIGKILL");
  await child.exited;
  await rec.waitFor(() => rec.last("sentinel-kill/status")?.payload === "offline");
  expect(rec.last("sentinel-kill/status")?.payload).toBe("offline");
  await rec.close();
});

test("a broker that refuses the credentials disables the channel instead of retrying", async () => {
  const channel = urlChannel(`mqtt://sentinel:wrong@127.0.0.1:${broker.port}/x`) as MqttChannel;
  await channel.start();
  const err = await deliver(channel, sample("client.offline")).catch((e) => e);
  expect(channel.classifyError(err)).toBe("disabled");
  expect(channel.describeError(err)).toContain("refused");
  expect(channel.describeError(err)).not.toContain("wrong");
  expect(channel.validateConfig()).toHaveLength(1);
  await channel.stop();
});
