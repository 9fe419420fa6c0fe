//! Provider sources (CONTRACT section 9): their settings, their sealed secrets (the current one
//! and, during a rotation overlap, the previous one), and the events they send.

use super::{StoreResult, optional};
use rusqlite::{Connection, params};

/// A source as stored (secrets apart).
#[derive(Debug, Clone)]
pub struct Source {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub kind: String,
    /// JSON of the `hmac` kind's options.
    pub options: Option<String>,
    /// Meta's verify token, sealed.
    pub verify_token_sealed: Option<Vec<u8>>,
    /// As given, e.g. `100/h`.
    pub sender_rate: Option<String>,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A new source with its first secret, sealed by the caller.
pub struct NewSource {
    pub source: Source,
    pub secret: NewSourceSecret,
}

/// A sealed source secret to store.
pub struct NewSourceSecret {
    pub id: String,
    pub sealed: Vec<u8>,
}

/// A stored secret; `valid_until` is `None` for the current one.
#[derive(Debug, Clone)]
pub struct SourceSecret {
    pub id: String,
    pub sealed: Vec<u8>,
    pub created_at: i64,
    pub valid_until: Option<i64>,
}

/// The context a source secret is sealed under (binds the ciphertext to its row).
pub fn seal_context(secret_id: &str) -> String {
    format!("source-secret:{secret_id}")
}

/// The context a Meta verify token is sealed under.
pub fn verify_token_context(source_id: &str) -> String {
    format!("source-verify-token:{source_id}")
}

const COLUMNS: &str = "id, slug, name, kind, options, verify_token_sealed, sender_rate, enabled, \
    created_at, updated_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Source> {
    Ok(Source {
        id: r.get(0)?,
        slug: r.get(1)?,
        name: r.get(2)?,
        kind: r.get(3)?,
        options: r.get(4)?,
        verify_token_sealed: r.get(5)?,
        sender_rate: r.get(6)?,
        enabled: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

/// Insert a source and its first secret; false (nothing written) when the slug is taken.
pub fn create(conn: &Connection, new: &NewSource) -> StoreResult<bool> {
    let s = &new.source;
    let inserted = conn.execute(
        "INSERT INTO sources (id, slug, name, kind, options, verify_token_sealed, sender_rate,
             enabled, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
         ON CONFLICT (slug) DO NOTHING",
        params![
            s.id,
            s.slug,
            s.name,
            s.kind,
            s.options,
            s.verify_token_sealed,
            s.sender_rate,
            s.enabled,
            s.created_at
        ],
    )?;
    if inserted == 0 {
        return Ok(false);
    }
    add_secret(conn, &s.id, &new.secret, s.created_at)?;
    Ok(true)
}

fn add_secret(
    conn: &Connection,
    source_id: &str,
    secret: &NewSourceSecret,
    now: i64,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO source_secrets (id, source_id, secret_sealed, created_at, valid_until)
         VALUES (?1, ?2, ?3, ?4, NULL)",
        params![secret.id, source_id, secret.sealed, now],
    )?;
    Ok(())
}

/// Make `secret` the current one; the current one verifies until `previous_valid_until`, and
/// any older one stops now.
pub fn rotate(
    conn: &Connection,
    source_id: &str,
    secret: &NewSourceSecret,
    now: i64,
    previous_valid_until: i64,
) -> StoreResult<()> {
    conn.execute(
        "UPDATE source_secrets SET valid_until = ?2
         WHERE source_id = ?1 AND valid_until IS NOT NULL AND valid_until > ?2",
        params![source_id, now],
    )?;
    conn.execute(
        "UPDATE source_secrets SET valid_until = ?2 WHERE source_id = ?1 AND valid_until IS NULL",
        params![source_id, previous_valid_until],
    )?;
    add_secret(conn, source_id, secret, now)?;
    touch(conn, source_id, now)
}

fn touch(conn: &Connection, source_id: &str, now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE sources SET updated_at = ?2 WHERE id = ?1",
        params![source_id, now],
    )?;
    Ok(())
}

/// The changes a PATCH may make.
#[derive(Debug, Default, Clone)]
pub struct Changes {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    /// `Some(None)` removes the limit.
    pub sender_rate: Option<Option<String>>,
}

/// Apply `changes`; false when there is no such source.
pub fn update(
    conn: &Connection,
    source_id: &str,
    changes: &Changes,
    now: i64,
) -> StoreResult<bool> {
    let rate_given = changes.sender_rate.is_some();
    let rate = changes.sender_rate.clone().flatten();
    let n = conn.execute(
        "UPDATE sources SET name = coalesce(?2, name), enabled = coalesce(?3, enabled),
             sender_rate = CASE WHEN ?4 THEN ?5 ELSE sender_rate END, updated_at = ?6
         WHERE id = ?1",
        params![
            source_id,
            changes.name,
            changes.enabled,
            rate_given,
            rate,
            now
        ],
    )?;
    Ok(n > 0)
}

/// Every source, in creation order.
pub fn list(conn: &Connection) -> StoreResult<Vec<Source>> {
    let sql = format!("SELECT {COLUMNS} FROM sources ORDER BY created_at, id");
    let rows = conn
        .prepare_cached(&sql)?
        .query_map([], row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// One source by id.
pub fn get(conn: &Connection, source_id: &str) -> StoreResult<Option<Source>> {
    let sql = format!("SELECT {COLUMNS} FROM sources WHERE id = ?1");
    Ok(optional(conn.query_row(&sql, [source_id], row))?)
}

/// One source by slug.
pub fn by_slug(conn: &Connection, slug: &str) -> StoreResult<Option<Source>> {
    let sql = format!("SELECT {COLUMNS} FROM sources WHERE slug = ?1");
    Ok(optional(conn.prepare_cached(&sql)?.query_row([slug], row))?)
}

/// The secrets that verify at `now`: the current one first, then one in its overlap.
pub fn live_secrets(
    conn: &Connection,
    source_id: &str,
    now: i64,
) -> StoreResult<Vec<SourceSecret>> {
    let rows = conn
        .prepare_cached(
            "SELECT id, secret_sealed, created_at, valid_until FROM source_secrets
             WHERE source_id = ?1 AND (valid_until IS NULL OR valid_until > ?2)
             ORDER BY valid_until IS NOT NULL, created_at DESC",
        )?
        .query_map(params![source_id, now], |r| {
            Ok(SourceSecret {
                id: r.get(0)?,
                sealed: r.get(1)?,
                created_at: r.get(2)?,
                valid_until: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// A verified request from a source, ready to be stored.
pub struct SourceEvent {
    pub event_id: String,
    /// The source's slug.
    pub source: String,
    pub dedup_id: String,
    pub topic: String,
    pub sender: Option<String>,
    pub received_at_ms: i64,
    pub client_ip: String,
    pub body: Vec<u8>,
    pub body_hash: Vec<u8>,
    pub duration_us: i64,
    /// JSON of the non-secret request headers.
    pub headers: String,
}

/// What storing a source event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    Accepted {
        event_id: String,
    },
    /// The source sent this id before: the first event's id, nothing written.
    Duplicate {
        event_id: String,
    },
    /// Over the sender's rate: kept as a rejected event.
    RateLimited,
}

/// The accepted event of `dedup_id` from `source`, if any.
pub fn accepted_event(
    conn: &Connection,
    source: &str,
    dedup_id: &str,
) -> StoreResult<Option<String>> {
    Ok(optional(
        conn.prepare_cached(
            "SELECT id FROM events
             WHERE source = ?1 AND webhook_id = ?2 AND outcome = 'accepted' AND merchant_id IS NULL",
        )?
        .query_row(params![source, dedup_id], |r| r.get(0)),
    )?)
}

/// Store an accepted source event unless its id was seen (runs in the writer's transaction, so
/// concurrent duplicates are serialised: exactly one is stored), with its deliveries to
/// `destinations`.
pub fn ingest(conn: &Connection, e: &SourceEvent, destinations: &[String]) -> StoreResult<Stored> {
    if let Some(event_id) = accepted_event(conn, &e.source, &e.dedup_id)? {
        return Ok(Stored::Duplicate { event_id });
    }
    insert_event(conn, e, "accepted", "accepted")?;
    super::deliveries::enqueue(conn, &e.event_id, destinations, e.received_at_ms)?;
    Ok(Stored::Accepted {
        event_id: e.event_id.clone(),
    })
}

/// Record a verified event that was refused (`reason`, e.g. `rate_limited`), with its body.
pub fn record_rejected(conn: &Connection, e: &SourceEvent, reason: &str) -> StoreResult<()> {
    insert_event(conn, e, "rejected", reason)
}

fn insert_event(
    conn: &Connection,
    e: &SourceEvent,
    outcome: &str,
    reason: &str,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO events (id, source, merchant_id, webhook_id, topic, received_at_ms, client_ip,
             body, body_hash, outcome, reason, duration_us, headers, sender)
         VALUES (?1, ?2, NULL, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        e.event_id,
        e.source,
        e.dedup_id,
        e.topic,
        e.received_at_ms,
        e.client_ip,
        e.body,
        e.body_hash,
        outcome,
        reason,
        e.duration_us,
        e.headers,
        e.sender
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut c).unwrap();
        c
    }

    fn new_source(id: &str, slug: &str) -> NewSource {
        NewSource {
            source: Source {
                id: id.into(),
                slug: slug.into(),
                name: slug.into(),
                kind: "github".into(),
                options: None,
                verify_token_sealed: None,
                sender_rate: None,
                enabled: true,
                created_at: 100,
                updated_at: 100,
            },
            secret: NewSourceSecret {
                id: format!("{id}-s1"),
                sealed: b"one".to_vec(),
            },
        }
    }

    #[test]
    fn a_slug_is_taken_once() {
        let c = db();
        assert!(create(&c, &new_source("src_1", "gh")).unwrap());
        assert!(!create(&c, &new_source("src_2", "gh")).unwrap());
        assert_eq!(list(&c).unwrap().len(), 1);
        assert_eq!(by_slug(&c, "gh").unwrap().unwrap().id, "src_1");
    }

    #[test]
    fn after_a_rotation_the_previous_secret_verifies_until_the_end_of_the_overlap() {
        let c = db();
        create(&c, &new_source("src_1", "gh")).unwrap();
        let second = NewSourceSecret {
            id: "s2".into(),
            sealed: b"two".to_vec(),
        };
        rotate(&c, "src_1", &second, 200, 300).unwrap();
        let live = |now| -> Vec<Vec<u8>> {
            live_secrets(&c, "src_1", now)
                .unwrap()
                .into_iter()
                .map(|s| s.sealed)
                .collect()
        };
        assert_eq!(
            live(250),
            [b"two".to_vec(), b"one".to_vec()],
            "current first"
        );
        assert_eq!(live(300), [b"two".to_vec()], "the overlap has ended");
        // A second rotation ends the first overlap at once.
        let third = NewSourceSecret {
            id: "s3".into(),
            sealed: b"three".to_vec(),
        };
        rotate(&c, "src_1", &third, 260, 400).unwrap();
        assert_eq!(live(270), [b"three".to_vec(), b"two".to_vec()]);
    }

    #[test]
    fn changes_apply_only_what_is_given() {
        let c = db();
        create(&c, &new_source("src_1", "gh")).unwrap();
        let rate = Changes {
            sender_rate: Some(Some("100/h".into())),
            ..Changes::default()
        };
        assert!(update(&c, "src_1", &rate, 150).unwrap());
        let off = Changes {
            enabled: Some(false),
            ..Changes::default()
        };
        assert!(update(&c, "src_1", &off, 160).unwrap());
        let s = get(&c, "src_1").unwrap().unwrap();
        assert_eq!(
            (s.enabled, s.sender_rate.as_deref(), s.updated_at),
            (false, Some("100/h"), 160)
        );
        let clear = Changes {
            sender_rate: Some(None),
            ..Changes::default()
        };
        update(&c, "src_1", &clear, 170).unwrap();
        assert_eq!(get(&c, "src_1").unwrap().unwrap().sender_rate, None);
        assert!(!update(&c, "src_nope", &clear, 170).unwrap());
    }

    fn event(id: &str, dedup: &str) -> SourceEvent {
        SourceEvent {
            event_id: id.into(),
            source: "gh".into(),
            dedup_id: dedup.into(),
            topic: "push".into(),
            sender: None,
            received_at_ms: 1,
            client_ip: "::1".into(),
            body: b"{}".to_vec(),
            body_hash: vec![0],
            duration_us: 1,
            headers: "{}".into(),
        }
    }

    #[test]
    fn a_source_event_is_stored_once_per_id_and_rejections_do_not_count() {
        let c = db();
        record_rejected(&c, &event("evt_0", "d1"), "rate_limited").unwrap();
        assert_eq!(
            ingest(&c, &event("evt_1", "d1"), &[]).unwrap(),
            Stored::Accepted {
                event_id: "evt_1".into()
            }
        );
        assert_eq!(
            ingest(&c, &event("evt_2", "d1"), &[]).unwrap(),
            Stored::Duplicate {
                event_id: "evt_1".into()
            }
        );
        let n: i64 = c
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2, "the rejection and one accepted event");
    }
}
