/** What a slack channel URL must say, checked at start (light: no client library). */
export interface SlackConfig {
  endpoint: string;
}

export function parseSlackUrl(url: URL): SlackConfig | string {
  if (url.pathname.split("/").filter(Boolean).length < 2)
    return "needs the incoming-webhook URL: slack+https://hooks.slack.com/services/T…/B…/…";
  const protocol = url.protocol === "slack+http:" ? "http:" : "https:";
  const endpoint = new URL(`${protocol}//${url.host}${url.pathname}`);
  for (const [k, v] of url.searchParams) endpoint.searchParams.set(k, v);
  return { endpoint: endpoint.href };
}
