/** What a webhook channel URL must say, checked at start (light: no client library). */
export interface WebhookConfig {
  endpoint: string;
  /** whsec_… (base64 after the prefix) or null for unsigned */
  secret: string | null;
}

export function parseWebhookUrl(url: URL): WebhookConfig | string {
  const secret = url.searchParams.get("secret");
  if (secret !== null) {
    const key = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret)?.[1];
    if (!key || Buffer.from(key, "base64").length < 16)
      return "?secret= must be a Standard Webhooks secret: whsec_ and the base64 of 16+ random bytes";
  }
  const protocol = url.protocol === "webhook+http:" ? "http:" : "https:";
  const endpoint = new URL(`${protocol}//${url.host}${url.pathname}`);
  for (const [k, v] of url.searchParams) if (k !== "secret") endpoint.searchParams.set(k, v);
  return { endpoint: endpoint.href, secret };
}
