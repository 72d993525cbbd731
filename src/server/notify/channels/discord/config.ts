/** What a discord channel URL must say, checked at start (light: no client library). */
export interface DiscordConfig {
  endpoint: string;
}

const WEBHOOK_PATH = /^\/api(?:\/v\d+)?\/webhooks\/\d+\/[\w-]+\/?$/;

export function parseDiscordUrl(url: URL): DiscordConfig | string {
  if (!WEBHOOK_PATH.test(url.pathname))
    return "needs the webhook URL as Discord shows it: discord+https://discord.com/api/webhooks/ID/TOKEN";
  const endpoint = new URL(`https://${url.host}${url.pathname}`);
  endpoint.searchParams.set("wait", "true"); // 200 with the message instead of 204: errors surface
  return { endpoint: endpoint.href };
}
