/** @jsxImportSource @kitajs/html */
/**
 * The events page: incidents (the events of one change grouped), newest first, filtered by
 * client, kind, severity, period and text, with a cursor.
 */
import { Elysia } from "elysia";
import { EventList, EventsPage, type EventsQuery, type EventsView } from "../../../templates/events.tsx";
import { parseDuration } from "../../config/duration.ts";
import { EVENT_KINDS, EVENT_SEVERITY, isEventKind } from "../../protocol/events.ts";
import type { EventQuery, Store } from "../store/index.ts";
import type { Web } from "./guard.ts";
import { incidents, kindsTitled } from "./history-model.ts";

const PAGE = 100;
const SINCE = new Set(["1h", "24h", "7d", "30d"]);

export function parseEventsQuery(q: Record<string, string | undefined>): EventsQuery {
  const before = Number(q.before);
  return {
    client: (q.client ?? "").slice(0, 64),
    kind: q.kind && isEventKind(q.kind) ? q.kind : "",
    severity: q.severity && ["red", "yellow", "green", "info"].includes(q.severity) ? q.severity : "",
    since: q.since && SINCE.has(q.since) ? q.since : "",
    q: (q.q ?? "").trim().slice(0, 100),
    before: Number.isSafeInteger(before) && before > 0 ? before : null,
  };
}

const qs = (q: EventsQuery, before: number | null) => {
  const p = new URLSearchParams();
  for (const k of ["q", "client", "severity", "kind", "since"] as const) if (q[k]) p.set(k, q[k]);
  if (before !== null) p.set("before", String(before));
  const s = p.toString();
  return s ? `?${s}` : "";
};

export async function eventsView(store: Store, q: EventsQuery, now: number): Promise<EventsView> {
  const clients = await store.clients.summaries();
  const names = new Map(clients.map((c) => [c.id, c.name]));
  const kinds = q.kind
    ? [q.kind]
    : q.severity
      ? EVENT_KINDS.filter((k) => EVENT_SEVERITY[k] === q.severity)
      : undefined;
  const sinceMs = q.since ? parseDuration(q.since) : null;
  const text = q.q.toLowerCase();
  const query: EventQuery = {
    ...(q.client ? { clientId: q.client } : {}),
    ...(kinds ? { kinds } : {}),
    ...(sinceMs ? { since: now - sinceMs } : {}),
    ...(q.before !== null ? { before: q.before } : {}),
    // text: the reason, a client's name, or an event's title
    ...(text
      ? {
          search: {
            text,
            clientIds: clients.filter((c) => c.name.toLowerCase().includes(text)).map((c) => c.id),
            kinds: kindsTitled(text, EVENT_KINDS),
          },
        }
      : {}),
    limit: PAGE + 1,
  };
  const rows = await store.events.query(query);
  let groups = incidents(rows.slice(0, PAGE + 1), names, now);
  const more = rows.length > PAGE;
  // the last incident may go on past the page: it opens the next one instead
  if (more && groups.length > 1) groups = groups.slice(0, -1);
  const oldest = Math.min(...groups.map((g) => g.id));
  return {
    query: q,
    incidents: groups,
    clients: clients.map((c) => ({ id: c.id, name: c.name })),
    older: more && groups.length ? qs(q, oldest) : null,
    self: qs(q, null),
  };
}

export function eventRoutes(web: Web) {
  return new Elysia({ name: "web.events" }).get("/events", async ({ request, query }) => {
    const auth = await web.guard(request, "viewer");
    if (auth instanceof Response) return auth;
    const now = web.now();
    const view = await eventsView(web.store, parseEventsQuery(query), now);
    if (request.headers.get("hx-target") === "event-list")
      return web.html(<EventList view={view} now={now} />);
    return web.html(<EventsPage ctx={web.pageContext(auth, request)} view={view} now={now} />);
  });
}
