/**
 * PostgreSQL rows to port records. Bun returns `bigint` columns (times, ids, counts) as strings
 * so that no digit is lost; every value here fits a JS number exactly (ms timestamps, ids, AS
 * numbers), so the mappers convert them. `json` columns arrive parsed.
 */
import { readSettings } from "../../monitor/settings.ts";
import type {
  ApiRole,
  ApiTokenRecord,
  AuditEntry,
  ClientColumns,
  ClientRecord,
  ClientSummary,
  EventRecord,
  HistoryRow,
  LaneRecord,
  OutboxRow,
  OutboxStatus,
  SessionRecord,
  UserRecord,
} from "../types.ts";

// biome-ignore lint/suspicious/noExplicitAny: a row's cells are whatever the column's type decodes to
export type Row = Record<string, any>;

/** A bigint (or int) column as a JS number; null stays null. */
export const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const int = (v: unknown): number => Number(v);
const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** Cause codes are stored comma-separated ("" for none). */
const causesOf = (v: unknown): string[] => (typeof v === "string" && v !== "" ? v.split(",") : []);

export function toSummary(r: Row): ClientSummary {
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    liveness: r.liveness,
    lastReportAt: num(r.last_report_at),
    exit:
      typeof r.exit_ip === "string"
        ? { ip: r.exit_ip, country: text(r.exit_country), asn: num(r.exit_asn), org: text(r.exit_org) }
        : null,
    statusSince: num(r.status_since),
    causes: causesOf(r.causes),
  };
}

export function toClient(r: Row): ClientRecord {
  return { ...toColumns(r), state: r.state_json ?? null, lastReport: r.last_report_json ?? null };
}

export function toColumns(r: Row): ClientColumns {
  return {
    ...toSummary(r),
    createdAt: int(r.created_at),
    origin: r.origin === "legacy" ? "legacy" : "enrolled",
    secretEnc: r.secret_enc,
    prevSecretEnc: text(r.prev_secret_enc),
    prevSecretUntil: num(r.prev_secret_until),
    settings: readSettings(r.policy_json),
    lastSourceIp: text(r.last_source_ip),
    lastObservedAt: num(r.last_observed_at),
    lateAt: num(r.late_at),
    offlineAt: num(r.offline_at),
    nextCheckAt: num(r.next_check_at),
    revision: int(r.revision),
  };
}

export function toEvent(r: Row): EventRecord {
  return {
    id: int(r.id),
    clientId: text(r.client_id),
    kind: r.kind,
    from: text(r.from_status),
    to: text(r.to_status),
    evidence: r.evidence_json ?? {},
    at: int(r.at),
    suppressed: r.suppressed === true,
  };
}

export function toHistory(r: Row): HistoryRow {
  return {
    at: int(r.at),
    status: r.status,
    liveness: r.liveness,
    exitIpv4: text(r.exit_ipv4),
    exitIpv6: text(r.exit_ipv6),
    resolvers: text(r.resolvers),
    causes: text(r.causes),
    detail: r.detail_json ?? null,
  };
}

export function toToken(r: Row): ApiTokenRecord {
  return {
    id: r.id,
    name: r.name,
    role: r.role as ApiRole,
    tokenHash: r.token_hash,
    createdAt: int(r.created_at),
    lastUsedAt: num(r.last_used_at),
    revokedAt: num(r.revoked_at),
  };
}

export function toUser(r: Row): UserRecord {
  return {
    id: r.id,
    name: r.name,
    role: r.role as ApiRole,
    passwordHash: r.password_hash,
    createdAt: int(r.created_at),
    passwordChangedAt: int(r.password_changed_at),
    lastLoginAt: num(r.last_login_at),
    failedLogins: int(r.failed_logins),
    lockedUntil: num(r.locked_until),
  };
}

export function toSession(r: Row): SessionRecord {
  return {
    idHash: r.id_hash,
    userId: r.user_id,
    csrfToken: r.csrf_token,
    createdAt: int(r.created_at),
    expiresAt: int(r.expires_at),
    lastSeenAt: int(r.last_seen_at),
    sourceIp: text(r.source_ip),
  };
}

export function toAudit(r: Row): AuditEntry {
  return {
    id: int(r.id),
    at: int(r.at),
    actor: r.actor,
    action: r.action,
    target: text(r.target),
    detail: r.detail_json ?? {},
    sourceIp: text(r.source_ip),
  };
}

export function toOutbox(r: Row): OutboxRow {
  return {
    id: int(r.id),
    eventId: num(r.event_id),
    clientId: text(r.client_id),
    kind: r.kind,
    channel: r.channel,
    target: r.target,
    idempotencyKey: r.idempotency_key,
    payload: r.payload_json,
    status: r.status as OutboxStatus,
    digestId: num(r.digest_id),
    attempts: int(r.attempts),
    partsSent: int(r.parts_sent),
    nextAttemptAt: int(r.next_attempt_at),
    claimedBy: text(r.claimed_by),
    claimedUntil: num(r.claimed_until),
    lastError: text(r.last_error),
    createdAt: int(r.created_at),
    deliveredAt: num(r.delivered_at),
  };
}

export function toLane(r: Row): LaneRecord {
  return {
    channel: r.channel,
    target: r.target,
    lastOkAt: num(r.last_ok_at),
    failingSince: num(r.failing_since),
    lastError: text(r.last_error),
    lastErrorAt: num(r.last_error_at),
  };
}
