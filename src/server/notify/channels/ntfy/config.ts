/** What a ntfy channel URL must say, checked at start (light: no client library). */
import { serviceUrl } from "../http.ts";

export interface NtfyConfig {
  endpoint: string;
  topic: string;
  auth: string | null;
}

const TOPIC = /^[-_A-Za-z0-9]{1,64}$/;

export function parseNtfyUrl(url: URL): NtfyConfig | string {
  const topic = decodeURIComponent(url.pathname.replace(/^\/+|\/+$/g, ""));
  if (!topic) return "needs a topic: ntfys://host/TOPIC";
  if (!TOPIC.test(topic)) return `topic must be 1-64 of A-Z a-z 0-9 _ - (ntfy's rule)`;
  const token = url.searchParams.get("token");
  const auth = token
    ? `Bearer ${token}`
    : url.username
      ? `Basic ${btoa(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`)}`
      : null;
  return {
    endpoint: serviceUrl(url, url.protocol === "ntfys:" ? "https:" : "http:", "/").href,
    topic,
    auth,
  };
}
