/**
 * The server's metrics: what happens (reports by result, latency, signature failures, flips)
 * is counted in-process; what is (clients by status, outbox depth, sweeper lag) is read from
 * the store at scrape time, so it is right after a restart and across processes.
 */
import { COMMIT, TARGET, VERSION } from "../../version.ts";
import type { Broker } from "../broker.ts";
import type { Store } from "../store/index.ts";
import { type Counter, type Histogram, MetricsRegistry } from "./registry.ts";

/**
 * Where outbox numbers come from. The default reads the outbox table; the notify feature may
 * provide its own (e.g. live delivery counters) without /metrics knowing how it works.
 */
export interface OutboxMetricsSource {
  /** rows per channel and status (pending, sending, delivered, failed, suppressed) */
  byChannel(): Promise<{ channel: string; status: string; count: number }[]>;
}

export const storeOutboxSource = (store: Store): OutboxMetricsSource => ({
  byChannel: () => store.stats.outboxByChannel(),
});

/** How a report request ended, from its HTTP status. */
export function reportResult(status: number): string {
  if (status === 202 || status === 200) return "accepted";
  if (status === 401) return "unauthorized";
  if (status === 429) return "rate_limited";
  if (status === 503) return "unavailable";
  if (status === 400 || status === 413 || status === 415 || status === 422) return "invalid";
  return status >= 500 ? "error" : "other";
}

export interface ServerMetricsDeps {
  store: Store;
  broker: Broker;
  now: () => number;
  outbox?: OutboxMetricsSource;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class ServerMetrics {
  readonly registry = new MetricsRegistry();
  readonly reports: Counter;
  readonly reportLatency: Histogram;
  readonly authFailures: Counter;
  readonly flips: Counter;
  readonly leadershipChanges: Counter;
  private readonly unsubscribe: () => void;

  constructor(deps: ServerMetricsDeps) {
    const r = this.registry;
    const { store, now } = deps;
    const outbox = deps.outbox ?? storeOutboxSource(store);
    const build = r.gauge("sentinel_build_info", "Build of the running server (always 1)");
    build.set({ version: VERSION, commit: COMMIT, target: TARGET }, 1);
    this.reports = r.counter(
      "sentinel_reports_total",
      "Report requests by result (accepted, unauthorized, invalid, rate_limited, unavailable, error)",
    );
    this.reportLatency = r.histogram(
      "sentinel_report_duration_seconds",
      "Time to verify, judge and store a report",
      LATENCY_BUCKETS,
    );
    this.authFailures = r.counter(
      "sentinel_report_auth_failures_total",
      "Refused report and keepalive authentications by reason (bad_signature, unknown_client, stale_timestamp, replayed_nonce, missing_or_malformed_headers; bad_legacy_key, not_a_legacy_client)",
    );
    this.flips = r.counter("sentinel_flips_total", "State changes (events) stored, by kind");
    const clients = r.gauge("sentinel_clients", "Clients by status (green, yellow, red, grey) and liveness");
    const outboxRows = r.gauge(
      "sentinel_outbox_messages",
      "Outbox rows by channel and status; finished rows are pruned after 30 days",
    );
    const depth = r.gauge(
      "sentinel_outbox_depth",
      "Notifications waiting to be delivered (pending + sending)",
    );
    const lag = r.gauge(
      "sentinel_sweeper_lag_seconds",
      "How long the oldest due liveness deadline has waited for the sweeper",
    );
    const scrape = r.gauge("sentinel_scrape_errors", "1 when the last scrape could not read the database");
    const leader = r.gauge(
      "sentinel_leader",
      "1 when this replica leads (runs the sweeper, reminders, digests and delivery), 0 when it follows; SQLite always leads",
    );
    this.leadershipChanges = r.counter(
      "sentinel_leadership_changes_total",
      "Times this replica became the leader (to=leader) or stopped being it (to=follower)",
    );

    r.onCollect(async () => {
      leader.set({ engine: store.engine }, store.leadership.isLeader() ? 1 : 0);
      clients.reset();
      outboxRows.reset();
      try {
        for (const c of await store.stats.clientsByStatus())
          clients.set({ status: c.status, liveness: c.liveness }, c.count);
        let open = 0;
        for (const o of await outbox.byChannel()) {
          outboxRows.set({ channel: o.channel, status: o.status }, o.count);
          if (o.status === "pending" || o.status === "sending") open += o.count;
        }
        depth.set({}, open);
        const t = now();
        const due = await store.stats.oldestDueCheck(t);
        lag.set({}, due === null ? 0 : Math.max(0, (t - due) / 1000));
        scrape.set({}, 0);
      } catch {
        // a full or broken disk must not break the scrape that would show it
        scrape.set({}, 1);
      }
    });

    // count flips as they are stored
    this.unsubscribe = deps.broker.subscribe("events.created", ({ kinds }) => {
      for (const kind of kinds) this.flips.inc({ kind });
    });
  }

  observeReport(status: number, seconds: number): void {
    const result = reportResult(status);
    this.reports.inc({ result });
    if (result === "accepted") this.reportLatency.observe(seconds);
  }

  leadershipChanged(leading: boolean): void {
    this.leadershipChanges.inc({ to: leading ? "leader" : "follower" });
  }

  authFailure(reason: string): void {
    this.authFailures.inc({ reason });
  }

  render(): Promise<string> {
    return this.registry.render();
  }

  close(): void {
    this.unsubscribe();
  }
}
