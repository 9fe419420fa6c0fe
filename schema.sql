-- hookgate schema, migration 1. Later changes are numbered, forward-only migrations in
-- src/store/migrations.rs. Times are unix seconds unless the column name says otherwise.

CREATE TABLE merchants (
    id             TEXT PRIMARY KEY,                 -- mer_...
    email          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    business_name  TEXT NOT NULL,
    password_hash  TEXT NOT NULL,                    -- argon2id PHC string
    email_verified INTEGER NOT NULL DEFAULT 0,
    kyc_status     TEXT NOT NULL DEFAULT 'none'
        CHECK (kyc_status IN ('none','pending','approved','rejected','changes_requested','revoked')),
    key_id         TEXT UNIQUE,                      -- public, stable; set at first approval
    created_at     INTEGER NOT NULL
);

-- One live verification code per merchant; only its keyed MAC is stored.
CREATE TABLE email_codes (
    merchant_id TEXT PRIMARY KEY REFERENCES merchants(id) ON DELETE CASCADE,
    code_mac    BLOB NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

-- Bearer tokens of merchants (API) and admins; stored as SHA-256 only.
CREATE TABLE merchant_tokens (
    token_hash  BLOB PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE admins (
    id            TEXT PRIMARY KEY,                  -- adm_...
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE admin_tokens (
    token_hash BLOB PRIMARY KEY,
    admin_id   TEXT NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE kyc_submissions (
    id                  TEXT PRIMARY KEY,           -- kyc_...
    merchant_id         TEXT NOT NULL REFERENCES merchants(id),
    legal_name          TEXT NOT NULL,
    registration_number TEXT NOT NULL,
    country             TEXT NOT NULL,
    address             TEXT NOT NULL,
    contact_phone       TEXT NOT NULL,
    document_type       TEXT NOT NULL,              -- mime type decided by content
    document_name       TEXT NOT NULL,
    document_size       INTEGER NOT NULL,
    document_sealed     BLOB NOT NULL,              -- AES-256-GCM under the master key
    status              TEXT NOT NULL
        CHECK (status IN ('pending','approved','rejected','changes_requested','revoked')),
    submitted_at        INTEGER NOT NULL,
    reviewed_at         INTEGER,
    reviewed_by         TEXT,
    review_note         TEXT
);
CREATE INDEX kyc_by_merchant ON kyc_submissions (merchant_id, submitted_at);
CREATE INDEX kyc_by_status ON kyc_submissions (status, submitted_at);

CREATE TABLE webhook_secrets (
    id            TEXT PRIMARY KEY,                 -- sec_...
    merchant_id   TEXT NOT NULL REFERENCES merchants(id),
    secret_sealed BLOB NOT NULL,                    -- never stored in clear
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    superseded_at INTEGER,
    grace_until   INTEGER,
    revoked_at    INTEGER,
    reason        TEXT NOT NULL                     -- approval, manual, automatic, expired
);
CREATE INDEX secrets_by_merchant ON webhook_secrets (merchant_id, created_at);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    to_addr         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT
);
CREATE INDEX outbox_unsent ON outbox (next_attempt_at) WHERE sent_at IS NULL;
CREATE INDEX outbox_by_to ON outbox (to_addr, id);

-- Append-only: the triggers refuse updates and deletes.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,                          -- admin:<email>, merchant:<id>, system, cli
    action  TEXT NOT NULL,                          -- kyc.approved, secret.revealed, ...
    target  TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'              -- JSON
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- Small key/value facts about the installation (readiness probe, first-run state).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Orders pushed by merchants' webhooks.
CREATE TABLE orders (
    id                 TEXT PRIMARY KEY,             -- ord_... (time-ordered)
    merchant_id        TEXT NOT NULL REFERENCES merchants(id),
    merchant_reference TEXT,
    customer_name      TEXT NOT NULL,
    customer_email     TEXT NOT NULL,
    customer_phone     TEXT NOT NULL,
    item_summary       TEXT NOT NULL,
    address            TEXT NOT NULL,
    tracking_status    TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE UNIQUE INDEX orders_by_reference ON orders (merchant_id, merchant_reference)
    WHERE merchant_reference IS NOT NULL;
CREATE INDEX orders_by_merchant ON orders (merchant_id, id);

CREATE TABLE order_history (
    id       INTEGER PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(id),
    status   TEXT NOT NULL,
    at       INTEGER NOT NULL,
    event_id TEXT NOT NULL
);
CREATE INDEX order_history_by_order ON order_history (order_id, id);

-- Webhooks that passed signature verification: accepted ones (with their order) and
-- authenticated rejections (validation, conflicts). Bodies are kept for --retention.
CREATE TABLE events (
    seq            INTEGER PRIMARY KEY,               -- cursor order
    id             TEXT NOT NULL UNIQUE,              -- evt_...
    merchant_id    TEXT NOT NULL REFERENCES merchants(id),
    webhook_id     TEXT NOT NULL,
    topic          TEXT NOT NULL,                     -- order.created, order.updated, order.rejected
    received_at_ms INTEGER NOT NULL,
    client_ip      TEXT NOT NULL,
    body           BLOB,
    body_hash      BLOB NOT NULL,                     -- SHA-256 of the raw body
    outcome        TEXT NOT NULL CHECK (outcome IN ('accepted','rejected')),
    reason         TEXT NOT NULL,                     -- created, updated, or the error code
    order_id       TEXT,
    duration_us    INTEGER NOT NULL,
    headers        TEXT NOT NULL DEFAULT '{}'         -- JSON of non-secret request headers
);
-- Idempotency: one accepted event per (merchant, webhook-id).
CREATE UNIQUE INDEX events_idempotency ON events (merchant_id, webhook_id) WHERE outcome = 'accepted';
CREATE INDEX events_by_merchant ON events (merchant_id, seq);
CREATE INDEX events_by_time ON events (received_at_ms);

-- Hourly roll-up of the in-memory request metrics (JSON), so they survive restarts.
CREATE TABLE metrics_hourly (
    hour INTEGER PRIMARY KEY,                         -- unix seconds at the start of the hour
    data TEXT NOT NULL
);

-- Browser sessions of admins and merchants; the cookie value is stored only as its SHA-256.
CREATE TABLE sessions (
    id_hash          BLOB PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('admin','merchant')),
    subject_id       TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    last_seen_at     INTEGER NOT NULL,
    authenticated_at INTEGER NOT NULL                -- last password entry (re-auth for reveals)
) WITHOUT ROWID;
CREATE INDEX sessions_by_subject ON sessions (subject_id);
