/** @jsxImportSource @kitajs/html */
/** Events page: filters, and #event-list, which refreshes on `sse:events` or the polling fallback. */
import { EVENT_KINDS } from "../src/protocol/events.ts";
import { utcTime } from "../src/server/web/format.ts";
import { type EventView, eventKindTitle } from "../src/server/web/model.ts";
import { Empty, RelTime } from "./components.tsx";
import type { PageContext } from "./context.ts";
import { Layout, LiveIndicator, PageHeader } from "./layout.tsx";

export interface EventsQuery {
  client: string;
  kind: string;
  severity: string;
  since: string;
  before: number | null;
}

export interface EventsView {
  query: EventsQuery;
  events: EventView[];
  clients: { id: string; name: string }[];
  /** query string of the next (older) page, null on the last page */
  older: string | null;
  /** query string of the current filters (without the cursor) */
  self: string;
}

export function EventList({ view, now }: { view: EventsView; now: number }) {
  return (
    <section
      id="event-list"
      aria-label="Events"
      hx-get={`/events${view.self}`}
      hx-trigger={view.query.before === null ? "sse:events, poll" : "poll"}
      hx-swap="outerHTML"
      data-live
    >
      {view.events.length === 0 ? (
        <Empty title="No events match" />
      ) : (
        <div class="table-wrap">
          <table class="events">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Client</th>
                <th scope="col">Event</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {view.events.map((e) => (
                <tr class={`ev ev-${e.severity}`}>
                  <td class="nowrap">
                    <RelTime at={e.at} text={utcTime(e.at)} absolute />
                  </td>
                  <td>
                    {e.clientId ? (
                      <a href={`/clients/${encodeURIComponent(e.clientId)}`} safe>
                        {e.clientName ?? e.clientId}
                      </a>
                    ) : (
                      <span class="muted">server</span>
                    )}
                  </td>
                  <td>
                    <span class={`sev sev-${e.severity}`}>
                      <span class="sev-dot" aria-hidden="true" />
                      <span safe>{e.title}</span>
                    </span>
                    {e.suppressed ? <span class="tag">no alert</span> : null}
                  </td>
                  <td class="ev-reason">
                    <span safe>
                      {e.reason ?? (e.from || e.to ? `${e.from ?? "—"} → ${e.to ?? "—"}` : "")}
                    </span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p class="pager">
        {view.query.before !== null ? <a href={`/events${view.self}`}>Newest</a> : null}
        {view.older ? <a href={`/events${view.older}`}>Older events</a> : null}
      </p>
      <p class="sr-only" safe>{`${view.events.length} events listed at ${utcTime(now)}.`}</p>
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
      <div hx-ext="sse" sse-connect="/events/stream?view=events" data-live-root>
        <PageHeader title="Events" sub="Every change of state, newest first.">
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
          hx-trigger="submit, change"
        >
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
