/** @jsxImportSource @kitajs/html */
/**
 * Overview. Swap targets, each its own component so page, htmx fragment and SSE push render
 * the same markup: #status-counts, #client-list (filters, polling fallback) and #row-<id> (live).
 */
import {
  CHECK_FILTERS,
  type ClientRowView,
  type OverviewQuery,
  type OverviewView,
  overviewQueryString,
  type StatusCounts,
} from "../src/server/web/model.ts";
import {
  Chips,
  Empty,
  ExitCell,
  RelTime,
  Since,
  StatusBadge,
  StatusIcon,
  StatusStrip,
} from "./components.tsx";
import { isAdmin, type PageContext } from "./context.ts";
import { Layout, LiveIndicator, PageHeader } from "./layout.tsx";

const COUNT_CARDS = [
  { status: "red", word: "Exposed" },
  { status: "yellow", word: "Warning" },
  { status: "green", word: "Protected" },
  { status: "grey", word: "Unknown or paused" },
] as const;

export function StatusCountsView({ counts, oob }: { counts: StatusCounts; oob?: boolean }) {
  return (
    <section
      id="status-counts"
      class="counts"
      aria-label="Clients by status"
      data-red={String(counts.red)}
      hx-swap-oob={oob ? "true" : undefined}
    >
      {COUNT_CARDS.map((c) => (
        <a
          class={`count count-${c.status}${counts[c.status] ? "" : " count-zero"}`}
          href={`/?status=${c.status}`}
        >
          <span class="count-head">
            <StatusIcon status={c.status} />
            <span>{c.word}</span>
          </span>
          <span class="count-n">{counts[c.status]}</span>
        </a>
      ))}
    </section>
  );
}

export function ClientRow({ row, oob }: { row: ClientRowView; oob?: boolean }) {
  const href = `/clients/${encodeURIComponent(row.id)}`;
  return (
    <tr
      id={`row-${row.id}`}
      class={`client-row row-${row.status}`}
      data-sig={row.sig}
      hx-swap-oob={oob ? "true" : undefined}
    >
      <td class="cell-status">
        <StatusBadge status={row.status} word={row.word} />
        <Since since={row.since} />
      </td>
      <td class="cell-name">
        <a href={href} class="client-link" id={`link-${row.id}`} safe>
          {row.name}
        </a>
        {row.paused ? <span class="tag">paused</span> : null}
        {row.muted ? <span class="tag">muted</span> : null}
        {/* a green row's reason repeats the exit column: only problems get a sentence */}
        {row.reason && row.status !== "green" ? (
          <span class="reason" safe>
            {row.reason}
          </span>
        ) : null}
      </td>
      <td class="cell-strip">
        {row.strip ? (
          <StatusStrip strip={row.strip} id={`strip-${row.id}`} href={`${href}#timeline`} />
        ) : null}
      </td>
      <td class="cell-checks">
        <Chips chips={row.chips} asOf={row.chipsAsOf} />
      </td>
      <td class="cell-exit">
        <ExitCell exits={row.exits} />
      </td>
      <td class="cell-seen">
        <RelTime at={row.lastSeenAt} text={row.lastSeen} />
      </td>
    </tr>
  );
}

/** Table rows cannot stand alone in HTML; htmx unwraps OOB content from a <template>. */
export function ClientRowOob({ row }: { row: ClientRowView }) {
  return (
    <template>
      <ClientRow row={row} oob />
    </template>
  );
}

export function ClientRowDeleteOob({ id }: { id: string }) {
  return (
    <template>
      <tr id={`row-${id}`} hx-swap-oob="delete" />
    </template>
  );
}

const SORT_LABEL = { status: "worst first", name: "name", seen: "last seen" } as const;

