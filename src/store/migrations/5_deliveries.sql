-- 5: destinations and the delivery queue (CONTRACT section 10). A delivery row is written in the
-- same transaction as its event, so a 2xx to the sender means the delivery will happen.

CREATE TABLE destinations (
    id                   TEXT PRIMARY KEY,            -- dst_...
    name                 TEXT NOT NULL,
    url                  TEXT NOT NULL,
    sources              TEXT,                        -- JSON array of slugs; NULL = all
    topics               TEXT,                        -- JSON array of patterns; NULL = all
    retry                TEXT NOT NULL,               -- JSON retry policy
    timeout_ms           INTEGER NOT NULL,
    circuit              TEXT NOT NULL,               -- JSON circuit settings
    enabled              INTEGER NOT NULL DEFAULT 1,
    disabled_reason      TEXT,
    circuit_state        TEXT NOT NULL DEFAULT 'closed',
    circuit_until_ms     INTEGER,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    reopen_count         INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

-- Signing secrets of a destination: the current one (valid_until NULL) and, after a rotation,
-- the previous one, which signs alongside until valid_until. Sealed under the master key.
CREATE TABLE destination_secrets (
    id             TEXT PRIMARY KEY,                  -- dsec_...
    destination_id TEXT NOT NULL REFERENCES destinations(id),
    secret_sealed  BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    valid_until    INTEGER
);
CREATE INDEX destination_secrets_by_destination ON destination_secrets (destination_id, created_at);

CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,                -- dlv_...
    event_id         TEXT NOT NULL,
    destination_id   TEXT NOT NULL REFERENCES destinations(id),
    status           TEXT NOT NULL
        CHECK (status IN ('pending','succeeded','failed','cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms  INTEGER NOT NULL,
    lease_until_ms   INTEGER,                         -- claimed by a worker until then
    last_status_code INTEGER,
    last_error       TEXT,
    failed_attempts  INTEGER NOT NULL DEFAULT 0,      -- for "recovered": succeeded after failing
    created_at       INTEGER NOT NULL,
    delivered_at     INTEGER
);
-- The queue, per destination: only pending rows, in due order. Workers claim per destination,
-- so a destination with a backlog of millions behind an open circuit costs the others nothing.
CREATE INDEX deliveries_due ON deliveries (destination_id, next_attempt_ms) WHERE status = 'pending';
CREATE INDEX deliveries_by_destination ON deliveries (destination_id, created_at);
CREATE INDEX deliveries_by_event ON deliveries (event_id);

CREATE TABLE delivery_attempts (
    id          INTEGER PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    status_code INTEGER,
    duration_ms INTEGER NOT NULL,
    error       TEXT,
    excerpt     TEXT                                  -- at most 1 KiB of the response body
);
CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, id);
