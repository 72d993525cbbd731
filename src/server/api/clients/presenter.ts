/** The JSON the API shows for a client. Secrets never leave the server. */
import type { ClientSettings } from "../../monitor/service.ts";
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
  };
}

export function presentClient(c: ClientRecord, now: number) {
  return {
    ...presentClientSummary(c, now),
    created_at: iso(c.createdAt),
    settings: presentSettings(c.policy),
    late_at: iso(c.lateAt),
    offline_at: iso(c.offlineAt),
    last_source_ip: c.lastSourceIp,
    state: c.state,
    last_report: c.lastReport,
  };
}

/** The per-client settings as the API takes them (PATCH) and shows them. */
export function presentSettings(policy: Record<string, unknown>) {
  const p = policy as ClientSettings;
  return {
    interval: p.interval_s ?? null,
    grace: p.grace_s ?? null,
    expected_country: p.expected_country ?? null,
    expected_asn: p.expected_asn ?? null,
    paused: p.paused ?? false,
    muted_until: p.muted_until ? new Date(p.muted_until).toISOString() : null,
    dns_allow_asns: p.dns_allow_asns ?? null,
  };
}
