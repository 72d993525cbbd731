/** @jsxImportSource @kitajs/html */
/**
 * GET /events/stream: Server-Sent Events for the open page, fed by the broker.
 *   overview → "update": out-of-band row and count fragments for clients that reported;
 *              "clients": the list refetches itself with its filters (a status flipped, or a
 *              client was added, removed or changed)
 *   client   → "client": the detail's live region refetches itself
 *   events   → "events": the event list refetches itself
 * Bursts are coalesced (one render per connection per `coalesceMs`); a heartbeat comment keeps
 * proxies and Bun's idle timeout from closing a quiet stream, and ends it once the session is gone.
 * `since` (the page's broker mark) makes the stream start with what the page missed.
 */
import { Elysia } from "elysia";
import { Banners } from "../../../templates/layout.tsx";
import { ClientRowDeleteOob, ClientRowOob, StatusCountsView } from "../../../templates/overview.tsx";
import type { BrokerMessages } from "../broker.ts";
import { stripSource } from "./client-routes.tsx";
import { type Auth, renderSync, type Web } from "./guard.ts";
import { clientRow, isStatus, type StatusCounts, strips } from "./model.ts";

type View = { kind: "overview" } | { kind: "client"; id: string } | { kind: "events" };

/** One SSE message; every line of the payload gets its own data: field. */
export const sseMessage = (event: string, data: string) =>
  `event: ${event}\ndata: ${data.split(/\r\n|\r|\n/).join("\ndata: ")}\n\n`;

export async function overviewUpdate(web: Web, ids: Iterable<string>): Promise<string> {
  const now = web.now();
  const parts = await rowFragments(web, [...ids], now);
  parts.push(await countsFragment(web, now));
  // a report judged after home was learned is the moment the "home unknown" banner goes
  parts.push(renderSync(<Banners banners={await web.banners()} oob />));
  return parts.join("");
}

/**
 * Fragments are shared by every open stream: with many viewers a report is read and rendered
 * once, not once per viewer, and the counts come from one GROUP BY at most every 100 ms (and
 * again after every flip). A row is read again when the broker says its client changed, or when
 * its second has passed ("12 s ago" moves). A read that a change overtook is used once, not
 * kept: the change's own update must not be answered with what was read before it.
 */
interface FragmentCache {
  rows: Map<string, { second: number; html: string }>;
  counts: { at: number; html: string } | null;
  /** counts every change the broker announced; a read notes it before it starts */
  version: number;
  /** the version of each client's last change, and of the last change to the counts */
  changedAt: Map<string, number>;
  countsChangedAt: number;
}
const fragmentCaches = new WeakMap<Web, FragmentCache>();
const fragmentCache = (web: Web): FragmentCache => {
  const known = fragmentCaches.get(web);
  if (known) return known;
  const cache: FragmentCache = {
    rows: new Map(),
    counts: null,
    version: 0,
    changedAt: new Map(),
    countsChangedAt: 0,
  };
  fragmentCaches.set(web, cache);
  const changed = (clientId: string, countsToo: boolean) => {
    cache.version++;
    cache.rows.delete(clientId);
    cache.changedAt.set(clientId, cache.version);
    // a flip moves the counts too: counts from before it must not be the last ones a page sees
    if (countsToo) {
      cache.counts = null;
      cache.countsChangedAt = cache.version;
    }
  };
  web.broker.subscribe("client.updated", (m) => changed(m.clientId, m.changed));
  web.broker.subscribe("client.changed", (m) => changed(m.clientId, true));
  return cache;
};

