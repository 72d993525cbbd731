/**
 * Migration 2: the notification outbox. Owned by the notify feature; edit before first release only.
 *
 * One row per notification per channel target ("lane" = channel + target). A row is written in
 * the same transaction as the event it announces, so an alert is never lost; the dispatcher
 * claims rows with compare-and-set on (status, claimed_by, claimed_until), so two dispatchers
 * never send the same row at the same time. Rows folded into a digest point at the digest row
 * (digest_id) and share its fate. `parts_sent` lets a retry of a split message resume after the
 * last part the channel accepted, instead of repeating it.
 */
export const OUTBOX_SCHEMA = `
  CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id INTEGER,
    client_id TEXT,
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload_json TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'delivered', 'failed', 'suppressed')),
    digest_id INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    parts_sent INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_by TEXT,
    claimed_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER
  );
  CREATE INDEX outbox_lane_open ON outbox(channel, target, id) WHERE status IN ('pending', 'sending') AND digest_id IS NULL;
  CREATE INDEX outbox_lane_created ON outbox(channel, target, created_at);
  CREATE INDEX outbox_client ON outbox(client_id, id);
  CREATE INDEX outbox_event ON outbox(event_id);
  CREATE INDEX outbox_digest ON outbox(digest_id) WHERE digest_id IS NOT NULL;
  CREATE INDEX outbox_status ON outbox(status, id);
`;
