//! Orders, their status history, and webhook events. `ingest` is the one transactional unit of
//! an accepted webhook: idempotency check, order create-or-update, history, event and email.

use super::{StoreResult, optional, outbox};
use crate::domain::order::OrderPayload;
use crate::emails::OutgoingEmail;
use rusqlite::{Connection, params};
use serde::Serialize;

/// An authenticated webhook ready to be stored.
pub struct IncomingWebhook {
    pub event_id: String,
    pub new_order_id: String,
    pub merchant_id: String,
    pub business_name: String,
    pub webhook_id: String,
    pub received_at_ms: i64,
    pub client_ip: String,
    pub body: Vec<u8>,
    pub body_hash: Vec<u8>,
    pub duration_us: i64,
    /// JSON of the non-secret request headers (never the signature).
    pub headers: String,
    /// JSON `[{field, message}]` of a webhook refused for its payload's violations.
    pub violations: Option<String>,
}

/// What storing a webhook did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    Created {
        order_id: String,
        event_id: String,
    },
    Updated {
        order_id: String,
        event_id: String,
    },
    /// Same webhook-id and body as an earlier accepted event: nothing was written.
    Duplicate {
        order_id: String,
        event_id: String,
    },
    /// Same webhook-id, different body: only the refusal is recorded.
    Conflict,
}

/// Store an accepted webhook (runs inside the writer's transaction, so concurrent duplicates are
/// serialised and exactly one of them creates the order). `confirmation` is the customer's email
/// for a new order, rendered by the caller so that it costs the single writer thread nothing; it
/// is queued only if the order is indeed created. A status change's email is rendered here by
/// `status_email(customer_email, order_id)`, since it needs the stored order's address. Neither
/// is queued when `confirmation` is None (the operator's `--order-emails off`) or the merchant
/// turned order emails off, read here so that a change counts from the next write on. The
/// accepted event's deliveries, to the destinations `route(topic)` names, are written with it.
pub fn ingest(
    conn: &Connection,
    w: &IncomingWebhook,
    p: &OrderPayload,
    confirmation: Option<&OutgoingEmail>,
    status_email: &dyn Fn(&str, &str) -> OutgoingEmail,
    route: &dyn Fn(&str) -> Vec<String>,
    now: i64,
) -> StoreResult<Ingested> {
    if let Some(earlier) = accepted_event(conn, &w.merchant_id, &w.webhook_id)? {
        if earlier.body_hash == w.body_hash {
            return Ok(Ingested::Duplicate {
                order_id: earlier.order_id.unwrap_or_default(),
                event_id: earlier.event_id,
            });
        }
        record_rejected(conn, w, "idempotency_conflict")?;
        return Ok(Ingested::Conflict);
    }
    let status = p.tracking_status.as_str();
    let existing: Option<(String, String, String)> = match &p.merchant_reference {
        None => None,
        Some(reference) => optional(
            conn.prepare_cached(
                "SELECT id, tracking_status, customer_email FROM orders
                 WHERE merchant_id = ?1 AND merchant_reference = ?2",
            )?
            .query_row(params![w.merchant_id, reference], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            }),
        )?,
    };
    let (order_id, topic, changed, customer_email) = match existing {
        Some((order_id, old_status, customer_email)) => {
            let changed = old_status != status;
            if changed {
                conn.prepare_cached(
                    "UPDATE orders SET tracking_status = ?2, updated_at = ?3 WHERE id = ?1",
                )?
                .execute(params![order_id, status, now])?;
            }
            (order_id, "order.updated", changed, customer_email)
        }
        None => {
            conn.prepare_cached(
                "INSERT INTO orders (id, merchant_id, merchant_reference, customer_name, customer_email,
                     customer_phone, item_summary, address, tracking_status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
            )?
            .execute(params![w.new_order_id, w.merchant_id, p.merchant_reference, p.customer_name,
                p.customer_email, p.customer_phone, p.item_summary, p.address, status, now])?;
            (
                w.new_order_id.clone(),
                "order.created",
                true,
                p.customer_email.clone(),
            )
        }
    };
    if changed {
        conn.prepare_cached(
            "INSERT INTO order_history (order_id, status, at, event_id) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![order_id, status, now, w.event_id])?;
        if let Some(confirmation) = confirmation
            && super::settings::order_emails(conn, &w.merchant_id)?
        {
            if topic == "order.created" {
                outbox::enqueue(conn, confirmation, now)?;
            } else {
                outbox::enqueue(conn, &status_email(&customer_email, &order_id), now)?;
            }
        }
    }
    let reason = if topic == "order.created" {
        "created"
    } else {
        "updated"
    };
    insert_event(conn, w, topic, "accepted", reason, Some(&order_id))?;
    super::deliveries::enqueue(conn, &w.event_id, &route(topic), w.received_at_ms)?;
    Ok(if topic == "order.created" {
        Ingested::Created {
            order_id,
            event_id: w.event_id.clone(),
        }
    } else {
        Ingested::Updated {
            order_id,
            event_id: w.event_id.clone(),
        }
    })
}

