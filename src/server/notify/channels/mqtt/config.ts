/** What a mqtt channel URL must say, checked at start (light: no client library). */
export interface MqttConfig {
  protocol: "mqtt" | "mqtts";
  host: string;
  port: number;
  username: string | null;
  password: string | null;
  prefix: string;
  /** Home Assistant discovery prefix, null: no discovery */
  discovery: string | null;
}

/** MQTT topic levels must not hold wildcards (NUL is refused by the broker itself). */
const TOPIC_LEVEL = /^[^#+]+$/;

export function parseMqttUrl(url: URL): MqttConfig | string {
  const prefix = decodeURIComponent(url.pathname.replace(/^\/+|\/+$/g, "")) || "vpn-sentinel";
  if (!prefix.split("/").every((l) => TOPIC_LEVEL.test(l)))
    return "the topic prefix must not contain +, # or empty levels";
  const discovery = url.searchParams.get("discovery") ?? "homeassistant";
  if (discovery !== "off" && !TOPIC_LEVEL.test(discovery)) return "?discovery= must be a topic prefix or off";
  const secure = url.protocol === "mqtts:";
  return {
    protocol: secure ? "mqtts" : "mqtt",
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: url.port ? Number(url.port) : secure ? 8883 : 1883,
    username: url.username ? decodeURIComponent(url.username) : null,
    password: url.password ? decodeURIComponent(url.password) : null,
    prefix,
    discovery: discovery === "off" ? null : discovery,
  };
}
