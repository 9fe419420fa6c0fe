-- 8: recovery and cutting access (issue 13, item 5). Independent of migration 7: it touches only
-- admin tokens and adds the password reset codes.

-- Admin API tokens get a short public id (to list and revoke them by), a name, an optional expiry
-- and when they were last used (recorded at most once a minute). Tokens minted before this
-- migration keep working, never expire and are named "token".
ALTER TABLE admin_tokens ADD COLUMN id TEXT;
ALTER TABLE admin_tokens ADD COLUMN name TEXT NOT NULL DEFAULT 'token';
ALTER TABLE admin_tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE admin_tokens ADD COLUMN last_used_at INTEGER;
UPDATE admin_tokens SET id = 'tok_' || lower(hex(randomblob(6)));
CREATE UNIQUE INDEX admin_tokens_by_id ON admin_tokens (id);
CREATE INDEX admin_tokens_by_admin ON admin_tokens (admin_id, created_at);

-- One live password reset code per merchant, like `email_codes`: only its keyed MAC is stored
-- (under a context of its own, so a verification code never resets a password).
CREATE TABLE password_reset_codes (
    merchant_id TEXT PRIMARY KEY REFERENCES merchants(id) ON DELETE CASCADE,
    code_mac    BLOB NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