/// The accepted event of a merchant's `webhook-id`, if any.
pub struct AcceptedEvent {
    pub event_id: String,
    pub order_id: Option<String>,
    pub body_hash: Vec<u8>,
}

/// Look up the accepted event of `webhook_id` (the idempotency key).
pub fn accepted_event(
    conn: &Connection,
    merchant_id: &str,
    webhook_id: &str,
) -> StoreResult<Option<AcceptedEvent>> {
    Ok(optional(
        conn.prepare_cached(
            "SELECT id, order_id, body_hash FROM events
             WHERE merchant_id = ?1 AND webhook_id = ?2 AND outcome = 'accepted'",
        )?
        .query_row(params![merchant_id, webhook_id], |r| {
            Ok(AcceptedEvent {
                event_id: r.get(0)?,
                order_id: r.get(1)?,
                body_hash: r.get(2)?,
            })
        }),
    )?)
}

fn insert_event(
    conn: &Connection,
    w: &IncomingWebhook,
    topic: &str,
    outcome: &str,
    reason: &str,
    order_id: Option<&str>,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO events (id, merchant_id, webhook_id, topic, received_at_ms, client_ip, body,
             body_hash, outcome, reason, order_id, duration_us, headers, violations)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        w.event_id,
        w.merchant_id,
        w.webhook_id,
        topic,
        w.received_at_ms,
        w.client_ip,
        w.body,
        w.body_hash,
        outcome,
        reason,
        order_id,
        w.duration_us,
        w.headers,
        w.violations
    ])?;
    Ok(())
}

/// Record an authenticated webhook that was refused (validation, conflict, ...), with its body.
pub fn record_rejected(conn: &Connection, w: &IncomingWebhook, reason: &str) -> StoreResult<()> {
    insert_event(conn, w, "order.rejected", "rejected", reason, None)
}

/// One status change of an order.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub status: String,
    pub at: i64,
    pub event_id: String,
}

/// An order with its history.
#[derive(Debug, Clone)]
pub struct Order {
    pub id: String,
    pub merchant_id: String,
    pub merchant_reference: Option<String>,
    pub customer_name: String,
    pub customer_email: String,
    pub customer_phone: String,
    pub item_summary: String,
    pub address: String,
    pub tracking_status: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub history: Vec<HistoryEntry>,
}

const ORDER_COLUMNS: &str = "id, merchant_id, merchant_reference, customer_name, customer_email, \
    customer_phone, item_summary, address, tracking_status, created_at, updated_at";

fn order_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Order> {
    Ok(Order {
        id: r.get(0)?,
        merchant_id: r.get(1)?,
        merchant_reference: r.get(2)?,
        customer_name: r.get(3)?,
        customer_email: r.get(4)?,
        customer_phone: r.get(5)?,
        item_summary: r.get(6)?,
        address: r.get(7)?,
        tracking_status: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
        history: Vec::new(),
    })
}

