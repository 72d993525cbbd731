import { AUTH_SCHEMA } from "./schema/auth.ts";
import { OUTBOX_SCHEMA } from "./schema/outbox.ts";

/**
 * Versioned schema. Append only: a released migration is never edited. Each entry runs in
 * its own transaction and bumps PRAGMA user_version.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: clients, their current state, API tokens, nonces, events, server meta
  `
  CREATE TABLE clients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at INTEGER NOT NULL,
    secret_enc TEXT NOT NULL,
    prev_secret_enc TEXT,
    prev_secret_until INTEGER,
    policy_json TEXT NOT NULL DEFAULT '{}',
    state_json TEXT,
    last_report_json TEXT,
    last_source_ip TEXT,
    last_report_at INTEGER,
    status TEXT NOT NULL DEFAULT 'grey',
    liveness TEXT NOT NULL DEFAULT 'never',
    late_at INTEGER,
    offline_at INTEGER
  );
  CREATE INDEX clients_late_at ON clients(late_at) WHERE late_at IS NOT NULL;
  CREATE INDEX clients_offline_at ON clients(offline_at) WHERE offline_at IS NOT NULL;

  CREATE TABLE nonces (
    client_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, nonce)
  ) WITHOUT ROWID;
  CREATE INDEX nonces_expires_at ON nonces(expires_at);

  CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
  );

  CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT,
    kind TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT,
    evidence_json TEXT NOT NULL DEFAULT '{}',
    at INTEGER NOT NULL,
    suppressed INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX events_client_at ON events(client_id, at);
  CREATE INDEX events_at ON events(at);

  CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // 2: notification outbox (src/server/store/schema/outbox.ts)
  OUTBOX_SCHEMA,
  // 3: dashboard users, sessions, audit log (src/server/store/schema/auth.ts)
  AUTH_SCHEMA,
];
