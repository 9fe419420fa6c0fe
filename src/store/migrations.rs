//! Forward-only migrations keyed by `PRAGMA user_version`.

use super::{StoreError, StoreResult};
use rusqlite::Connection;

/// Migration 1 is `schema.sql`; append later migrations to this list, never edit old ones. Each
/// carries its number: migrations are written on parallel branches, and a number taken by another
/// branch must not shift this one. Merged, they run from 1 without a gap (see
/// `migration_numbers_run_from_one_without_a_gap`).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../schema.sql")),
    // 2: an email carrying a one-time code is kept readable only until it is sent or the code
    // expires (`redact_at`), then its subject and body are replaced.
    (
        2,
        "ALTER TABLE outbox ADD COLUMN redact_at INTEGER;
         CREATE INDEX outbox_redact ON outbox (redact_at) WHERE redact_at IS NOT NULL;",
    ),
    // 3: every query of the background jobs follows an index, so they cost the same on a
    // database of millions of rows (see `job_queries_follow_indexes`).
    (
        3,
        "CREATE INDEX sessions_by_last_seen ON sessions (last_seen_at);
         CREATE INDEX sessions_by_created ON sessions (created_at);
         CREATE INDEX secrets_live_by_expiry ON webhook_secrets (expires_at)
             WHERE superseded_at IS NULL AND revoked_at IS NULL;",
    ),
    (4, include_str!("migrations/4_sources.sql")),
    (5, include_str!("migrations/5_deliveries.sql")),
    (6, include_str!("migrations/6_delivery_health.sql")),
    (7, include_str!("migrations/7_order_emails.sql")),
    (8, include_str!("migrations/8_accounts.sql")),
    (9, include_str!("migrations/9_merchant_debug.sql")),
];

/// The schema version this binary writes: the number of its last migration.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Bring the database up to `SCHEMA_VERSION`; refuse a database from a newer binary.
pub fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::Internal(format!(
            "the database has schema version {current}, newer than this binary's \
             {SCHEMA_VERSION}; run a newer hookgate"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let version = *version;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_a_no_op_and_newer_databases_are_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(err.to_string().contains("newer than this binary"));
    }

    /// Numbers only grow, so `user_version` orders them. They may skip a number only while the
    /// branch that owns it is not merged yet: a database migrated past a gap would never get the
    /// skipped migration, so a release must have them all (1, 2, ..., SCHEMA_VERSION).
    #[test]
    fn migration_numbers_run_from_one_without_a_gap() {
        // A database migrated past a missing number would never get it: no gaps on main.
        for (i, (number, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(
                *number,
                i as i64 + 1,
                "migration {number} at position {}",
                i + 1
            );
        }
    }

    #[test]
    fn the_audit_log_is_append_only() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO audit_log (at, actor, action, target) VALUES (1,'a','b','c')",
            [],
        )
        .unwrap();
        assert!(
            conn.execute("UPDATE audit_log SET actor = 'x'", [])
                .is_err()
        );
        assert!(conn.execute("DELETE FROM audit_log", []).is_err());
    }

    /// The background jobs share the single writer with ingest, so each of their statements
    /// must cost the same on a database of millions of rows: an index or key range, never a
    /// scan of a table that grows with traffic.
    #[test]
    fn job_queries_follow_indexes() {
        use crate::store::{orders, outbox, secrets, sessions};
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let due = outbox::due_sql();
        for sql in [
            orders::OLD_FINISHED_EVENTS,
            outbox::DELETE_BEFORE,
            outbox::REDACT_EXPIRED,
            due.as_str(),
            sessions::PURGE_IDLE,
            sessions::PURGE_OLD,
            secrets::DUE_FOR_ROTATION,
        ] {
            crate::store::plan::assert_indexed(&conn, sql);
        }
    }

    /// Migration 4 rebuilds `events`: what was there stays, as events of the `orders` source,
    /// and source events (no merchant) are de-duplicated per source.
    #[test]
    fn migration_4_keeps_the_events_and_dedups_source_events() {
        let mut conn = Connection::open_in_memory().unwrap();
        for (_, sql) in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute_batch(
            "INSERT INTO merchants (id, email, business_name, password_hash, created_at)
                 VALUES ('mer_1', 'a@b.c', 'A', 'x', 1);
             INSERT INTO events (id, merchant_id, webhook_id, topic, received_at_ms, client_ip,
                 body, body_hash, outcome, reason, duration_us)
                 VALUES ('evt_1', 'mer_1', 'w1', 'order.created', 5, '1.2.3.4', x'7b7d', x'00',
                         'accepted', 'created', 7);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let (source, merchant): (String, String) = conn
            .query_row(
                "SELECT source, merchant_id FROM events WHERE id = 'evt_1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((source.as_str(), merchant.as_str()), ("orders", "mer_1"));
        let insert = |id: &str, source: &str, dedup: &str| {
            conn.execute(
                "INSERT INTO events (id, source, webhook_id, topic, received_at_ms, client_ip,
                     body_hash, outcome, reason, duration_us)
                 VALUES (?1, ?2, ?3, 'push', 1, '::1', x'00', 'accepted', 'accepted', 1)",
                [id, source, dedup],
            )
        };
        insert("evt_2", "gh", "d1").unwrap();
        assert!(insert("evt_3", "gh", "d1").is_err(), "the same id twice");
        insert("evt_4", "stripe", "d1").unwrap();
    }

    /// The accounts migration (8_accounts.sql) keeps the admin tokens minted before it: each
    /// gets an id to be listed and revoked by, the name "token", and no expiry.
    #[test]
    fn the_accounts_migration_keeps_existing_admin_tokens() {
        let accounts = MIGRATIONS
            .iter()
            .position(|(_, sql)| sql.contains("password_reset_codes"))
            .unwrap();
        let mut conn = Connection::open_in_memory().unwrap();
        for (_, sql) in &MIGRATIONS[..accounts] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", accounts as i64)
            .unwrap();
        conn.execute_batch(
            "INSERT INTO admins (id, email, password_hash, created_at) VALUES ('adm_1','a@b.c','x',1);
             INSERT INTO admin_tokens (token_hash, admin_id, created_at) VALUES (x'01','adm_1',1);
             INSERT INTO admin_tokens (token_hash, admin_id, created_at) VALUES (x'02','adm_1',2);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let tokens = crate::store::admins::tokens(&conn, Some("adm_1")).unwrap();
        assert_eq!(tokens.len(), 2);
        assert!(
            tokens
                .iter()
                .all(|t| t.id.starts_with("tok_") && t.id.len() == 16)
        );
        assert_ne!(tokens[0].id, tokens[1].id);
        assert!(
            tokens
                .iter()
                .all(|t| t.name == "token" && t.expires_at.is_none())
        );
        assert!(
            crate::store::admins::admin_for_token(&conn, &[1], i64::MAX)
                .unwrap()
                .is_some()
        );
    }
}