/** The rows' fragments: those not rendered this second are read (records and strips) in one go. */
async function rowFragments(web: Web, ids: string[], now: number): Promise<string[]> {
  const cache = fragmentCache(web);
  const { rows, changedAt } = cache;
  const second = Math.floor(now / 1000);
  const missing = ids.filter((id) => rows.get(id)?.second !== second);
  const read = new Map<string, string>();
  if (missing.length) {
    const readAt = cache.version;
    const [records, last24h] = await Promise.all([
      web.store.clients.getMany(missing),
      strips(missing, stripSource(web), now),
    ]);
    const byId = new Map(records.map((c) => [c.id, c]));
    if (rows.size > 20_000) {
      rows.clear();
      changedAt.clear();
    }
    for (const id of missing) {
      const c = byId.get(id);
      const html = c
        ? renderSync(<ClientRowOob row={clientRow(c, now, last24h.get(id) ?? null)} />)
        : renderSync(<ClientRowDeleteOob id={id} />);
      read.set(id, html);
      if ((changedAt.get(id) ?? 0) <= readAt) rows.set(id, { second, html });
    }
  }
  return ids.map((id) => read.get(id) ?? rows.get(id)?.html ?? "");
}

async function countsFragment(web: Web, now: number): Promise<string> {
  const cache = fragmentCache(web);
  if (cache.counts && now - cache.counts.at < 100) return cache.counts.html;
  const readAt = cache.version;
  const byStatus = await web.store.clients.countByStatus();
  const counts: StatusCounts = { red: 0, yellow: 0, green: 0, grey: 0, total: 0 };
  for (const [status, n] of Object.entries(byStatus)) {
    counts[isStatus(status) ? status : "grey"] += n;
    counts.total += n;
  }
  const html = renderSync(<StatusCountsView counts={counts} oob />);
  if (cache.countsChangedAt <= readAt) cache.counts = { at: now, html };
  return html;
}

