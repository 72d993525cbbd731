/**
 * The OpenAPI 3.1 description served at /api/v1/openapi.json. Hand-written and small: the
 * route list is checked against the app by test/api-docs.test.ts, so it cannot drift.
 */
import { EVENT_KINDS } from "../../protocol/events.ts";
import { VERSION } from "../../version.ts";

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object, description = "OK") => ({
  description,
  content: { "application/json": { schema } },
});
const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), json(ref("Error"), `error (see docs/api.md)`)]));
const bearer = [{ bearer: [] }];
const idParam = { name: "id", in: "path", required: true, schema: { type: "string" } };
/** The DNS oracle's zone, and the labels a client resolves next (docs/protocol.md, "DNS oracle"). */
const oracleGrant = {
  type: "object",
  properties: {
    zone: { type: "string" },
    labels: { type: "array", items: { type: "string" } },
    expires_in_s: { type: "integer" },
  },
  required: ["zone"],
};

export function openApiDocument() {
  return {
    openapi: "3.1.0",
    info: {
      title: "VPN Sentinel API",
      version: VERSION,
      description: "See docs/api.md and docs/protocol.md.",
    },
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "API token from `sentinel tokens add NAME --role admin|viewer`",
        },
        reportSignature: {
          type: "apiKey",
          in: "header",
          name: "Sentinel-Signature",
          description: "HMAC signature, docs/protocol.md",
        },
        legacyKey: { type: "apiKey", in: "header", name: "X-API-Key" },
      },
      schemas: {
        Error: {
          type: "object",
          required: ["error"],
          properties: {
            error: {
              type: "object",
              required: ["code", "message"],
              properties: {
                code: { type: "string" },
                message: { type: "string" },
                fields: {
                  type: "array",
                  items: {
                    type: "object",
                    properties: { path: { type: "string" }, message: { type: "string" } },
                  },
                },
              },
            },
          },
        },
        ClientSummary: {
          type: "object",
          properties: {
            id: { type: "string" },
            name: { type: "string" },
            status: { enum: ["green", "yellow", "red", "grey"] },
            liveness: { enum: ["never", "online", "late", "offline"] },
            last_seen: { type: ["string", "null"], format: "date-time" },
            exit: { type: ["object", "null"] },
            verdicts: {
              type: ["object", "null"],
              description: "bypass, dns, ipv6, exit: {status, severity, reason, evidence}",
            },
            rotation_pending: { type: "boolean" },
            tags: { type: "array", items: { type: "string" } },
          },
        },
        ServerWarning: {
          type: "object",
          description:
            "A server-wide problem that makes some verdicts impossible, e.g. home_unknown: no home address or AS is known, so every bypass verdict is unknown",
          required: ["code", "title", "message"],
          properties: {
            code: { type: "string", examples: ["home_unknown"] },
            title: { type: "string" },
            message: { type: "string", description: "why, and how to fix it" },
          },
        },
        Settings: {
          type: "object",
          properties: {
            interval: { type: ["integer", "null"], description: "seconds; null = the agent's own" },
            grace: { type: ["integer", "null"], description: "seconds; null = the server default" },
            expected_country: { type: ["string", "null"] },
            expected_asn: { type: ["integer", "null"] },
            paused: { type: "boolean" },
            muted_until: { type: ["string", "null"], format: "date-time" },
            dns_allow_asns: { type: "array", items: { type: "integer" } },
            exit_asns: {
              type: ["array", "null"],
              items: { type: "integer" },
              description:
                "locked exit networks; an exit in another AS is red (exit.unexpected); null = not locked",
            },
            exit_countries: {
              type: ["array", "null"],
              items: { type: "string" },
              description: "locked exit countries (ISO codes); null = not locked",
            },
            tags: {
              type: "array",
              maxItems: 32,
              items: { type: "string", pattern: "^[A-Za-z0-9_.-]{1,64}$" },
              description:
                "routes the client's alerts (a channel URL's ?tags=); stored in lower case, each once",
            },
          },
        },
        Event: {
          type: "object",
          properties: {
            id: { type: "integer" },
            client_id: { type: ["string", "null"] },
            kind: { enum: [...EVENT_KINDS] },
            severity: { enum: ["red", "yellow", "green", "info"] },
            from: { type: ["string", "null"] },
            to: { type: ["string", "null"] },
            at: { type: "string", format: "date-time" },
            suppressed: { type: "boolean" },
            evidence: { type: "object" },
          },
        },
        TimelineSegment: {
          type: "object",
          properties: {
            from: { type: "string", format: "date-time" },
            to: { type: "string", format: "date-time" },
            duration_s: { type: "integer" },
            status: { enum: ["green", "yellow", "red", "grey", "unknown"] },
            reasons: { type: "array", items: { type: "string" }, examples: [["Bypass", "DNS leak"]] },
            causes: {
              type: "array",
              items: { type: "string" },
              description:
                "cause codes: bypass:leak, dns:suspect, offline, paused, not_seen, server_down, ...",
            },
          },
        },
        IncidentStat: {
          type: "object",
          properties: {
            count: { type: "integer", description: "incidents that began in the period" },
            duration_s: { type: "integer", description: "observed time in the period spent in it" },
          },
        },
        ClientPeriodSummary: {
          type: "object",
          properties: {
            id: { type: "string" },
            name: { type: "string" },
            status: { enum: ["green", "yellow", "red", "grey"] },
            observed_s: { type: "integer", description: "time the client was seen and the server up" },
            uptime: { type: ["number", "null"], description: "online or late, over observed time" },
            protected: { type: ["number", "null"], description: "green, over observed time" },
            status_s: { type: "object" },
            incidents: {
              type: "object",
              properties: Object.fromEntries(
                ["bypass", "dns", "ipv6", "exit", "offline"].map((k) => [k, ref("IncidentStat")]),
              ),
            },
            mttr_s: { type: ["integer", "null"], description: "mean time from turning red to recovering" },
            recoveries: { type: "integer" },
            dns_leaks_per_week: { type: ["number", "null"] },
            status_changes: { type: "integer" },
          },
        },
        EventPage: {
          type: "object",
          properties: {
            events: { type: "array", items: ref("Event") },
            next_cursor: { type: ["string", "null"] },
          },
        },
      },
    },
    paths: {
      "/healthz": { get: { summary: "The process answers", responses: { 200: json({ type: "object" }) } } },
      "/readyz": {
        get: {
          summary:
            "Database reachable (SQLite: writable), migrations applied, server key right; the replica's role",
          responses: { 200: json({ type: "object" }), 503: json({ type: "object" }) },
        },
      },
      "/api/v1/whoami": {
        get: {
          summary:
            "The address the server sees; with --dns-zone, the DNS oracle's zone (and labels for ?client=ID)",
          parameters: [{ name: "client", in: "query", schema: { type: "string" } }],
          responses: {
            200: json({
              type: "object",
              properties: { ip: { type: ["string", "null"] }, dns_oracle: oracleGrant },
            }),
            ...errors(400, 429),
          },
        },
      },
      "/api/v1/reports": {
        post: {
          summary: "A signed report (docs/protocol.md)",
          security: [{ reportSignature: [] }],
          requestBody: { required: true, content: { "application/json": { schema: { type: "object" } } } },
          responses: {
            202: json({
              type: "object",
              properties: {
                accepted: { const: true },
                server_time: { type: "string" },
                next_report_in_s: { type: "integer" },
                status: { enum: ["green", "yellow", "red", "grey"] },
                reasons: { type: "array", items: { type: "string" } },
                dns_oracle: oracleGrant,
                features: { type: "array", items: { type: "string" } },
              },
            }),
            ...errors(400, 401, 413, 415, 429, 503),
          },
        },
      },
      "/api/v1/keepalive": {
        post: {
          summary: "The predecessor's keepalive (only with --legacy-api-key)",
          security: [{ legacyKey: [] }],
          responses: { 200: json({ type: "object" }), ...errors(400, 401, 413, 415, 429, 503) },
        },
      },
      "/api/v1/clients": {
        get: {
          summary: "Clients by name, a page at a time",
          security: bearer,
          parameters: [
            { name: "cursor", in: "query", schema: { type: "string" } },
            {
              name: "limit",
              in: "query",
              schema: { type: "integer", minimum: 1, maximum: 1000, default: 500 },
            },
          ],
          responses: {
            200: json({
              type: "object",
              properties: {
                clients: { type: "array", items: ref("ClientSummary") },
                next_cursor: { type: ["string", "null"] },
                warnings: { type: "array", items: ref("ServerWarning") },
              },
            }),
            ...errors(400, 401),
          },
        },
      },
      "/api/v1/clients/{id}": {
        get: {
          summary: "One client with evidence",
          security: bearer,
          parameters: [idParam],
          responses: { 200: json(ref("ClientSummary")), ...errors(401, 404) },
        },
        patch: {
          summary: "Change settings (admin)",
          security: bearer,
          parameters: [idParam],
          requestBody: { required: true, content: { "application/json": { schema: ref("Settings") } } },
          responses: { 200: json(ref("ClientSummary")), ...errors(400, 401, 403, 404, 415) },
        },
        delete: {
          summary: "Delete a client and its state (admin)",
          security: bearer,
          parameters: [idParam],
          responses: { 204: { description: "deleted" }, ...errors(401, 403, 404) },
        },
      },
      "/api/v1/clients/{id}/events": {
        get: {
          summary: "A client's events",
          security: bearer,
          parameters: [idParam],
          responses: { 200: json(ref("EventPage")), ...errors(400, 401, 404) },
        },
      },
      "/api/v1/clients/{id}/uptime": {
        get: {
          summary: "Uptime and protected time over a window",
          security: bearer,
          parameters: [idParam, { name: "window", in: "query", schema: { type: "string", default: "24h" } }],
          responses: { 200: json({ type: "object" }), ...errors(400, 401, 404) },
        },
      },
      "/api/v1/clients/{id}/timeline": {
        get: {
          summary: "Status segments (merged, gap-free; unknown where nothing is known)",
          security: bearer,
          parameters: [
            idParam,
            { name: "from", in: "query", schema: { type: "string" }, description: "default: to - 24 h" },
            { name: "to", in: "query", schema: { type: "string" }, description: "default: now" },
          ],
          responses: {
            200: json({
              type: "object",
              properties: {
                client_id: { type: "string" },
                from: { type: "string", format: "date-time" },
                to: { type: "string", format: "date-time" },
                segments: { type: "array", items: ref("TimelineSegment") },
              },
            }),
            ...errors(400, 401, 404),
          },
        },
      },
      "/api/v1/summary": {
        get: {
          summary: "Per client over a period: uptime, protected time, incidents by kind, MTTR; worst first",
          security: bearer,
          parameters: [
            { name: "period", in: "query", schema: { enum: ["24h", "7d", "30d", "90d"], default: "7d" } },
          ],
          responses: {
            200: json({
              type: "object",
              properties: {
                period: { type: "string" },
                from: { type: "string", format: "date-time" },
                to: { type: "string", format: "date-time" },
                fleet: { type: "object" },
                clients: { type: "array", items: ref("ClientPeriodSummary") },
              },
            }),
            ...errors(400, 401),
          },
        },
      },
      "/api/v1/clients/{id}/networks": {
        get: {
          summary:
            "The exit networks (AS) and countries the client used in the last 30 days, by share, and its lock",
          security: bearer,
          parameters: [idParam],
          responses: { 200: json({ type: "object" }), ...errors(401, 404) },
        },
      },
      "/api/v1/clients/{id}/lock": {
        post: {
          summary: "Lock the client to the exit networks and countries it used in the last 30 days (admin)",
          security: bearer,
          parameters: [idParam],
          responses: { 200: json(ref("ClientSummary")), ...errors(401, 403, 404, 409) },
        },
      },
      "/api/v1/events": {
        get: {
          summary: "Events, newest first",
          security: bearer,
          parameters: ["since", "kind", "client", "cursor", "limit"].map((name) => ({
            name,
            in: "query",
            schema: { type: "string" },
          })),
          responses: { 200: json(ref("EventPage")), ...errors(400, 401) },
        },
      },
      "/api/v1/export": {
        get: {
          summary:
            "Clients (with policies and sealed secrets), API tokens (hashes), users (password hashes) and dashboard alert channels (URLs sealed); admin",
          security: bearer,
          responses: { 200: json({ type: "object" }), ...errors(401, 403) },
        },
      },
      "/api/v1/import": {
        post: {
          summary: "Add what an export holds that does not exist here; existing names are kept; admin",
          security: bearer,
          requestBody: { required: true, content: { "application/json": { schema: { type: "object" } } } },
          responses: { 200: json({ type: "object" }), ...errors(400, 401, 403, 409, 413, 415) },
        },
      },
      "/api/v1/openapi.json": {
        get: { summary: "This document", responses: { 200: json({ type: "object" }) } },
      },
    },
  };
}
