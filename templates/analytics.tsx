/** @jsxImportSource @kitajs/html */
/**
 * Analytics: the fleet over 7, 30 or 90 days. Charts are SVG drawn on the server (classes, no
 * inline style: the CSP allows none, and no chart script is needed); each has a table of the
 * same numbers for screen readers and for copying.
 */
import { percent, span, utcTime } from "../src/server/web/format.ts";
import {
  ANALYTICS_PERIODS,
  type AnalyticsPeriod,
  type AnalyticsView,
  type DayBar,
  incidentsText,
} from "../src/server/web/history-model.ts";
import { Empty, RelTime } from "./components.tsx";
import type { PageContext } from "./context.ts";
import { Layout, PageHeader } from "./layout.tsx";

const total = (d: DayBar) => Object.values(d.incidents).reduce((a, b) => a + b, 0);
const W = 24;

const CHART_H = 120;

/** The stacked rectangles of one day's bar, bottom up. */
function stack(v: AnalyticsView, d: DayBar, i: number) {
  let y = CHART_H;
  return v.kinds.flatMap((k) => {
    const n = d.incidents[k.kind];
    if (n === 0) return [];
    const height = (n / v.maxIncidents) * (CHART_H - 4);
    y -= height;
    return [{ x: i * W + 3, y, height, cls: `k-${k.kind}${d.partial ? " partial" : ""}` }];
  });
}

const dayWords = (v: AnalyticsView, d: DayBar) =>
  `${d.label}${d.partial ? " (so far)" : ""}: ${
    total(d) === 0
      ? "no incident"
      : v.kinds
          .filter((k) => d.incidents[k.kind] > 0)
          .map((k) => `${d.incidents[k.kind]} ${k.label}`)
          .join(", ")
  }`;

function IncidentChart({ v }: { v: AnalyticsView }) {
  const h = CHART_H;
  return (
    <figure class="chart">
      <svg
        class="chart-svg"
        viewBox={`0 0 ${v.days.length * W} ${h}`}
        preserveAspectRatio="none"
        role="img"
        aria-labelledby="inc-chart-title"
      >
        <title id="inc-chart-title" safe>
          {`Incidents per day by kind, ${v.days[0]?.label} to ${v.days.at(-1)?.label}; the table below has the numbers`}
        </title>
        {v.days.map((d, i) => (
          <g>
            <title safe>{dayWords(v, d)}</title>
            <rect x={String(i * W)} y="0" width={String(W)} height={String(h)} class="chart-hit" />
            {stack(v, d, i).map((r) => (
              <rect
                x={String(r.x)}
                y={String(r.y)}
                width={String(W - 6)}
                height={String(r.height)}
                class={r.cls}
              />
            ))}
          </g>
        ))}
      </svg>
      <figcaption class="chart-axis">
        <span safe>{v.days[0]?.label ?? ""}</span>
        <span safe>{`${v.days.at(-1)?.label ?? ""} (today so far)`}</span>
      </figcaption>
      <ul class="legend">
        {v.kinds.map((k) => (
          <li>
            <span class={`swatch k-${k.kind}`} aria-hidden="true" />
            <span safe>{k.label}</span>
          </li>
        ))}
      </ul>
    </figure>
  );
}

const level = (f: number | null) => (f === null ? "none" : f >= 0.999 ? "ok" : f >= 0.95 ? "warn" : "bad");

function ProtectedChart({ v }: { v: AnalyticsView }) {
  const h = 80;
  return (
    <figure class="chart">
      <svg
        class="chart-svg"
        viewBox={`0 0 ${v.days.length * W} ${h}`}
        preserveAspectRatio="none"
        role="img"
        aria-labelledby="prot-chart-title"
      >
        <title id="prot-chart-title">Share of observed time the fleet was protected, per day</title>
        {v.days.map((d, i) => {
          const height = d.protected === null ? 4 : Math.max(2, d.protected * (h - 2));
          return (
            <rect
              x={String(i * W + 3)}
              y={String(h - height)}
              width={String(W - 6)}
              height={String(height)}
              class={`lvl-${level(d.protected)}`}
            >
              <title safe>{`${d.label}: ${percent(d.protected)}`}</title>
            </rect>
          );
        })}
      </svg>
    </figure>
  );
}

