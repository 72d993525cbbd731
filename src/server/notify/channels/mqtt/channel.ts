/**
 * MQTT (mqtt.js), for Home Assistant and anything else on a broker:
 * - `<prefix>/status`: "online" while the server runs, "offline" as the last will when its
 *   connection dies (and on a clean stop); retained. Every entity below uses it for availability.
 * - `<prefix>/clients/<id>/state`: the client's current state as retained JSON (status,
 *   protected, liveness, reason, exit). Published for every client on each (re)connect and on
 *   every change the server sees, whatever the alert filters say: it is a state, not an alert.
 * - `<prefix>/events`: one JSON message (QoS 1, not retained) per notification, through the
 *   outbox like every channel (exactly once into the broker, filters apply).
 * - Home Assistant discovery under `homeassistant/` (?discovery=PREFIX to change, =off to skip),
 *   retained, per client one device with a binary_sensor "VPN protected" (device_class safety:
 *   on means unsafe) and sensors for status, exit country and exit AS. A removed client's
 *   entities are deleted (empty retained configs).
 *   mqtt://[user:pass@]host[:port][/prefix]    mqtts://… for TLS (default prefix vpn-sentinel)
 */
import type { IClientOptions, MqttClient } from "mqtt";
import type { Logger } from "../../../../cli/common.ts";
import type { ExitSummary } from "../../../store/index.ts";
import type { Channel, ErrorClass, PaceRule, SendResult } from "../../channel.ts";
import { type RouteCandidate, routeMatches } from "../../filter.ts";
import type { Notification } from "../../types.ts";
import type { UrlChannelContext } from "../http.ts";
import { webhookEvent } from "../webhook/channel.ts";
import type { MqttConfig } from "./config.ts";

/** What the channel needs to know about clients for their retained state. */
export interface ClientStateView {
  id: string;
  name: string;
  status: string;
  liveness: string;
  reason: string | null;
  exit: ExitSummary | null;
  lastReportAt: number | null;
}

export interface ClientStateSource {
  list(): Promise<ClientStateView[]>;
  get(id: string): Promise<ClientStateView | null>;
  /** calls back with a client id whenever that client's state, name or existence may have changed */
  subscribe(onChange: (clientId: string) => void): () => void;
}

/** Home Assistant's node ids allow [a-zA-Z0-9_-] only. */
const nodeId = (clientId: string) => `vpn_sentinel_${clientId.replace(/[^a-zA-Z0-9_-]/g, "_")}`;

/** Not green is not protected: unknown is never green. */
export function stateDocument(c: ClientStateView) {
  return {
    name: c.name,
    status: c.status,
    protected: c.status === "green",
    liveness: c.liveness,
    reason: c.reason,
    exit_ip: c.exit?.ip ?? null,
    exit_country: c.exit?.country ?? null,
    exit_asn: c.exit?.asn ?? null,
    exit_org: c.exit?.org ?? null,
    last_report_at: c.lastReportAt === null ? null : new Date(c.lastReportAt).toISOString(),
  };
}

class MqttNotAuthorized extends Error {}

export class MqttChannel implements Channel<string> {
  readonly name: string;
  private client: MqttClient | null = null;
  private unsubscribe: (() => void) | null = null;
  /** clients whose discovery configs went out on this connection */
  private readonly announced = new Set<string>();
  private refused: string | null = null;
  private lastError: string | null = null;

  constructor(
    private readonly ctx: UrlChannelContext,
    private readonly config: MqttConfig,
    private readonly deps: {
      states: ClientStateSource;
      logger: Pick<Logger, "info" | "warn" | "error">;
      tls?: { ca?: string };
    },
  ) {
    this.name = ctx.name;
  }

  get availabilityTopic(): string {
    return `${this.config.prefix}/status`;
  }

  stateTopic(clientId: string): string {
    return `${this.config.prefix}/clients/${clientId}/state`;
  }

  get eventsTopic(): string {
    return `${this.config.prefix}/events`;
  }

