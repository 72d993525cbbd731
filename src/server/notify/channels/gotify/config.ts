/** What a gotify channel URL must say, checked at start (light: no client library). */
import { serviceUrl } from "../http.ts";

export interface GotifyConfig {
  endpoint: string;
  token: string;
}

export function parseGotifyUrl(url: URL): GotifyConfig | string {
  const parts = url.pathname.split("/").filter(Boolean);
  const token = parts.pop();
  if (!token) return "needs an application token: gotifys://host/APP_TOKEN";
  const base = parts.length ? `/${parts.join("/")}` : "";
  return {
    endpoint: serviceUrl(url, url.protocol === "gotifys:" ? "https:" : "http:", `${base}/message`).href,
    token: decodeURIComponent(token),
  };
}