function DayTable({ v }: { v: AnalyticsView }) {
  return (
    <details class="chart-table">
      <summary>The numbers per day</summary>
      <div class="table-wrap">
        <table class="simple">
          <thead>
            <tr>
              <th scope="col">Day</th>
              <th scope="col">Protected</th>
              {v.kinds.map((k) => (
                <th scope="col" safe>
                  {k.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {v.days.map((d) => (
              <tr>
                <th scope="row" safe>{`${d.label}${d.partial ? " (so far)" : ""}`}</th>
                <td safe>{percent(d.protected)}</td>
                {v.kinds.map((k) => (
                  <td safe>{String(d.incidents[k.kind])}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

function Stat({ label, value, sub }: { label: string; value: string; sub?: string }) {
  return (
    <div class="stat">
      <p class="stat-label" safe>
        {label}
      </p>
      <p class="stat-value" safe>
        {value}
      </p>
      {sub ? (
        <p class="stat-sub" safe>
          {sub}
        </p>
      ) : null}
    </div>
  );
}

const WORST = 25;

const worstDayWords = (d: DayBar | null) =>
  d
    ? `Of the time observed, 0 to 100 %; the least protected day: ${d.label}, ${percent(d.protected)}.`
    : "Nothing observed in this period.";

export function AnalyticsPage({
  ctx,
  v,
  runs,
  now,
}: {
  ctx: PageContext;
  v: AnalyticsView;
  runs: { schedule: string; periodEnd: number; status: string; queued: number }[];
  now: number;
}) {
  const f = v.summary.fleet;
  const incidentCount = v.kinds.reduce((n, k) => n + (f.incidents[k.kind]?.count ?? 0), 0);
  const worst = v.summary.clients.slice(0, WORST);
  return (
    <Layout ctx={ctx} title="Analytics">
      <PageHeader
        title="Analytics"
        sub="The fleet over time; every share is of the time actually observed (the rest is unknown, not down)."
      >
        <nav class="segmented" aria-label="Period">
          {(Object.keys(ANALYTICS_PERIODS) as AnalyticsPeriod[]).map((p) => (
            <a href={`/analytics?period=${p}`} aria-current={p === v.period ? "page" : undefined} safe>
              {`${ANALYTICS_PERIODS[p]} days`}
            </a>
          ))}
        </nav>
      </PageHeader>
      <section class="stats" aria-label="The fleet">
        <Stat
          label="Protected"
          value={percent(f.protected)}
          sub={`of ${span(f.observed_s * 1000)} observed`}
        />
        <Stat label="Up" value={percent(f.uptime)} sub={`${f.clients} clients`} />
        <Stat label="Incidents" value={String(incidentCount)} sub={incidentsText(f.incidents)} />
        <Stat
          label="Mean time to recovery"
          value={f.mttr_s === null ? "—" : span(f.mttr_s * 1000)}
          sub={`${f.recoveries} recover${f.recoveries === 1 ? "y" : "ies"}`}
        />
        <Stat
          label="DNS leaks"
          value={f.dns_leaks_per_week === null ? "—" : `${f.dns_leaks_per_week.toFixed(2)}/week`}
          sub="per client, of observed time"
        />
      </section>
      <div class="grid-2">
        <section class="card" aria-labelledby="inc-title">
          <h2 id="inc-title">Incidents per day</h2>
          <IncidentChart v={v} />
        </section>
        <section class="card" aria-labelledby="prot-title">
          <h2 id="prot-title">Protected per day</h2>
          <p class="muted small" safe>
            {worstDayWords(v.worstDay)}
          </p>
          <ProtectedChart v={v} />
          <DayTable v={v} />
        </section>
      </div>
      <section class="card" aria-labelledby="worst-title">
        <h2 id="worst-title">Worst clients first</h2>
        {worst.length === 0 ? (
          <Empty title="No clients yet" />
        ) : (
          <div class="table-wrap">
            <table class="simple worst">
              <thead>
                <tr>
                  <th scope="col">Client</th>
                  <th scope="col">Protected</th>
                  <th scope="col">Up</th>
                  <th scope="col">Observed</th>
                  <th scope="col">Incidents</th>
                  <th scope="col">Recovery</th>
                  <th scope="col">DNS leaks/week</th>
                </tr>
              </thead>
              <tbody>
                {worst.map((c) => (
                  <tr>
                    <th scope="row">
                      <a href={`/clients/${encodeURIComponent(c.id)}`} safe>
                        {c.name}
                      </a>
                    </th>
                    <td safe>{percent(c.protected)}</td>
                    <td safe>{percent(c.uptime)}</td>
                    <td safe>{span(c.observed_s * 1000)}</td>
                    <td safe>{incidentsText(c.incidents)}</td>
                    <td safe>{c.mttr_s === null ? "—" : span(c.mttr_s * 1000)}</td>
                    <td safe>{c.dns_leaks_per_week === null ? "—" : c.dns_leaks_per_week.toFixed(2)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {v.summary.clients.length > WORST ? (
          <p
            class="muted small"
            safe
          >{`The ${WORST} worst of ${v.summary.clients.length} clients; the API has all: GET /api/v1/summary?period=${v.period}.`}</p>
        ) : null}
      </section>
      <div class="grid-2">
        <section class="card" aria-labelledby="anom-title">
          <h2 id="anom-title">Anomalies</h2>
          {v.anomalies.length === 0 ? (
            <p class="muted">No client behaved unusually for itself in this period.</p>
          ) : (
            <ul class="anomalies">
              {v.anomalies.map((a) => (
                <li>
                  <p>
                    {a.clientId ? (
                      <a href={`/clients/${encodeURIComponent(a.clientId)}`} safe>
                        {a.clientName ?? a.clientId}
                      </a>
                    ) : null}{" "}
                    <b safe>{a.title}</b> <RelTime at={a.at} text={utcTime(a.at)} absolute />
                  </p>
                  <p class="muted small" safe>
                    {a.reason ?? ""}
                  </p>
                </li>
              ))}
            </ul>
          )}
        </section>
        <section class="card" aria-labelledby="runs-title">
          <h2 id="runs-title">Scheduled reports</h2>
          {runs.length === 0 ? (
            <p class="muted">
              None yet. --report-schedule sends one to the alert channels (see docs/alerts.md).
            </p>
          ) : (
            <ul class="runs">
              {runs.map((r) => (
                <li
                  safe
                >{`${r.schedule}: period ending ${utcTime(r.periodEnd)}, ${r.status === "sent" ? `queued for ${r.queued} channel target(s)` : "skipped"}`}</li>
              ))}
            </ul>
          )}
          <p class="sr-only" safe>{`As of ${utcTime(now)}.`}</p>
        </section>
      </div>
    </Layout>
  );
}