export function ClientList({ view, ctx }: { view: OverviewView; ctx: PageContext }) {
  const { rows, matched, total, query } = view;
  return (
    <section
      id="client-list"
      class="client-list"
      aria-label="Clients"
      hx-get={`/${overviewQueryString(query)}`}
      hx-trigger="sse:clients, poll"
      hx-swap="outerHTML"
      data-live
    >
      {total === 0 ? (
        <Empty title="No clients yet">
          <p>
            A client runs inside your VPN and reports what the world sees.{" "}
            {isAdmin(ctx) ? <a href="/clients/new">Add your first client</a> : "Ask an admin to add one."}
          </p>
        </Empty>
      ) : rows.length === 0 ? (
        <Empty title="No client matches these filters">
          <p>
            <a href="/">Show all clients</a>
          </p>
        </Empty>
      ) : (
        <div class="table-wrap">
          <table class="clients">
            <caption class="sr-only" safe>
              {`${rows.length} of ${total} clients, sorted by ${SORT_LABEL[query.sort]}`}
            </caption>
            <thead>
              <tr>
                <th scope="col">Status</th>
                <th scope="col">Client</th>
                <th scope="col">Last 24 h</th>
                <th scope="col">Checks</th>
                <th scope="col">Exit</th>
                <th scope="col">Last seen</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <ClientRow row={row} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {rows.length > 0 && rows.length < total ? (
        <p class="list-foot muted" safe>
          {rows.length < matched
            ? `Showing the first ${rows.length} of ${matched} matching clients (${total} in all). Search or filter by status to see the others.`
            : `Showing ${rows.length} of ${total} clients.`}
        </p>
      ) : null}
    </section>
  );
}

function FilterForm({ query }: { query: OverviewQuery }) {
  const opt = (value: string, label: string, current: string) => (
    <option value={value} selected={value === current} safe>
      {label}
    </option>
  );
  return (
    <search>
      <form
        class="filters"
        method="get"
        action="/"
        hx-get="/"
        hx-target="#client-list"
        hx-swap="outerHTML"
        hx-push-url="true"
        hx-trigger="submit, change, input delay:300ms"
      >
        <div class="field grow">
          <label for="f-q">Search</label>
          <input
            id="f-q"
            type="search"
            name="q"
            value={query.q}
            placeholder="Name, address, country, ASN or check"
            autocomplete="off"
          />
        </div>
        <div class="field">
          <label for="f-status">Status</label>
          <select id="f-status" name="status">
            {opt("all", "All", query.status)}
            {opt("red", "Exposed", query.status)}
            {opt("yellow", "Warning", query.status)}
            {opt("green", "Protected", query.status)}
            {opt("grey", "Unknown or paused", query.status)}
          </select>
        </div>
        <div class="field">
          <label for="f-check">Check</label>
          <select id="f-check" name="check">
            {opt("", "Any", query.check)}
            {CHECK_FILTERS.map((c) => opt(c.code, c.label, query.check))}
          </select>
        </div>
        <div class="field">
          <label for="f-flag">Alerts</label>
          <select id="f-flag" name="flag">
            {opt("", "Any", query.flag)}
            {opt("muted", "Muted", query.flag)}
            {opt("paused", "Paused", query.flag)}
          </select>
        </div>
        <div class="field">
          <label for="f-sort">Sort</label>
          <select id="f-sort" name="sort">
            {opt("status", "Worst first", query.sort)}
            {opt("name", "Name", query.sort)}
            {opt("seen", "Last seen", query.sort)}
          </select>
        </div>
        <button type="submit" class="button secondary no-js-only">
          Apply
        </button>
      </form>
    </search>
  );
}

/** "(2 exposed) Overview": the tab says when something is red; app.js keeps it current. */
export const overviewTitle = (red: number) => (red > 0 ? `(${red} exposed) Overview` : "Overview");

export function OverviewPage({ ctx, view }: { ctx: PageContext; view: OverviewView }) {
  return (
    <Layout ctx={ctx} title={overviewTitle(view.counts.red)}>
      <div
        hx-ext="sse"
        sse-connect={`/events/stream?view=overview&since=${encodeURIComponent(ctx.live)}`}
        data-live-root
      >
        <PageHeader title="Overview">
          <LiveIndicator />
          {isAdmin(ctx) ? (
            <a class="button" href="/clients/new">
              Add client
            </a>
          ) : null}
        </PageHeader>
        <div sse-swap="update" hx-swap="none" hidden />
        <StatusCountsView counts={view.counts} />
        <FilterForm query={view.query} />
        <ClientList view={view} ctx={ctx} />
      </div>
    </Layout>
  );
}
