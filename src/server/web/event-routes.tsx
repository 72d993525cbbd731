/** @jsxImportSource @kitajs/html */
/** The events page: filters by client, kind, severity and period, newest first, with a cursor. */
import { Elysia } from "elysia";
import { EventList, EventsPage, type EventsQuery, type EventsView } from "../../../templates/events.tsx";
import { parseDuration } from "../../config/duration.ts";
import { EVENT_KINDS, EVENT_SEVERITY, isEventKind } from "../../protocol/events.ts";
import type { Store } from "../store/index.ts";
import type { Web } from "./guard.ts";
import { eventView } from "./model.ts";

const PAGE = 100;
const SINCE = new Set(["1h", "24h", "7d", "30d"]);

export function parseEventsQuery(q: Record<string, string | undefined>): EventsQuery {
  const before = Number(q.before);
  return {
    client: (q.client ?? "").slice(0, 64),
    kind: q.kind && isEventKind(q.kind) ? q.kind : "",
    severity: q.severity && ["red", "yellow", "green", "info"].includes(q.severity) ? q.severity : "",
    since: q.since && SINCE.has(q.since) ? q.since : "",
    before: Number.isSafeInteger(before) && before > 0 ? before : null,
  };
}

const qs = (q: EventsQuery, before: number | null) => {
  const p = new URLSearchParams();
  for (const k of ["client", "severity", "kind", "since"] as const) if (q[k]) p.set(k, q[k]);
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
  const rows = await store.events.query({
    ...(q.client ? { clientId: q.client } : {}),
    ...(kinds ? { kinds } : {}),
    ...(sinceMs ? { since: now - sinceMs } : {}),
    ...(q.before !== null ? { before: q.before } : {}),
    limit: PAGE + 1,
  });
  const page = rows.slice(0, PAGE);
  return {
    query: q,
    events: page.map((e) => eventView(e, names)),
    clients: clients.map((c) => ({ id: c.id, name: c.name })),
    older: rows.length > PAGE && page.length ? qs(q, (page.at(-1) as { id: number }).id) : null,
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
