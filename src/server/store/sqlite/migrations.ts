import type { Database } from "bun:sqlite";
import { nonceHash } from "../nonce-hash.ts";
import { packHashes } from "./nonce-log.ts";
import { AUTH_SCHEMA } from "./schema/auth.ts";
import { OUTBOX_SCHEMA } from "./schema/outbox.ts";

/** SQL, or a function for a step SQL cannot express alone. */
export type Migration = string | ((db: Database) => void);

/**
 * Versioned schema. Append only: a released migration is never edited. Each entry runs in
 * its own transaction and bumps PRAGMA user_version.
 */
export const MIGRATIONS: readonly Migration[] = [
  // 1: clients, their current state, API tokens, nonces, events, server meta
  `
  -- identity, settings and the small liveness columns a heartbeat rewrites
  CREATE TABLE clients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at INTEGER NOT NULL,
    secret_enc TEXT NOT NULL,
    prev_secret_enc TEXT,
    prev_secret_until INTEGER,
    policy_json TEXT NOT NULL DEFAULT '{}',
    last_source_ip TEXT,
    last_report_at INTEGER,
    last_observed_at INTEGER,
    status TEXT NOT NULL DEFAULT 'grey',
    liveness TEXT NOT NULL DEFAULT 'never',
    late_at INTEGER,
    offline_at INTEGER,
    -- the earliest time the sweeper must look at this client (a deadline or the end of flapping)
    next_check_at INTEGER
  );
  -- the judged state and the report it came from: rewritten only when something changes, so an
  -- unchanged heartbeat touches one small row above
  CREATE TABLE client_state (
    client_id TEXT PRIMARY KEY REFERENCES clients(id) ON DELETE CASCADE,
    state_json TEXT NOT NULL,
    last_report_json TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX clients_next_check_at ON clients(next_check_at) WHERE next_check_at IS NOT NULL;

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
  // 4: per-client history rows written only on change, and the server's own downtime
  `
  CREATE TABLE client_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    status TEXT NOT NULL,
    liveness TEXT NOT NULL,
    exit_ipv4 TEXT,
    exit_ipv6 TEXT,
    resolvers TEXT
  );
  CREATE INDEX client_history_client_at ON client_history(client_id, at);
  CREATE TABLE server_downtime (
    from_at INTEGER NOT NULL,
    to_at INTEGER NOT NULL
  );
  `,
  // 5: nonces as a log of hashes, one row per commit (src/server/api/reports/replay-guard.ts);
  // the nonces still inside their window move over, so an upgrade forgets none
  (db) => {
    db.exec(`
      CREATE TABLE nonce_log (expires_at INTEGER NOT NULL, hashes BLOB NOT NULL);
      CREATE INDEX nonce_log_expires_at ON nonce_log(expires_at);
    `);
    const live = db
      .query<{ client_id: string; nonce: string; expires_at: number }, [number]>(
        "SELECT client_id, nonce, expires_at FROM nonces WHERE expires_at >= ?",
      )
      .all(Date.now());
    if (live.length)
      db.query("INSERT INTO nonce_log (expires_at, hashes) VALUES (?, ?)").run(
        live.reduce((latest, n) => Math.max(latest, n.expires_at), 0),
        packHashes(live.map((n) => nonceHash(n.client_id, n.nonce))),
      );
    db.exec("DROP TABLE nonces");
  },
  // 6: the exit as columns, so a list of 10,000 clients sorts, searches and counts without
  // parsing each client's state (ClientSummary); filled from the state and report JSON. And
  // the status indexed: counts, and the notifier's look at the red ones, read no rows.
  `
  CREATE INDEX clients_status ON clients(status);
  ALTER TABLE clients ADD COLUMN exit_ip TEXT;
  ALTER TABLE clients ADD COLUMN exit_country TEXT;
  ALTER TABLE clients ADD COLUMN exit_asn INTEGER;
  ALTER TABLE clients ADD COLUMN exit_org TEXT;
  UPDATE clients SET
    exit_ip = coalesce(e.state_json ->> '$.exit.ipv4.ip', e.state_json ->> '$.exit.ipv6.ip',
                       e.last_report_json ->> '$.ipv4.ip', e.last_report_json ->> '$.ipv6.ip'),
    exit_country = coalesce(e.state_json ->> '$.exit.ipv4.country',
                            iif(e.state_json ->> '$.exit.ipv4.ip' IS NULL, e.state_json ->> '$.exit.ipv6.country', NULL)),
    exit_asn = coalesce(e.state_json ->> '$.exit.ipv4.asn',
                        iif(e.state_json ->> '$.exit.ipv4.ip' IS NULL, e.state_json ->> '$.exit.ipv6.asn', NULL)),
    exit_org = coalesce(e.state_json ->> '$.exit.ipv4.org',
                        iif(e.state_json ->> '$.exit.ipv4.ip' IS NULL, e.state_json ->> '$.exit.ipv6.org', NULL))
  FROM client_state e WHERE e.client_id = clients.id;
  `,
  // 7: how each alert lane (channel + target) last fared, so the Alerts page tells the truth
  // after a restart: when a message (or a test) last got through, since when it fails, and why
  `
  CREATE TABLE channel_lanes (
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    last_ok_at INTEGER,
    failing_since INTEGER,
    last_error TEXT,
    last_error_at INTEGER,
    PRIMARY KEY (channel, target)
  ) WITHOUT ROWID;
  `,
  // 8: where a client came from, so the legacy keepalive key can touch only the clients it
  // created. Existing ones count as legacy when their last stored report came through that
  // endpoint (it marks them as the "legacy-python-client" agent); everyone else is enrolled.
  `
  ALTER TABLE clients ADD COLUMN origin TEXT NOT NULL DEFAULT 'enrolled' CHECK (origin IN ('enrolled', 'legacy'));
  UPDATE clients SET origin = 'legacy' FROM client_state s
    WHERE s.client_id = clients.id AND s.last_report_json ->> '$.agent.os' = 'legacy-python-client';
  `,
  // 9: a revision per client, bumped by every write of its judged state, so a replica that
  // remembers how it judged revision N knows whether anyone judged the client since
  `
  ALTER TABLE clients ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
  `,
  // 10: alert channels added in the dashboard, each URL sealed with the server key like a
  // client secret (the masked form beside it, for lists that must not open the seal)
  `
  CREATE TABLE notify_channels (
    id TEXT PRIMARY KEY,
    url_sealed TEXT NOT NULL,
    display TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  `,
  // 11: who asked the DNS oracle for which name (src/server/dns/): written by the DNS listener,
  // taken by the report that carries the name, pruned when nobody took it
  `
  CREATE TABLE dns_oracle_sightings (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    qtype TEXT NOT NULL,
    resolver TEXT NOT NULL,
    transport TEXT NOT NULL,
    client_subnet TEXT,
    at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX dns_oracle_sightings_name ON dns_oracle_sightings(name);
  CREATE INDEX dns_oracle_sightings_expires_at ON dns_oracle_sightings(expires_at);
  `,
  // 12: history that explains itself and outlives --retention (issue 15).
  // - clients.status_since ("red for 14 min") and clients.causes (search and filter by check)
  //   as columns, so a list of 10,000 clients reads them without parsing state; both filled
  //   from what is stored (status_since: the start of the latest run of history rows with the
  //   current status; causes: the stored verdicts, the same rule as monitor/causes.ts)
  // - client_history.causes (incidents by kind) and .detail_json (country and AS as known then)
  // - client_days / fleet_days: daily rollups (running totals per client, sums per day)
  // - badge_tokens: revocable read tokens for one badge; report_runs: one row per report period
  `
  ALTER TABLE clients ADD COLUMN status_since INTEGER;
  ALTER TABLE clients ADD COLUMN causes TEXT NOT NULL DEFAULT '';
  ALTER TABLE client_history ADD COLUMN causes TEXT;
  ALTER TABLE client_history ADD COLUMN detail_json TEXT;
  CREATE INDEX client_history_at ON client_history(at);

  UPDATE clients SET status_since = coalesce(
    (SELECT min(h.at) FROM client_history h WHERE h.client_id = clients.id AND h.at >
      coalesce((SELECT max(x.at) FROM client_history x WHERE x.client_id = clients.id AND x.status <> clients.status), -1)
      AND h.status = clients.status),
    last_report_at);

  UPDATE clients SET causes = coalesce((
    SELECT CASE
      WHEN s.state_json ->> '$.paused' THEN 'paused'
      WHEN s.state_json ->> '$.verdicts' IS NULL OR clients.liveness = 'never' THEN ''
      ELSE rtrim(
        iif(clients.liveness IN ('late', 'offline'), clients.liveness || ',', '') ||
        iif(s.state_json ->> '$.verdicts.bypass.status' NOT IN ('ok', 'na'), 'bypass:' || (s.state_json ->> '$.verdicts.bypass.status') || ',', '') ||
        iif(s.state_json ->> '$.verdicts.dns.status' NOT IN ('ok', 'na'), 'dns:' || (s.state_json ->> '$.verdicts.dns.status') || ',', '') ||
        iif(s.state_json ->> '$.verdicts.ipv6.status' NOT IN ('ok', 'na'), 'ipv6:' || (s.state_json ->> '$.verdicts.ipv6.status') || ',', '') ||
        iif(s.state_json ->> '$.verdicts.exit.status' NOT IN ('ok', 'na')
            AND NOT (s.state_json ->> '$.verdicts.exit.status' = 'leak'
              AND coalesce(s.state_json ->> '$.verdicts.bypass.status', '') = 'leak'),
            'exit:' || (s.state_json ->> '$.verdicts.exit.status') || ',', ''),
        ',')
    END
    FROM client_state s WHERE s.client_id = clients.id), '');

  CREATE TABLE client_days (
    client_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    known_ms INTEGER NOT NULL, up_ms INTEGER NOT NULL,
    green_ms INTEGER NOT NULL, yellow_ms INTEGER NOT NULL, red_ms INTEGER NOT NULL, grey_ms INTEGER NOT NULL,
    changes INTEGER NOT NULL,
    bypass_n INTEGER NOT NULL, bypass_ms INTEGER NOT NULL, dns_n INTEGER NOT NULL, dns_ms INTEGER NOT NULL,
    ipv6_n INTEGER NOT NULL, ipv6_ms INTEGER NOT NULL, exit_n INTEGER NOT NULL, exit_ms INTEGER NOT NULL,
    offline_n INTEGER NOT NULL, offline_ms INTEGER NOT NULL,
    recovered_n INTEGER NOT NULL, recovered_ms INTEGER NOT NULL,
    carry_json TEXT NOT NULL,
    PRIMARY KEY (client_id, day)
  ) WITHOUT ROWID;
  CREATE INDEX client_days_day ON client_days(day);
  CREATE TABLE fleet_days (
    day INTEGER PRIMARY KEY,
    clients INTEGER NOT NULL,
    known_ms INTEGER NOT NULL, up_ms INTEGER NOT NULL,
    green_ms INTEGER NOT NULL, yellow_ms INTEGER NOT NULL, red_ms INTEGER NOT NULL, grey_ms INTEGER NOT NULL,
    changes INTEGER NOT NULL,
    bypass_n INTEGER NOT NULL, bypass_ms INTEGER NOT NULL, dns_n INTEGER NOT NULL, dns_ms INTEGER NOT NULL,
    ipv6_n INTEGER NOT NULL, ipv6_ms INTEGER NOT NULL, exit_n INTEGER NOT NULL, exit_ms INTEGER NOT NULL,
    offline_n INTEGER NOT NULL, offline_ms INTEGER NOT NULL,
    recovered_n INTEGER NOT NULL, recovered_ms INTEGER NOT NULL
  );

  CREATE TABLE badge_tokens (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('status', 'uptime')),
    token_hash TEXT NOT NULL UNIQUE,
    label TEXT,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
  );
  CREATE INDEX badge_tokens_client ON badge_tokens(client_id);

  CREATE TABLE report_runs (
    schedule TEXT NOT NULL,
    period_end INTEGER NOT NULL,
    period_start INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('sent', 'skipped')),
    queued INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    note TEXT,
    PRIMARY KEY (schedule, period_end)
  ) WITHOUT ROWID;
  `,
];
