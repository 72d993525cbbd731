/** The JSON the API shows for a client. Secrets never leave the server. */
import type { NetworkProfile } from "../../monitor/networks.ts";
import type { ClientSettings } from "../../monitor/settings.ts";
import type { ClientRecord } from "../../store/index.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function presentClientSummary(c: ClientRecord, now: number) {
  const state = (c.state ?? {}) as Record<string, unknown>;
  return {
    id: c.id,
    name: c.name,
    status: c.status,
    liveness: c.liveness,
    last_seen: iso(c.lastReportAt),
    last_seen_s_ago: c.lastReportAt === null ? null : Math.max(0, Math.round((now - c.lastReportAt) / 1000)),
    exit: state.exit ?? null,
    verdicts: state.verdicts ?? null,
    rotation_pending: c.prevSecretUntil !== null && c.prevSecretUntil > now,
    tags: c.settings.tags,
  };
}

export function presentClient(c: ClientRecord, now: number) {
  return {
    ...presentClientSummary(c, now),
    created_at: iso(c.createdAt),
    settings: presentSettings(c.settings),
    late_at: iso(c.lateAt),
    offline_at: iso(c.offlineAt),
    last_source_ip: c.lastSourceIp,
    state: c.state,
    last_report: c.lastReport,
  };
}

/** The per-client settings as the API takes them (PATCH) and shows them. */
export function presentSettings(s: ClientSettings) {
  return {
    interval: s.interval_s,
    grace: s.grace_s,
    expected_country: s.expected_country,
    expected_asn: s.expected_asn,
    paused: s.paused,
    muted_until: s.muted_until === null ? null : new Date(s.muted_until).toISOString(),
    dns_allow_asns: s.dns_allow_asns,
    exit_asns: s.exit_asns,
    exit_countries: s.exit_countries,
    tags: s.tags,
  };
}

/** GET /api/v1/clients/:id/networks: what the client used in the window, and its lock. */
export function presentNetworks(profile: NetworkProfile, s: ClientSettings) {
  const pct = (share: number) => Math.round(share * 1000) / 10;
  return {
    window: `${Math.round(profile.window_ms / 86_400_000)}d`,
    networks: profile.asns.map((n) => ({
      asn: n.asn,
      org: n.org,
      share_percent: pct(n.share),
      seconds: Math.round(n.ms / 1000),
    })),
    countries: profile.countries.map((c) => ({
      country: c.country,
      share_percent: pct(c.share),
      seconds: Math.round(c.ms / 1000),
    })),
    locked: { exit_asns: s.exit_asns, exit_countries: s.exit_countries },
  };
}
