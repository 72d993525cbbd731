/**
 * Wraps the app's fetch handler: logs every request at debug and every server error at error,
 * each with its request id, and feeds the report metrics. A 503 is no error of the server's
 * but a "try later" whose cause its maker logs (once a minute, not once per request). Only the
 * method, the path (never the query string or headers, where tokens travel) and the status are
 * logged.
 */
import type { Logger } from "../../logger.ts";
import { REPORTS_PATH } from "../api/reports/index.ts";
import type { ServerMetrics } from "./server-metrics.ts";

/** consola's level number for debug */
const DEBUG = 4;

/** The path of a request URL, without parsing all of it (new URL() per request shows in profiles). */
export function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const end = url.indexOf("?", start);
  return end < 0 ? url.slice(start) : url.slice(start, end);
}

export function instrumentFetch(
  handle: (request: Request) => Promise<Response> | Response,
  /** `path`: the one path a route serves (then request.url, a new string each time, is not read) */
  deps: { logger: Logger; metrics?: ServerMetrics; clock?: () => number; path?: string },
): (request: Request) => Promise<Response> {
  const clock = deps.clock ?? (() => performance.now());
  return async (request) => {
    const started = clock();
    const response = await handle(request);
    const ms = clock() - started;
    const path = deps.path ?? pathOf(request.url);
    // The line is built only to be written: at the default level that is server errors only
    // (a 503 is the server saying it is busy or not ready, not an error of its own).
    const isError = response.status >= 500 && response.status !== 503;
    if (isError || deps.logger.level >= DEBUG) {
      const fields = {
        request_id: response.headers.get("x-request-id") ?? "",
        status: response.status,
        ms: Math.round(ms * 10) / 10,
      };
      const line = `${request.method} ${path} ${response.status} ${fields.ms} ms [${fields.request_id}]`;
      if (isError) deps.logger.error(line, fields);
      else deps.logger.debug(line, fields);
    }
    if (deps.metrics && request.method === "POST" && path === REPORTS_PATH)
      deps.metrics.observeReport(response.status, ms / 1000);
    return response;
  };
}
