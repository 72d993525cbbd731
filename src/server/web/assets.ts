/**
 * Static assets, embedded in the binary: htmx 2.0.x, its SSE extension, our CSS and our one
 * small script. URLs carry a content hash, so browsers may cache them forever.
 */
import htmx from "htmx.org/dist/htmx.min.js" with { type: "text" };
import sse from "htmx-ext-sse/dist/sse.min.js" with { type: "text" };
import css from "./assets/app.css" with { type: "text" };
import js from "./assets/app.js" with { type: "text" };

interface Asset {
  body: string;
  gzip: Uint8Array<ArrayBuffer>;
  type: string;
  etag: string;
}

const hash = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex").slice(0, 12);

function asset(body: string, type: string): Asset {
  return { body, gzip: Bun.gzipSync(body) as Uint8Array<ArrayBuffer>, type, etag: `"${hash(body)}"` };
}

const FILES: Record<string, Asset> = {
  "app.css": asset(css, "text/css; charset=utf-8"),
  "app.js": asset(js, "text/javascript; charset=utf-8"),
  "htmx.min.js": asset(htmx, "text/javascript; charset=utf-8"),
  "sse.min.js": asset(sse, "text/javascript; charset=utf-8"),
};

const url = (name: string) => `/assets/${name}?v=${(FILES[name] as Asset).etag.slice(1, -1)}`;

export const ASSET_URLS = {
  css: url("app.css"),
  js: url("app.js"),
  htmx: url("htmx.min.js"),
  sse: url("sse.min.js"),
};

/** Serves one asset, gzipped when the browser accepts it; null for unknown names. */
export function serveAsset(name: string, request: Request): Response | null {
  const a = FILES[name];
  if (!a) return null;
  const headers: Record<string, string> = {
    "content-type": a.type,
    etag: a.etag,
    vary: "accept-encoding",
    "cache-control": new URL(request.url).searchParams.has("v")
      ? "public, max-age=31536000, immutable"
      : "no-cache",
  };
  if (request.headers.get("if-none-match") === a.etag) return new Response(null, { status: 304, headers });
  if (/\bgzip\b/.test(request.headers.get("accept-encoding") ?? ""))
    return new Response(a.gzip, { headers: { ...headers, "content-encoding": "gzip" } });
  return new Response(a.body, { headers });
}

/** Bytes a first visit downloads for our own assets (gzipped), without htmx: for the page-weight budget. */
export const ownAssetBytesGzipped = () =>
  (FILES["app.css"] as Asset).gzip.length + (FILES["app.js"] as Asset).gzip.length;