fn with_history(conn: &Connection, mut order: Order) -> StoreResult<Order> {
    let mut stmt = conn.prepare_cached(
        "SELECT status, at, event_id FROM order_history WHERE order_id = ?1 ORDER BY id",
    )?;
    order.history = stmt
        .query_map([&order.id], |r| {
            Ok(HistoryEntry {
                status: r.get(0)?,
                at: r.get(1)?,
                event_id: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(order)
}

/// A merchant's orders, newest first, older than the `before` order id.
pub fn list(
    conn: &Connection,
    merchant_id: &str,
    status: Option<&str>,
    limit: u32,
    before: Option<&str>,
) -> StoreResult<Vec<Order>> {
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE merchant_id = ?1 AND (?2 IS NULL OR tracking_status = ?2)
         AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4"
    );
    let orders: Vec<Order> = conn
        .prepare_cached(&sql)?
        .query_map(params![merchant_id, status, before, limit], order_row)?
        .collect::<rusqlite::Result<_>>()?;
    orders.into_iter().map(|o| with_history(conn, o)).collect()
}

/// Which of a merchant's orders a page shows.
#[derive(Debug, Default, Clone)]
pub struct OrderFilter {
    pub status: Option<String>,
    /// An order id, the merchant's reference or the customer's email (any case), exactly.
    pub search: Option<String>,
    /// Older than this order id, newest first.
    pub before_id: Option<String>,
    /// Newer than this order id: read oldest first (the caller turns the page).
    pub after_id: Option<String>,
}

/// A merchant's orders matching `f`, newest first (oldest first with `after_id`).
pub fn search(
    conn: &Connection,
    merchant_id: &str,
    f: &OrderFilter,
    limit: u32,
) -> StoreResult<Vec<Order>> {
    let order = if f.after_id.is_some() { "ASC" } else { "DESC" };
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE merchant_id = ?1
           AND (?2 IS NULL OR tracking_status = ?2)
           AND (?3 IS NULL OR id = ?3 OR merchant_reference = ?3
                OR customer_email = ?3 COLLATE NOCASE)
           AND (?4 IS NULL OR id < ?4) AND (?5 IS NULL OR id > ?5)
         ORDER BY id {order} LIMIT ?6"
    );
    let orders: Vec<Order> = conn
        .prepare_cached(&sql)?
        .query_map(
            params![
                merchant_id,
                f.status,
                f.search,
                f.before_id,
                f.after_id,
                limit
            ],
            order_row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    orders.into_iter().map(|o| with_history(conn, o)).collect()
}

/// One order of one merchant (another merchant's order is not found).
pub fn get(conn: &Connection, merchant_id: &str, order_id: &str) -> StoreResult<Option<Order>> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1 AND merchant_id = ?2");
    match optional(conn.query_row(&sql, params![order_id, merchant_id], order_row))? {
        Some(o) => Ok(Some(with_history(conn, o)?)),
        None => Ok(None),
    }
}

/// Any order by id (admin views).
pub fn get_any(conn: &Connection, order_id: &str) -> StoreResult<Option<Order>> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1");
    match optional(conn.query_row(&sql, params![order_id], order_row))? {
        Some(o) => Ok(Some(with_history(conn, o)?)),
        None => Ok(None),
    }
}

/// A stored event (the body only when asked for).
#[derive(Debug, Clone)]
pub struct Event {
    pub seq: i64,
    pub id: String,
    /// `orders`, or the slug of the provider source it came from.
    pub source: String,
    /// The merchant of an order webhook; `None` for a source's event.
    pub merchant_id: Option<String>,
    pub webhook_id: String,
    pub topic: String,
    pub received_at_ms: i64,
    pub client_ip: String,
    pub outcome: String,
    pub reason: String,
    pub order_id: Option<String>,
    pub duration_us: i64,
    pub headers: String,
    /// Who sent a source's event (a phone number), for its sender rate.
    pub sender: Option<String>,
    /// JSON `[{field, message}]` of a webhook refused with 422.
    pub violations: Option<String>,
    pub body: Option<Vec<u8>>,
}

/// Filters of the event list.
#[derive(Debug, Default, Clone)]
pub struct EventFilter {
    pub merchant_id: Option<String>,
    /// `orders` or a source's slug.
    pub source: Option<String>,
    pub topic: Option<String>,
    /// `accepted` or `rejected`.
    pub outcome: Option<String>,
    pub since_ms: Option<i64>,
    pub before_seq: Option<i64>,
    /// Newer than this sequence number: the page is read oldest first (the caller turns it).
    pub after_seq: Option<i64>,
    /// The sender's `webhook-id`, exactly.
    pub webhook_id: Option<String>,
}

const EVENT_COLUMNS: &str = "seq, id, merchant_id, webhook_id, topic, received_at_ms, client_ip, \
    outcome, reason, order_id, duration_us, headers, source, sender, violations";

fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        seq: r.get(0)?,
        id: r.get(1)?,
        merchant_id: r.get(2)?,
        webhook_id: r.get(3)?,
        topic: r.get(4)?,
        received_at_ms: r.get(5)?,
        client_ip: r.get(6)?,
        outcome: r.get(7)?,
        reason: r.get(8)?,
        order_id: r.get(9)?,
        duration_us: r.get(10)?,
        headers: r.get(11)?,
        source: r.get(12)?,
        sender: r.get(13)?,
        violations: r.get(14)?,
        body: None,
    })
}

