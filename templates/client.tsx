/** @jsxImportSource @kitajs/html */
/**
 * Client detail. #client-live (status, verdicts, bars, timeline) refreshes itself when the
 * event stream says this client changed, or on the polling fallback; #settings is the form's
 * own swap target.
 */
import type { Children } from "@kitajs/html";
import type {
  BypassEvidence,
  DnsEvidence,
  ExitEvidence,
  Ipv6Evidence,
  ObservedAddress,
  Verdict,
  Verdicts,
} from "../src/server/monitor/types.ts";
import { countryName, percent, span, utcTime } from "../src/server/web/format.ts";
import type { IncidentView, StripView } from "../src/server/web/history-model.ts";
import {
  type AsOf,
  type BarsView,
  type ClientDetailView,
  chipsOf,
  type HistoryEntry,
  MUTE_CHOICES,
  VERDICT_KEYS,
  VERDICT_LABEL,
} from "../src/server/web/model.ts";
import { BadgesPanel, type BadgeView } from "./badges.tsx";
import { Chips, CsrfField, Empty, ExitCell, RelTime, Since, StatusBadge } from "./components.tsx";
import { isAdmin, type PageContext } from "./context.ts";
import { Layout, LiveIndicator, Notice } from "./layout.tsx";

function Fact({ label, children }: { label: string; children?: Children }) {
  return (
    <div class="fact">
      <dt safe>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

const Text = ({ text }: { text: string | number | null | undefined }) =>
  text === null || text === undefined || text === "" ? (
    <span class="muted">—</span>
  ) : (
    <span safe>{String(text)}</span>
  );

function ClientSummary({ d, now }: { d: ClientDetailView; now: number }) {
  const r = d.row;
  return (
    <section class={`card summary summary-${r.status}`} aria-labelledby="summary-title">
      <div class="summary-head">
        <StatusBadge status={r.status} word={r.word} />
        <Since since={r.since} />
        <h2 id="summary-title" class="summary-reason" safe>
          {r.reason || "No verdict yet."}
        </h2>
      </div>
      <dl class="facts">
        <Fact label="Exit">
          <ExitCell exits={r.exits} />
        </Fact>
        <Fact label="Last report">
          <RelTime at={r.lastSeenAt} text={r.lastSeen} />
        </Fact>
        <Fact label="Checks">
          <Chips chips={r.chips} asOf={r.chipsAsOf} />
        </Fact>
        <Fact label="Reports every">
          <Text text={d.intervalS === null ? null : span(d.intervalS * 1000)} />
        </Fact>
        <Fact label="Agent">
          <Text
            text={d.agent ? `${d.agent.version} · ${d.agent.os}/${d.agent.arch} · ${d.agent.hostname}` : null}
          />
        </Fact>
        <Fact label="Seen from">
          <Text text={d.lastSourceIp} />
        </Fact>
        <Fact label="First report">
          <Text text={d.firstSeenAt === null ? null : utcTime(d.firstSeenAt)} />
        </Fact>
        {d.rotationPendingUntil ? (
          <Fact label="Old secret valid until">
            <Text text={utcTime(d.rotationPendingUntil)} />
          </Fact>
        ) : null}
      </dl>
      <p class="sr-only" safe>{`Updated ${Math.round((now - (r.lastSeenAt ?? now)) / 1000)} seconds ago.`}</p>
    </section>
  );
}

function AddressList({ items }: { items: ObservedAddress[] }) {
  if (!items.length) return <p class="muted">No public address observed.</p>;
  return (
    <ul class="evidence-list">
      {items.map((a) => (
        <li>
          <span class="mono" safe>
            {a.ip}
          </span>{" "}
          <span class="muted" safe>
            {[countryName(a.info?.country), a.info?.asn ? `AS${a.info.asn}` : null, a.info?.org]
              .filter(Boolean)
              .join(" · ")}
          </span>
          {a.home_match ? <span class="tag tag-red">home</span> : null}
          {a.consensus ? <span class="tag">consensus</span> : null}
          <span class="evidence-by" safe>{`said by ${a.providers.join(", ") || "nobody"}`}</span>
        </li>
      ))}
    </ul>
  );
}

function sourceNote(e: BypassEvidence): string {
  if (!e.source_ip) return "The report's source address is unknown.";
  const kind = e.source_home_match
    ? " (a home address)"
    : e.source_ip_public === false
      ? " (a private address; not counted)"
      : "";
  return `The report came from ${e.source_ip}${kind}.`;
}

function BypassDetail({ e }: { e: BypassEvidence }) {
  const note = sourceNote(e);
  return (
    <>
      <AddressList items={e.exits ?? []} />
      <p class="evidence-note" safe>
        {note}
      </p>
    </>
  );
}

function DnsDetail({ e }: { e: DnsEvidence }) {
  return (
    <>
      {e.pending ? (
        <p class="evidence-note">
          From the last check: the latest report was sent before its DNS probes finished.
        </p>
      ) : null}
      {e.resolvers?.length ? (
        <ul class="evidence-list">
          {e.resolvers.map((r) => (
            <li>
              <span class="mono" safe>
                {r.ip}
              </span>{" "}
              <span class="muted" safe>
                {[countryName(r.info?.country), r.info?.asn ? `AS${r.info.asn}` : null, r.info?.org]
                  .filter(Boolean)
                  .join(" · ")}
              </span>
              <span class={`tag${r.judgement === "home" || r.judgement === "other" ? " tag-red" : ""}`} safe>
                {r.judgement.replace("_", " ")}
              </span>
              <span class="evidence-by" safe>
                {r.source === "oracle"
                  ? `asked this server's DNS oracle (${r.probes.map((p) => p.replace(/^oracle /, "")).join(", ")} over ${(r.transports ?? []).join(", ") || "?"}); via ${r.via.join(", ") || "?"}`
                  : `via ${r.via.join(", ") || "?"}; probes ${r.probes.join(", ")}`}
              </span>
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">No resolver identified.</p>
      )}
      {e.oracle ? (
        <p class="evidence-note" safe>
          {e.source === "oracle"
            ? `Source: this server's DNS oracle (${e.oracle.sightings} sighting(s) of ${e.oracle.lookups} lookup(s)).`
            : `This server's DNS oracle saw none of ${e.oracle.lookups} lookup(s); the who-is-asking probes were used.`}
        </p>
      ) : null}
      {e.client_subnets?.length ? (
        <p
          class="evidence-note"
          safe
        >{`EDNS client subnets: ${e.client_subnets.map((s) => s.subnet).join(", ")}`}</p>
      ) : null}
      {e.probe_errors?.length ? (
        <p
          class="evidence-note"
          safe
        >{`Probe errors: ${e.probe_errors.map((p) => `${p.probe}: ${p.error}`).join("; ")}`}</p>
      ) : null}
    </>
  );
}

function ExitDetail({ e }: { e: ExitEvidence }) {
  const answers = [...(e.answers?.ipv4 ?? []), ...(e.answers?.ipv6 ?? [])];
  return (
    <>
      {answers.length ? (
        <ul class="evidence-list">
          {answers.map((a) => (
            <li>
              <span safe>{a.provider}</span>:{" "}
              {a.ip ? (
                <span class="mono" safe>
                  {a.ip}
                </span>
              ) : (
                <span class="muted" safe>
                  {a.error ?? "no answer"}
                </span>
              )}
              {a.latency_ms !== null ? <span class="evidence-by">{a.latency_ms} ms</span> : null}
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">No provider answers.</p>
      )}
      {e.private_answers?.length ? (
        <p class="evidence-note" safe>
          {`Not counted, reached over a private path (a LAN, a veth or loopback): ${e.private_answers.map((a) => `${a.provider} said ${a.ip}`).join(", ")}.`}
        </p>
      ) : null}
      {e.expected && (e.expected.country || e.expected.asn) ? (
        <p class="evidence-note" safe>
          {`Expected: ${[e.expected.country ? countryName(e.expected.country) : null, e.expected.asn ? `AS${e.expected.asn}` : null].filter(Boolean).join(", ")}${e.violations?.length ? ` — broken: ${e.violations.join(", ")}` : ""}`}
        </p>
      ) : null}
    </>
  );
}

function VerdictCard({
  name,
  v,
  asOf,
}: {
  name: keyof Verdicts;
  v: Verdict<unknown> | undefined;
  asOf: AsOf | null;
}) {
  const chip = chipsOf(null).find((c) => c.key === name);
  const severity = v?.severity ?? "grey";
  return (
    <article
      class={`card verdict verdict-${severity}${asOf ? " verdict-stale" : ""}`}
      aria-labelledby={`v-${name}`}
    >
      <header class="verdict-head">
        <h3 id={`v-${name}`} safe>
          {VERDICT_LABEL[name]}
        </h3>
        <StatusBadge
          status={asOf ? "grey" : severity}
          word={v ? v.status.replace("na", "n/a") : (chip?.word ?? "no data")}
        />
      </header>
      {asOf ? <p class="verdict-as-of" safe>{`Last known, ${asOf.text}: the client is offline.`}</p> : null}
      <p class="verdict-reason" safe>
        {v?.reason ?? "No report yet."}
      </p>
      {v ? (
        <details class="evidence">
          <summary>Evidence</summary>
          {name === "bypass" ? <BypassDetail e={v.evidence as BypassEvidence} /> : null}
          {name === "dns" ? <DnsDetail e={v.evidence as DnsEvidence} /> : null}
          {name === "ipv6" ? <AddressList items={(v.evidence as Ipv6Evidence).exits ?? []} /> : null}
          {name === "exit" ? <ExitDetail e={v.evidence as ExitEvidence} /> : null}
          <details class="raw">
            <summary>Raw JSON</summary>
            <pre safe>{JSON.stringify(v.evidence, null, 2)}</pre>
          </details>
        </details>
      ) : null}
    </article>
  );
}

function VerdictsPanel({ verdicts, asOf }: { verdicts: Verdicts | null; asOf: AsOf | null }) {
  return (
    <section class="verdicts" aria-label="Verdicts">
      {VERDICT_KEYS.map((k) => (
        <VerdictCard name={k} v={verdicts?.[k] as Verdict<unknown> | undefined} asOf={asOf} />
      ))}
    </section>
  );
}

const LEVEL = (f: number | null) => (f === null ? "none" : f >= 0.999 ? "ok" : f >= 0.95 ? "warn" : "bad");
const hour = (t: number) => new Date(t).toISOString().slice(5, 16).replace("T", " ");

function BarRow({ label, b, pick }: { label: string; b: BarsView; pick: "up" | "protected" }) {
  const total = b[pick];
  const w = 10;
  return (
    <div class="bar-row">
      <span class="bar-label" safe>
        {label}
      </span>
      <svg
        class="bar"
        viewBox={`0 0 ${b.buckets.length * w} 20`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${label} over the last ${b.label}: ${percent(total)}`}
      >
        {b.buckets.map((k, i) => (
          <rect x={i * w + 1} y="0" width={w - 2} height="20" rx="1.5" class={`lvl-${LEVEL(k[pick])}`}>
            <title safe>{`${hour(k.start)}–${hour(k.end)} UTC: ${percent(k[pick])}`}</title>
          </rect>
        ))}
      </svg>
      <span class="bar-total" safe>
        {percent(total)}
      </span>
    </div>
  );
}

const observedWords = (ms: number) => (ms > 0 ? `· ${span(ms)} observed` : "· nothing observed yet");

function AvailabilityPanel({ bars }: { bars: BarsView[] }) {
  return (
    <section class="card" aria-labelledby="avail-title">
      <h2 id="avail-title">Uptime and protection</h2>
      <p class="muted small">
        Shares of the time observed: after the first report, while the server was up (the rest is unknown, not
        down). Uptime: the client kept reporting. Protected: every check was ok (green).
      </p>
      {bars.map((b) => (
        <div class="bars">
          <h3 class="bars-title">
            <span safe>{`Last ${b.label}`}</span>{" "}
            <span class="bars-observed" safe>
              {observedWords(b.observedMs)}
            </span>
          </h3>
          <BarRow label="Uptime" b={b} pick="up" />
          <BarRow label="Protected" b={b} pick="protected" />
        </div>
      ))}
    </section>
  );
}

/**
 * The last 7 days as segments; each problem stretch is its own tab stop linking to the incident
 * that began it on the events page.
 */
export function WeekStrip({ strip }: { strip: StripView }) {
  return (
    <figure class="week">
      <svg class="week-svg" viewBox="0 0 1000 24" preserveAspectRatio="none">
        <title safe>{strip.summary}</title>
        {strip.segments.map((s) =>
          s.href ? (
            <a href={s.href} aria-label={s.text} class="week-link">
              <rect x={String(s.x)} y="0" width={String(s.width)} height="24" class={`seg seg-${s.status}`}>
                <title safe>{s.text}</title>
              </rect>
            </a>
          ) : (
            <rect x={String(s.x)} y="0" width={String(s.width)} height="24" class={`seg seg-${s.status}`}>
              <title safe>{s.text}</title>
            </rect>
          ),
        )}
      </svg>
      <figcaption class="week-axis">
        <span>7 days ago</span>
        <span>now</span>
      </figcaption>
    </figure>
  );
}

/** The client's incidents, newest first, each linking to its place on the events page. */
export function Timeline({ incidents, clientId }: { incidents: IncidentView[]; clientId: string }) {
  if (!incidents.length) return <p class="muted">No events yet.</p>;
  const events = `/events?client=${encodeURIComponent(clientId)}`;
  return (
    <ol class="timeline">
      {incidents.map((i) => (
        <li class={`tl tl-${i.severity}`}>
          <span class="tl-dot" aria-hidden="true" />
          <div class="tl-body">
            <p class="tl-title">
              <a href={`${events}#incident-${i.id}`} safe>
                {i.title}
              </a>
              {i.suppressed ? <span class="tag">no alert</span> : null}
            </p>
            {i.events
              .flatMap((e) => (e.reason ? [e.reason] : []))
              .map((reason) => (
                <p class="tl-reason" safe>
                  {reason}
                </p>
              ))}
            <p class="tl-time">
              <RelTime at={i.at} text={i.ago} />
            </p>
          </div>
        </li>
      ))}
    </ol>
  );
}

function HistoryTable({ title, entries, now }: { title: string; entries: HistoryEntry[]; now: number }) {
  return (
    <div class="history">
      <h3 safe>{title}</h3>
      {entries.length === 0 ? (
        <p class="muted">Nothing recorded yet.</p>
      ) : (
        <table class="simple">
          <thead>
            <tr>
              <th scope="col">Value</th>
              <th scope="col">Since</th>
              <th scope="col">For</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((h) => (
              <tr>
                <td>
                  <span class="mono" safe>
                    {h.label}
                  </span>
                  {h.detail ? (
                    <span class="muted block small" safe>
                      {h.detail}
                    </span>
                  ) : null}
                </td>
                <td safe>{utcTime(h.from)}</td>
                <td>
                  <span safe>{span((h.until ?? now) - h.from)}</span>
                  {h.until === null ? <span class="tag">current</span> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** Everything that changes when a report arrives: refetched on `sse:client` and by the polling fallback. */
export function ClientLive({ d, now }: { d: ClientDetailView; now: number }) {
  return (
    <div
      id="client-live"
      hx-get={`/clients/${encodeURIComponent(d.row.id)}`}
      hx-trigger="sse:client, poll"
      hx-swap="outerHTML"
      data-live
    >
      <ClientSummary d={d} now={now} />
      <VerdictsPanel verdicts={d.verdicts} asOf={d.row.chipsAsOf} />
      <section class="card" id="timeline" aria-labelledby="week-title">
        <h2 id="week-title">Last 7 days</h2>
        <WeekStrip strip={d.week} />
      </section>
      <div class="grid-2">
        <AvailabilityPanel bars={d.bars} />
        <section class="card" aria-labelledby="timeline-title">
          <h2 id="timeline-title">Incidents</h2>
          <Timeline incidents={d.timeline} clientId={d.row.id} />
        </section>
      </div>
      <section class="card" aria-labelledby="history-title">
        <h2 id="history-title">History</h2>
        <div class="grid-2 tight">
          <HistoryTable title="Exit addresses" entries={d.exits} now={now} />
          <HistoryTable title="DNS resolvers" entries={d.resolvers} now={now} />
        </div>
      </section>
    </div>
  );
}

function numberValue(n: number | null) {
  return n === null ? "" : String(n);
}

export function SettingsPanel({
  ctx,
  d,
  saved,
  error,
}: {
  ctx: PageContext;
  d: ClientDetailView;
  saved?: boolean;
  error?: string;
}) {
  const p = d.policy;
  const id = encodeURIComponent(d.row.id);
  if (!isAdmin(ctx)) {
    return (
      <section id="settings" class="card" aria-labelledby="settings-title">
        <h2 id="settings-title">Settings</h2>
        <dl class="facts">
          <Fact label="Interval override">
            <Text text={p.interval_s === null ? "from the agent" : span(p.interval_s * 1000)} />
          </Fact>
          <Fact label="Grace">
            <Text text={p.grace_s === null ? "default" : span(p.grace_s * 1000)} />
          </Fact>
          <Fact label="Expected country">
            <Text text={p.expected_country ? countryName(p.expected_country) : "any"} />
          </Fact>
          <Fact label="Expected ASN">
            <Text text={p.expected_asn === null ? "any" : `AS${p.expected_asn}`} />
          </Fact>
          <Fact label="Alerts">
            <Text text={p.mutedUntil ? `muted until ${utcTime(p.mutedUntil)}` : "on"} />
          </Fact>
          <Fact label="Monitoring">
            <Text text={p.paused ? "paused" : "active"} />
          </Fact>
          <Fact label="Tags">
            <Text text={p.tags.length ? p.tags.join(", ") : "none"} />
          </Fact>
        </dl>
      </section>
    );
  }
  return (
    <section id="settings" class="card" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      {saved ? <Notice kind="ok" text="Settings saved." /> : null}
      {error ? <Notice kind="error" text={error} /> : null}
      <form
        method="post"
        action={`/clients/${id}/settings`}
        hx-post={`/clients/${id}/settings`}
        hx-target="#settings"
        hx-swap="outerHTML"
      >
        <CsrfField token={ctx.csrf} />
        <fieldset>
          <legend>Schedule</legend>
          <div class="form-grid">
            <div class="field">
              <label for="s-interval">Interval override (seconds)</label>
              <input
                id="s-interval"
                name="interval_s"
                type="number"
                min="5"
                max="86400"
                inputmode="numeric"
                value={numberValue(p.interval_s)}
                placeholder="from the agent"
              />
            </div>
            <div class="field">
              <label for="s-grace">Grace before offline (seconds)</label>
              <input
                id="s-grace"
                name="grace_s"
                type="number"
                min="0"
                max="86400"
                inputmode="numeric"
                value={numberValue(p.grace_s)}
                placeholder="default"
              />
            </div>
          </div>
        </fieldset>
        <fieldset>
          <legend>Expectations</legend>
          <div class="form-grid">
            <div class="field">
              <label for="s-country">Exit country (ISO code)</label>
              <input
                id="s-country"
                name="expected_country"
                maxlength="2"
                pattern="[A-Za-z]{2}"
                value={p.expected_country ?? ""}
                placeholder="any"
                autocomplete="off"
              />
            </div>
            <div class="field">
              <label for="s-asn">Exit ASN</label>
              <input
                id="s-asn"
                name="expected_asn"
                type="number"
                min="1"
                max="4294967295"
                inputmode="numeric"
                value={numberValue(p.expected_asn)}
                placeholder="any"
              />
            </div>
          </div>
        </fieldset>
        <fieldset>
          <legend>Alerts and monitoring</legend>
          <div class="field">
            <label for="s-mute">Mute alerts (the client is still judged and shown)</label>
            <select id="s-mute" name="mute_for">
              <option value="keep" selected>
                {p.mutedUntil ? `Keep: muted until ${utcTime(p.mutedUntil)}` : "Keep: not muted"}
              </option>
              {p.mutedUntil ? <option value="0">Unmute now</option> : null}
              {MUTE_CHOICES.map((m) => (
                <option value={String(m.s)} safe>{`Mute for ${m.label}`}</option>
              ))}
            </select>
          </div>
          <label class="check">
            <input type="checkbox" name="paused" value="1" checked={p.paused} /> Pause monitoring (grey, never
            late or offline)
          </label>
          <div class="field">
            <label for="s-tags">
              Tags (route alerts: a channel with ?tags=home gets only clients tagged home)
            </label>
            <input
              id="s-tags"
              name="tags"
              value={p.tags.join(", ")}
              placeholder="e.g. home, family"
              maxlength="2200"
              autocomplete="off"
            />
          </div>
        </fieldset>
        <div class="form-actions">
          <button type="submit" class="button">
            Save settings
          </button>
        </div>
      </form>
    </section>
  );
}

function DangerZone({ ctx, d }: { ctx: PageContext; d: ClientDetailView }) {
  const id = encodeURIComponent(d.row.id);
  return (
    <section class="card danger" aria-labelledby="danger-title">
      <h2 id="danger-title">Secret and removal</h2>
      <div class="danger-row">
        <div>
          <h3>Rotate secret</h3>
          <p class="muted small">
            Issues a new token. The old one keeps working for 24 hours so you can update the client.
          </p>
        </div>
        <form method="post" action={`/clients/${id}/rotate`}>
          <CsrfField token={ctx.csrf} />
          <button type="submit" class="button secondary">
            Rotate secret
          </button>
        </form>
      </div>
      <div class="danger-row">
        <div>
          <h3>Delete client</h3>
          <p class="muted small">Removes the client, its state and its secret. Events stay in the history.</p>
        </div>
        <a class="button danger-button" href={`/clients/${id}/delete`}>
          Delete…
        </a>
      </div>
    </section>
  );
}

function NetworksPanel({ ctx, d }: { ctx: PageContext; d: ClientDetailView }) {
  const n = d.networks;
  if (!n) return null;
  const id = encodeURIComponent(d.row.id);
  const table = (caption: string, rows: { label: string; share: string }[]) => (
    <table class="simple">
      <caption class="sr-only" safe>
        {caption}
      </caption>
      <thead>
        <tr>
          <th scope="col" safe>
            {caption}
          </th>
          <th scope="col">Share</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr>
            <td safe>{r.label}</td>
            <td safe>{r.share}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
  return (
    <section id="networks" class="card" aria-labelledby="networks-title">
      <h2 id="networks-title">Exit networks, last 30 days</h2>
      <p class="muted small">
        What this client used, by share of the time it was reporting. An exit in a network not among them
        raises “New exit network”. Lock makes them the only allowed ones: any other exit turns the client red.
      </p>
      {n.networks.length === 0 ? (
        <p class="muted">Nothing learned yet.</p>
      ) : (
        <div class="grid-2 tight">
          {table("Network", n.networks)}
          {table("Country", n.countries)}
        </div>
      )}
      {n.locked ? <p safe>{`Locked to ${n.locked}.`}</p> : <p>Not locked.</p>}
      {isAdmin(ctx) ? (
        <div class="form-actions">
          {n.canLock ? (
            <form method="post" action={`/clients/${id}/lock`}>
              <CsrfField token={ctx.csrf} />
              <button type="submit" class="button secondary">
                {n.locked ? "Lock again to these" : "Lock to these"}
              </button>
            </form>
          ) : null}
          {n.locked ? (
            <form method="post" action={`/clients/${id}/unlock`}>
              <CsrfField token={ctx.csrf} />
              <button type="submit" class="button secondary">
                Unlock
              </button>
            </form>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}

const NOTICES: Record<string, string> = {
  locked: "Locked: an exit outside these networks and countries now turns the client red.",
  unlocked: "Unlocked: any exit network is allowed again.",
  "nothing-learned": "Nothing to lock to yet: this client has no exit network in its last 30 days.",
  "lock-too-large": "This client used too many exit networks to lock to.",
  muted: "Alerts for this client are muted for 24 hours.",
  unmuted: "Alerts for this client are on again.",
  paused: "Monitoring is paused.",
  resumed: "Monitoring resumed.",
  "badge-revoked": "The badge link is revoked: it shows nothing any more.",
};

export function ClientPage({
  ctx,
  d,
  now,
  notice,
  badges = [],
}: {
  ctx: PageContext;
  d: ClientDetailView;
  now: number;
  notice?: string;
  /** the client's badge links (admins only) */
  badges?: BadgeView[];
}) {
  const id = encodeURIComponent(d.row.id);
  const text = notice ? NOTICES[notice] : undefined;
  return (
    <Layout ctx={ctx} title={d.row.name}>
      <div
        hx-ext="sse"
        sse-connect={`/events/stream?view=client&id=${id}&since=${encodeURIComponent(ctx.live)}`}
        data-live-root
      >
        <nav class="crumbs" aria-label="Breadcrumb">
          <a href="/">Overview</a> <span aria-hidden="true">/</span>{" "}
          <span aria-current="page" safe>
            {d.row.name}
          </span>
        </nav>
        <div class="page-header">
          <div>
            <h1 class="client-title" safe>
              {d.row.name}
            </h1>
            <p class="page-sub mono" safe>
              {d.row.id}
            </p>
          </div>
          <div class="page-actions">
            <LiveIndicator />
            {isAdmin(ctx) ? (
              <>
                <form method="post" action={`/clients/${id}/mute`}>
                  <CsrfField token={ctx.csrf} />
                  <input type="hidden" name="for" value={d.policy.mutedUntil ? "0" : "86400"} />
                  <button
                    type="submit"
                    class="button secondary"
                    title={d.policy.mutedUntil ? undefined : "Mute alerts for 24 hours"}
                  >
                    {d.policy.mutedUntil ? "Unmute alerts" : "Mute alerts for 24 h"}
                  </button>
                </form>
                <form method="post" action={`/clients/${id}/pause`}>
                  <CsrfField token={ctx.csrf} />
                  <input type="hidden" name="on" value={d.policy.paused ? "0" : "1"} />
                  <button type="submit" class="button secondary">
                    {d.policy.paused ? "Resume" : "Pause"}
                  </button>
                </form>
              </>
            ) : null}
          </div>
        </div>
        {text ? <Notice kind="ok" text={text} /> : null}
        <ClientLive d={d} now={now} />
        <NetworksPanel ctx={ctx} d={d} />
        <SettingsPanel ctx={ctx} d={d} />
        {isAdmin(ctx) ? <BadgesPanel ctx={ctx} clientId={d.row.id} badges={badges} /> : null}
        {isAdmin(ctx) ? <DangerZone ctx={ctx} d={d} /> : null}
      </div>
    </Layout>
  );
}

export function DeleteClientPage({
  ctx,
  d,
  error,
}: {
  ctx: PageContext;
  d: ClientDetailView;
  error?: string;
}) {
  const id = encodeURIComponent(d.row.id);
  return (
    <Layout ctx={ctx} title={`Delete ${d.row.name}`}>
      <section class="card narrow" aria-labelledby="del-title">
        <h1 id="del-title" safe>{`Delete ${d.row.name}?`}</h1>
        <p>
          This removes the client, its current state and its secret; the agent's reports will be refused. Past
          events stay in the history. This cannot be undone.
        </p>
        {error ? <Notice kind="error" text={error} /> : null}
        <form method="post" action={`/clients/${id}/delete`}>
          <CsrfField token={ctx.csrf} />
          <div class="field">
            <label for="d-confirm">
              Type the client's name (
              <span class="mono" safe>
                {d.row.name}
              </span>
              ) to confirm
            </label>
            <input id="d-confirm" name="confirm" required autocomplete="off" />
          </div>
          <div class="form-actions">
            <button type="submit" class="button danger-button">
              Delete client
            </button>
            <a class="button secondary" href={`/clients/${id}`}>
              Cancel
            </a>
          </div>
        </form>
      </section>
    </Layout>
  );
}

export const clientEmpty = () => <Empty title="No such client" />;
