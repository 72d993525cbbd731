import { EVENT_SEVERITY, type EventKind, isEventKind } from "../../../protocol/events.ts";
import { ApiError } from "../../errors.ts";
import type { EventQuery, EventRecord } from "../../store/index.ts";

export function presentEvent(e: EventRecord) {
  return {
    id: e.id,
    client_id: e.clientId,
    kind: e.kind,
    severity: isEventKind(e.kind) ? EVENT_SEVERITY[e.kind as EventKind] : "info",
    from: e.from,
    to: e.to,
    at: new Date(e.at).toISOString(),
    suppressed: e.suppressed,
    evidence: e.evidence,
  };
}

/** ?since=&kind=&client=&cursor=&limit= → a store query; a bad value is a 400 naming it. */
export function parseEventQuery(q: Record<string, string | undefined>, clientId?: string): EventQuery {
  const fields: { path: string; message: string }[] = [];
  const query: EventQuery = { limit: 100 };
  if (clientId ?? q.client) query.clientId = clientId ?? q.client;
  if (q.since) {
    const t = /^\d+$/.test(q.since) ? Number(q.since) : Date.parse(q.since);
    if (Number.isNaN(t))
      fields.push({
        path: "/since",
        message: "must be an ISO 8601 date-time or milliseconds since the epoch",
      });
    else query.since = t;
  }
  if (q.kind) {
    const kinds = q.kind.split(",").map((k) => k.trim());
    const bad = kinds.filter((k) => !isEventKind(k));
    if (bad.length)
      fields.push({ path: "/kind", message: "unknown event kind (see docs/api.md for the list)" });
    else query.kinds = kinds;
  }
  if (q.cursor) {
    if (!/^\d{1,15}$/.test(q.cursor))
      fields.push({ path: "/cursor", message: "must be the next_cursor of a previous page" });
    else query.before = Number(q.cursor);
  }
  if (q.limit) {
    const n = Number(q.limit);
    if (!Number.isInteger(n) || n < 1 || n > 500)
      fields.push({ path: "/limit", message: "must be 1 to 500" });
    else query.limit = n;
  }
  if (fields.length) throw new ApiError(400, "validation_failed", "invalid query parameters", fields);
  return query;
}

export function eventPage(events: EventRecord[], limit: number) {
  return {
    events: events.map(presentEvent),
    next_cursor: events.length === limit ? String(events.at(-1)?.id) : null,
  };
}