/** `since`: the mark of the page that opens the stream (null: nothing to catch up on). */
function openStream(web: Web, auth: Auth, request: Request, view: View, since: string | null): Response {
  const heartbeatMs = web.deps.stream?.heartbeatMs ?? 8000;
  const coalesceMs = web.deps.stream?.coalesceMs ?? 100;
  const refetchEveryMs = web.deps.stream?.refetchEveryMs ?? 2000;
  let lastRefetchAt = Number.NEGATIVE_INFINITY;
  let refetchTimer: ReturnType<typeof setTimeout> | undefined;
  const encoder = new TextEncoder();
  const updated = new Set<string>();
  let changed = false;
  let eventsCreated = false;
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  const unsubscribe: (() => void)[] = [];
  let closed = false;
  let controllerRef: ReadableStreamDefaultController<Uint8Array> | undefined;

  const close = () => {
    if (closed) return;
    closed = true;
    for (const u of unsubscribe) u();
    clearTimeout(flushTimer);
    clearTimeout(refetchTimer);
    clearInterval(heartbeat);
    try {
      controllerRef?.close();
    } catch {
      // already closed by the client
    }
  };
  const write = (text: string) => {
    if (closed) return;
    try {
      controllerRef?.enqueue(encoder.encode(text));
    } catch {
      close();
    }
  };
  const sessionAlive = async () => {
    const s = await web.store.auth.getSession(auth.session.idHash);
    return s !== null && s.expiresAt > web.now();
  };

  const flush = async () => {
    flushTimer = undefined;
    if (closed) return;
    // what arrived until now; what arrives while this flush reads the database waits for the next
    const ids = [...updated];
    const wasChanged = changed;
    const hadEvents = eventsCreated;
    updated.clear();
    changed = false;
    eventsCreated = false;
    if (!(await sessionAlive())) return close();
    let refetchLater = false;
    try {
      if (view.kind === "overview") {
        if (ids.length) write(sseMessage("update", await overviewUpdate(web, ids)));
        // Rows already changed in place above; the full list refetch (order, filters) is the
        // costly part, so each viewer asks for it at most every refetchEveryMs: a burst of flips
        // (a VPN provider rotating its servers) cannot make every open dashboard re-render
        // every client ten times a second.
        const wait = lastRefetchAt + refetchEveryMs - web.now();
        if (wasChanged && wait > 0) refetchLater = true;
        else if (wasChanged) {
          write(sseMessage("clients", "1"));
          lastRefetchAt = web.now();
        }
        // a separate timer, so row updates keep flowing every coalesceMs meanwhile
        if (refetchLater)
          refetchTimer ??= setTimeout(() => {
            refetchTimer = undefined;
            schedule();
          }, wait);
      } else if (view.kind === "client") {
        if (ids.includes(view.id) || wasChanged || hadEvents) write(sseMessage("client", "1"));
      } else if (hadEvents) {
        write(sseMessage("events", "1"));
      }
    } catch (e) {
      web.logger.error("event stream render failed", e);
    }
    if (refetchLater) changed = true;
  };
  const schedule = () => {
    flushTimer ??= setTimeout(() => void flush(), coalesceMs);
  };

  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controllerRef = controller;
      // retry: how soon the browser reconnects after a drop (the page polls meanwhile)
      write(`retry: 3000\n: connected\n\n`);
      const mine = (id: string) => view.kind !== "client" || id === view.id;
      const onUpdated = (m: BrokerMessages["client.updated"]) => {
        if (!mine(m.clientId)) return;
        // a flip can move the row (worst first) or out of a status filter: refetch the list
        if (m.changed && view.kind === "overview") changed = true;
        updated.add(m.clientId);
        schedule();
      };
      const onChanged = (m: BrokerMessages["client.changed"]) => {
        if (!mine(m.clientId)) return;
        changed = true;
        schedule();
      };
      const onEvents = (m: BrokerMessages["events.created"]) => {
        if (view.kind === "overview") return;
        if (view.kind === "client") {
          // the message names event ids, not clients: is the newest event of this client among them?
          void web.store.events.query({ clientId: view.id, limit: 1 }).then(([latest]) => {
            if (!latest || !m.eventIds.includes(latest.id)) return;
            eventsCreated = true;
            schedule();
          });
          return;
        }
        eventsCreated = true;
        schedule();
      };
      unsubscribe.push(
        web.broker.subscribe("client.updated", onUpdated),
        web.broker.subscribe("client.changed", onChanged),
        web.broker.subscribe("events.created", onEvents),
      );
      // What changed between the page's reading and this subscription (a client that went
      // offline meanwhile must not stay green on it); when that is not known, everything may have.
      const missed = since === null ? [] : web.broker.since(since);
      if (missed === null) {
        changed = true;
        eventsCreated = true;
        schedule();
      }
      for (const d of missed ?? []) {
        if (d.topic === "client.updated") onUpdated(d.message);
        else if (d.topic === "client.changed") onChanged(d.message);
        else if (d.topic === "events.created") onEvents(d.message);
      }
      heartbeat = setInterval(
        () => void sessionAlive().then((alive) => (alive ? write(": ping\n\n") : close())),
        heartbeatMs,
      );
    },
    cancel: close,
  });
  request.signal?.addEventListener("abort", close);
  return new Response(stream, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      // nginx and friends must not buffer the stream
      "x-accel-buffering": "no",
    },
  });
}

export function streamRoutes(web: Web) {
  return new Elysia({ name: "web.stream" }).get("/events/stream", async ({ request, query }) => {
    const auth = await web.guard(request, "viewer");
    if (auth instanceof Response)
      return auth.status === 303 ? new Response("sign in first", { status: 401 }) : auth;
    const kind = query.view;
    const view: View | null =
      kind === "client" && typeof query.id === "string" && query.id
        ? { kind: "client", id: query.id }
        : kind === "events"
          ? { kind: "events" }
          : kind === "overview" || kind === undefined
            ? { kind: "overview" }
            : null;
    if (!view) return new Response("unknown view", { status: 400 });
    return openStream(web, auth, request, view, typeof query.since === "string" ? query.since : null);
  });
}
