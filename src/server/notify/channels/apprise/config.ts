/** What a apprise channel URL must say, checked at start (light: no client library). */
import { serviceUrl } from "../http.ts";

export interface AppriseConfig {
  endpoint: string;
  tag: string | null;
}

export function parseAppriseUrl(url: URL): AppriseConfig | string {
  const parts = url.pathname.split("/").filter(Boolean);
  if (parts.length < 2 || parts.at(-2) !== "notify")
    return "needs the Apprise API's notify URL with a key: apprise+https://host/notify/KEY";
  return {
    endpoint: serviceUrl(url, url.protocol === "apprise+http:" ? "http:" : "https:", url.pathname).href,
    tag: url.searchParams.get("tag"),
  };
}
