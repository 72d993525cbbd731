/** @jsxImportSource @kitajs/html */
/** Events page: filters, and #event-list, which refreshes on `sse:events` or the polling fallback. */
import { EVENT_KINDS } from "../src/protocol/events.ts";
import { utcTime } from "../src/server/web/format.ts";
import type { IncidentView } from "../src/server/web/history-model.ts";
import { eventKindTitle } from "../src/server/web/model.ts";
import { Empty, RelTime } from "./components.tsx";
import type { PageContext } from "./context.ts";
import { Layout, LiveIndicator, PageHeader } from "./layout.tsx";

export interface EventsQuery {
  client: string;
  kind: string;
  severity: string;
  since: string;
  /** text: in the reason, the client's name or the event's title */
  q: string;
  before: number | null;
}

export interface EventsView {
  query: EventsQuery;
  incidents: IncidentView[];
  clients: { id: string; name: string }[];
  /** query string of the next (older) page, null on the last page */
  older: string | null;
  /** query string of the current filters (without the cursor) */
  self: string;
}

/**
 * One incident as a card: what happened (the titles of its events, worst first), to whom, when
 * (relative; absolute on hover), and each event's reason. `#incident-<id>` links here.
 */
export function IncidentCard({ i }: { i: IncidentView }) {
  return (
    <li class={`incident inc-${i.severity}`} id={`incident-${i.id}`}>
      <p class="inc-head">
        <span class={`sev sev-${i.severity}`}>
          <span class="sev-dot" aria-hidden="true"></span>
          <span safe>{i.title}</span>
        </span>
        {i.suppressed ? <span class="tag">no alert</span> : null}
      </p>
      <p class="inc-meta">
        {i.clientId ? (
          <a href={`/clients/${encodeURIComponent(i.clientId)}`} safe>
            {i.clientName ?? i.clientId}
          </a>
        ) : (
          <span class="muted">server</span>
        )}
        <RelTime at={i.at} text={i.ago} />
      </p>
      <ul class="inc-events">
        {i.events.map((e) => (
          <li>
            {i.events.length > 1 ? <b class="inc-kind" safe>{`${e.title}: `}</b> : null}
            <span safe>{e.reason ?? (e.from || e.to ? `${e.from ?? "—"} → ${e.to ?? "—"}` : "")}</span>
          </li>
        ))}
      </ul>
    </li>
  );
}

export function EventList({ view, now }: { view: EventsView; now: number }) {
  return (
    <section
      id="event-list"
      aria-label="Incidents"
      hx-get={`/events${view.self}`}
      hx-trigger={view.query.before === null ? "sse:events, poll" : "poll"}
      hx-swap="outerHTML"
      data-live
    >
      {view.incidents.length === 0 ? (
        <Empty title="No events match" />
      ) : (
        <ol class="incidents">
          {view.incidents.map((i) => (
            <IncidentCard i={i} />
          ))}
        </ol>
      )}
      <p class="pager">
        {view.query.before !== null ? <a href={`/events${view.self}`}>Newest</a> : null}
        {view.older ? <a href={`/events${view.older}`}>Older events</a> : null}
      </p>
      <p class="sr-only" safe>{`${view.incidents.length} incidents listed at ${utcTime(now)}.`}</p>
    </section>
  );
}

export function EventsPage({ ctx, view, now }: { ctx: PageContext; view: EventsView; now: number }) {
  const q = view.query;
  const opt = (value: string, label: string, current: string) => (
    <option value={value} selected={value === current} safe>
      {label}
    </option>
  );
  return (
    <Layout ctx={ctx} title="Events">
      <div
        hx-ext="sse"
        sse-connect={`/events/stream?view=events&since=${encodeURIComponent(ctx.live)}`}
        data-live-root
      >
        <PageHeader
          title="Events"
          sub="Every change of state, newest first; the events of one report or check are one incident."
        >
          <LiveIndicator />
        </PageHeader>
        <form
          class="filters"
          method="get"
          action="/events"
          hx-get="/events"
          hx-target="#event-list"
          hx-swap="outerHTML"
          hx-push-url="true"
          hx-trigger="submit, change, input delay:300ms"
        >
          <div class="field grow">
            <label for="e-q">Search</label>
            <input
              id="e-q"
              type="search"
              name="q"
              value={q.q}
              placeholder="Client, event or reason, e.g. dns leak"
              autocomplete="off"
            />
          </div>
          <div class="field">
            <label for="e-client">Client</label>
            <select id="e-client" name="client">
              {opt("", "All clients", q.client)}
              {view.clients.map((c) => opt(c.id, c.name, q.client))}
            </select>
          </div>
          <div class="field">
            <label for="e-sev">Severity</label>
            <select id="e-sev" name="severity">
              {opt("", "Any", q.severity)}
              {opt("red", "Problems", q.severity)}
              {opt("yellow", "Warnings", q.severity)}
              {opt("green", "Recoveries", q.severity)}
              {opt("info", "Info", q.severity)}
            </select>
          </div>
          <div class="field">
            <label for="e-kind">Kind</label>
            <select id="e-kind" name="kind">
              {opt("", "Any", q.kind)}
              {EVENT_KINDS.map((k) => opt(k, eventKindTitle(k), q.kind))}
            </select>
          </div>
          <div class="field">
            <label for="e-since">Period</label>
            <select id="e-since" name="since">
              {opt("", "All time", q.since)}
              {opt("1h", "Last hour", q.since)}
              {opt("24h", "Last 24 hours", q.since)}
              {opt("7d", "Last 7 days", q.since)}
              {opt("30d", "Last 30 days", q.since)}
            </select>
          </div>
          <button type="submit" class="button secondary no-js-only">
            Apply
          </button>
        </form>
        <EventList view={view} now={now} />
      </div>
    </Layout>
  );
}
