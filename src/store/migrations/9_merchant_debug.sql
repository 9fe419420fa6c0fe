-- 9: what merchants need to debug their integration (issue 13, item 4).

-- Every violation of a webhook refused with 422, as JSON [{"field", "message"}], so that the event
-- page shows which fields were wrong and not just `validation_failed`. NULL for other events.
ALTER TABLE events ADD COLUMN violations TEXT;

-- Requests refused before authentication: bad signature, stale or malformed timestamp, missing
-- headers, a refused or expired key, an unknown key id. Anyone who knows or guesses a key id can
-- cause them, so the table is bounded: repeats of (merchant, reason, client IP) are coalesced into
-- one row with a count, and the writer keeps only the newest 100 rows per merchant, pruning in the
-- same transaction that adds one. Never a body, never the signature header.
CREATE TABLE auth_failures (
    id          INTEGER PRIMARY KEY,
    merchant_id TEXT REFERENCES merchants(id),   -- NULL: the key id is unknown or missing (admins only)
    reason      TEXT NOT NULL,                   -- the error code answered
    client_ip   TEXT NOT NULL,
    key_id      TEXT NOT NULL DEFAULT '',        -- as presented (at most 64 characters)
    webhook_id  TEXT NOT NULL DEFAULT '',        -- of the latest repeat (at most 256 characters)
    headers     TEXT NOT NULL DEFAULT '{}',      -- of the latest repeat: the non-secret ones only
    count       INTEGER NOT NULL,
    first_at_ms INTEGER NOT NULL,
    last_at_ms  INTEGER NOT NULL
);
CREATE INDEX auth_failures_coalesce ON auth_failures (merchant_id, reason, client_ip);
CREATE INDEX auth_failures_by_merchant ON auth_failures (merchant_id, last_at_ms);
CREATE INDEX auth_failures_by_time ON auth_failures (last_at_ms);

-- Search: a merchant's events by webhook-id (any outcome), orders by customer email.
CREATE INDEX events_by_webhook_id ON events (merchant_id, webhook_id);
CREATE INDEX orders_by_customer_email ON orders (merchant_id, customer_email COLLATE NOCASE);
