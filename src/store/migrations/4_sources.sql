-- 4: provider sources (CONTRACT section 9) and one event log for orders and sources.

CREATE TABLE sources (
    id                  TEXT PRIMARY KEY,              -- src_...
    slug                TEXT NOT NULL UNIQUE,          -- the ingest URL is <public-url>/in/<slug>
    name                TEXT NOT NULL,
    kind                TEXT NOT NULL,                 -- stripe, github, ... (domain::source::Kind)
    options             TEXT,                          -- JSON options of kind hmac
    verify_token_sealed BLOB,                          -- Meta's verify token, sealed
    sender_rate         TEXT,                          -- e.g. 100/h; NULL = no limit
    enabled             INTEGER NOT NULL DEFAULT 1,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);

-- The current secret has valid_until NULL; after a rotation the previous one verifies until
-- valid_until (the overlap). Sealed under the master key, never stored in clear.
CREATE TABLE source_secrets (
    id            TEXT PRIMARY KEY,                    -- ssec_...
    source_id     TEXT NOT NULL REFERENCES sources(id),
    secret_sealed BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    valid_until   INTEGER
);
CREATE INDEX source_secrets_by_source ON source_secrets (source_id, created_at);

-- Events gain their source (`orders` for merchants' order webhooks, else a source's slug) and
-- sender, and merchant_id becomes optional: SQLite cannot drop NOT NULL, so the table is
-- rebuilt (a one-time copy, logged at start-up).
CREATE TABLE events_v4 (
    seq            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    source         TEXT NOT NULL DEFAULT 'orders',
    merchant_id    TEXT REFERENCES merchants(id),
    webhook_id     TEXT NOT NULL,                      -- the de-duplication id
    topic          TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    client_ip      TEXT NOT NULL,
    body           BLOB,
    body_hash      BLOB NOT NULL,
    outcome        TEXT NOT NULL CHECK (outcome IN ('accepted','rejected')),
    reason         TEXT NOT NULL,
    order_id       TEXT,
    duration_us    INTEGER NOT NULL,
    headers        TEXT NOT NULL DEFAULT '{}',
    sender         TEXT
);
INSERT INTO events_v4 (seq, id, source, merchant_id, webhook_id, topic, received_at_ms, client_ip,
                       body, body_hash, outcome, reason, order_id, duration_us, headers)
    SELECT seq, id, 'orders', merchant_id, webhook_id, topic, received_at_ms, client_ip,
           body, body_hash, outcome, reason, order_id, duration_us, headers
    FROM events;
DROP TABLE events;
ALTER TABLE events_v4 RENAME TO events;
CREATE UNIQUE INDEX events_idempotency ON events (merchant_id, webhook_id) WHERE outcome = 'accepted';
-- De-duplication of source events: one accepted event per (source, id), also under concurrency.
CREATE UNIQUE INDEX events_source_dedup ON events (source, webhook_id)
    WHERE outcome = 'accepted' AND merchant_id IS NULL;
CREATE INDEX events_by_merchant ON events (merchant_id, seq);
CREATE INDEX events_by_time ON events (received_at_ms);
-- Only source events: the order path pays nothing for it.
CREATE INDEX events_by_source ON events (source, seq) WHERE source <> 'orders';