  async start(): Promise<void> {
    const options: IClientOptions = {
      // host/port instead of a URL string: mqtt.js would parse that with the deprecated url.parse()
      protocol: this.config.protocol,
      host: this.config.host,
      port: this.config.port,
      clientId: `vpn-sentinel-${crypto.randomUUID().slice(0, 8)}`,
      clean: true,
      keepalive: 30,
      reconnectPeriod: 5_000,
      connectTimeout: this.ctx.requestTimeoutMs,
      will: { topic: this.availabilityTopic, payload: Buffer.from("offline"), qos: 1, retain: true },
      ...(this.config.username ? { username: this.config.username } : {}),
      ...(this.config.password ? { password: this.config.password } : {}),
      ...(this.deps.tls?.ca ? { ca: this.deps.tls.ca } : {}),
    };
    // loaded here: a server without an MQTT channel never pays for mqtt.js
    const { default: mqtt } = await import("mqtt");
    const client = mqtt.connect(options);
    this.client = client;
    client.on("connect", () => {
      this.refused = null;
      this.announced.clear();
      this.deps.logger.info(`${this.name}: connected`);
      void this.publishAll();
    });
    client.on("error", (e: Error & { code?: number | string }) => {
      this.lastError = e.message;
      // CONNACK 4/5 (v3.1.1) or 134/135 (v5): bad credentials; retrying every 5 s will not help
      if (e.code === 4 || e.code === 5 || e.code === 134 || e.code === 135) {
        this.refused = `mqtt broker refused the connection: ${e.message}`;
        client.options.reconnectPeriod = 0;
      }
      this.deps.logger.warn(`${this.name}: ${e.message}`);
    });
    this.unsubscribe = this.deps.states.subscribe((id) => {
      if (client.connected) void this.publishClient(id);
    });
    // the first connection gets a moment, so a start (or `sentinel notify test`) sends at once;
    // an unreachable broker does not hold the server's start: mqtt.js keeps reconnecting
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        client.off("connect", done);
        client.off("error", done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(5_000, this.ctx.requestTimeoutMs));
      client.once("connect", done);
      client.once("error", done);
    });
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    const client = this.client;
    this.client = null;
    if (!client) return;
    if (client.connected)
      await client
        .publishAsync(this.availabilityTopic, "offline", { qos: 1, retain: true })
        .catch(() => undefined);
    await client.endAsync().catch(() => undefined);
  }

  private async publishAll(): Promise<void> {
    const client = this.client;
    if (!client) return;
    try {
      await client.publishAsync(this.availabilityTopic, "online", { qos: 1, retain: true });
      for (const c of await this.deps.states.list()) await this.publishState(client, c);
    } catch (e) {
      this.deps.logger.warn(`${this.name}: publishing the client states failed: ${(e as Error).message}`);
    }
  }

  private async publishClient(id: string): Promise<void> {
    const client = this.client;
    if (!client) return;
    try {
      const c = await this.deps.states.get(id);
      if (c) await this.publishState(client, c);
      else await this.forget(client, id);
    } catch (e) {
      this.deps.logger.warn(`${this.name}: publishing the state of ${id} failed: ${(e as Error).message}`);
    }
  }

  private async publishState(client: MqttClient, c: ClientStateView): Promise<void> {
    if (this.config.discovery && !this.announced.has(c.id)) {
      for (const [topic, config] of this.discoveryConfigs(c))
        await client.publishAsync(topic, JSON.stringify(config), { qos: 1, retain: true });
      this.announced.add(c.id);
    }
    await client.publishAsync(this.stateTopic(c.id), JSON.stringify(stateDocument(c)), {
      qos: 1,
      retain: true,
    });
  }

  private async forget(client: MqttClient, id: string): Promise<void> {
    const stub = { id, name: "", status: "", liveness: "", reason: null, exit: null, lastReportAt: null };
    if (this.config.discovery)
      for (const [topic] of this.discoveryConfigs(stub))
        await client.publishAsync(topic, "", { qos: 1, retain: true });
    await client.publishAsync(this.stateTopic(id), "", { qos: 1, retain: true });
    this.announced.delete(id);
  }

  /** Home Assistant discovery: topic and config of each entity of one client's device. */
  discoveryConfigs(c: ClientStateView): [string, Record<string, unknown>][] {
    const node = nodeId(c.id);
    const base = {
      state_topic: this.stateTopic(c.id),
      availability_topic: this.availabilityTopic,
      device: {
        identifiers: [node],
        name: c.name,
        manufacturer: "VPN Sentinel",
        model: "VPN client",
        ...(this.ctx.publicUrl
          ? {
              configuration_url: `${this.ctx.publicUrl.replace(/\/+$/, "")}/clients/${encodeURIComponent(c.id)}`,
            }
          : {}),
      },
    };
    const topic = (component: string, object: string) =>
      `${this.config.discovery}/${component}/${node}/${object}/config`;
    return [
      [
        topic("binary_sensor", "protected"),
        {
          ...base,
          name: "VPN protected",
          unique_id: `${node}_protected`,
          device_class: "safety",
          // safety: ON means unsafe
          value_template: "{{ 'OFF' if value_json.protected else 'ON' }}",
          payload_on: "ON",
          payload_off: "OFF",
        },
      ],
      [
        topic("sensor", "status"),
        { ...base, name: "Status", unique_id: `${node}_status`, value_template: "{{ value_json.status }}" },
      ],
      [
        topic("sensor", "exit_country"),
        {
          ...base,
          name: "Exit country",
          unique_id: `${node}_exit_country`,
          value_template: "{{ value_json.exit_country }}",
        },
      ],
      [
        topic("sensor", "exit_as"),
        {
          ...base,
          name: "Exit AS",
          unique_id: `${node}_exit_as`,
          value_template: "{{ value_json.exit_asn }}",
        },
      ],
    ];
  }

  targets(): string[] {
    return [this.name];
  }

  validateConfig(): string[] {
    return this.refused ? [this.refused] : [];
  }

  accepts(_target: string, c: RouteCandidate): boolean {
    return routeMatches(this.ctx.filter, c);
  }

  render(n: Notification): string[] {
    const t = this.ctx.templates;
    return [
      JSON.stringify(webhookEvent(n, { title: t.render("title", n), text: t.render("text", n), url: null })),
    ];
  }

  async send(target: string, message: string): Promise<SendResult> {
    if (target !== this.name) throw new Error(`mqtt: unknown target ${target}`);
    if (this.refused) throw new MqttNotAuthorized(this.refused);
    const client = this.client;
    if (!client?.connected)
      throw new Error(`mqtt broker not connected${this.lastError ? `: ${this.lastError}` : ""}`);
    await client.publishAsync(this.eventsTopic, message, { qos: 1 });
    return {};
  }

  classifyError(err: unknown): ErrorClass {
    return err instanceof MqttNotAuthorized ? "disabled" : "retryable";
  }

  pace(): PaceRule {
    return { minIntervalMs: 0 };
  }

  describeError(err: unknown): string {
    return (err as Error)?.message ?? String(err);
  }
}