/// Events newest first (oldest first with `after_seq`). A provider source's events are found through their own partial index
/// (`events_by_source`), whose condition the query must repeat literally to use it.
pub fn list_events(conn: &Connection, f: &EventFilter, limit: u32) -> StoreResult<Vec<Event>> {
    let by_source = match f.source.as_deref() {
        None => "",
        Some("orders") => "AND source = 'orders'",
        Some(_) => "AND source = ?6 AND source <> 'orders'",
    };
    let order = if f.after_seq.is_some() { "ASC" } else { "DESC" };
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events
         WHERE (?1 IS NULL OR merchant_id = ?1) AND (?2 IS NULL OR outcome = ?2)
           AND (?3 IS NULL OR received_at_ms >= ?3) AND seq < ?4 AND seq > ?8
           AND (?7 IS NULL OR topic = ?7) AND (?9 IS NULL OR webhook_id = ?9) {by_source}
         ORDER BY seq {order} LIMIT ?5"
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(
            params![
                f.merchant_id,
                f.outcome,
                f.since_ms,
                f.before_seq.unwrap_or(i64::MAX),
                limit,
                f.source,
                f.topic,
                f.after_seq.unwrap_or(0),
                f.webhook_id
            ],
            event_row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// One event with its body.
pub fn get_event(conn: &Connection, event_id: &str) -> StoreResult<Option<Event>> {
    let sql = format!("SELECT {EVENT_COLUMNS}, body FROM events WHERE id = ?1");
    Ok(optional(conn.query_row(&sql, [event_id], |r| {
        let mut e = event_row(r)?;
        e.body = r.get(15)?;
        Ok(e)
    }))?)
}

/// Delete up to `limit` events received before `cutoff_ms`, with their finished deliveries and
/// the attempts of those; returns how many events went. An event that still has a pending or
/// failed delivery is kept until that delivery finishes (it is the body that would be sent), so
/// retention never drops what a destination has not received.
pub fn delete_events_before(conn: &Connection, cutoff_ms: i64, limit: u32) -> StoreResult<usize> {
    let old: Vec<(i64, String)> = conn
        .prepare_cached(OLD_FINISHED_EVENTS)?
        .query_map(params![cutoff_ms, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut attempts = conn.prepare_cached(
        "DELETE FROM delivery_attempts WHERE delivery_id IN
             (SELECT id FROM deliveries WHERE event_id = ?1)",
    )?;
    let mut deliveries = conn.prepare_cached("DELETE FROM deliveries WHERE event_id = ?1")?;
    let mut events = conn.prepare_cached("DELETE FROM events WHERE seq = ?1")?;
    for (seq, id) in &old {
        attempts.execute([id])?;
        deliveries.execute([id])?;
        events.execute([seq])?;
    }
    Ok(old.len())
}

/// The oldest events past the cutoff whose deliveries are all finished (or that have none).
pub(crate) const OLD_FINISHED_EVENTS: &str = "SELECT seq, id FROM events
     WHERE received_at_ms < ?1
       AND NOT EXISTS (SELECT 1 FROM deliveries d
                       WHERE d.event_id = events.id AND d.status IN ('pending', 'failed'))
     ORDER BY received_at_ms LIMIT ?2";
