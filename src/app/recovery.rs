//! Recovery (CONTRACT section 10): sending deliveries again once a destination works again.
//!
//! - [`retry`]: one `failed` (or `pending`) delivery is attempted again now.
//! - [`replay`]: a destination's deliveries of one status, created in a time window, start again.
//! - [`redeliver`]: an event gets new deliveries to every destination that matches it today.
//!
//! Retry and replay *reset* a delivery (`store::deliveries::reset`): `pending`, due now, and
//! `attempts` back to 0, so the destination's retry policy gives it a fresh set of attempts
//! (`hookgate-attempt` starts at 1 again; the attempt log keeps every earlier attempt). Nothing
//! is sent here: the worker claims reset rows on its next tick like any due delivery, so an
//! open circuit or a disabled destination still holds them back.
//!
//! A delivery an attempt holds (a live lease) is never reset: that attempt is in flight and will
//! report, and resetting under it would send a second copy at the same time and let the late
//! report overwrite the reset. `retry` answers such a delivery with `delivery_in_flight`; a
//! replay leaves it out (it is being attempted anyway). Delivery stays at least once, and a reset
//! adds no concurrent copy: a re-send only comes after the previous attempt reported.
//!
//! Every call is an audit entry, written in the transaction of its change, except a replay's
//! dry run, which only counts.

use super::{
    AppResult, Error, Missing,
    destinations::{Route, matching},
    maintenance::in_batches_carrying,
};
use crate::{
    clock,
    domain::Violation,
    state::AppState,
    store::{
        StoreResult, audit,
        deliveries::{self, ReplayFilter, ReplayKey},
        destinations,
    },
};
use rusqlite::Connection;
use serde_json::{Map, Value, json};

/// Why a recovery call was refused (all answered 409).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Only `failed` and `pending` deliveries are retried; `status` is the delivery's.
    NotRetryable { status: String },
    /// An attempt of the delivery is in flight; it reports first.
    InFlight,
    /// The delivery's event is past retention: its body is gone, nothing can be sent.
    EventExpired,
    /// The event was rejected at ingest; rejected events are never delivered.
    EventNotAccepted,
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        Error::Recovery(r)
    }
}

/// A retried delivery: due at `next_attempt_ms`.
#[derive(Debug, Clone)]
pub struct Retried {
    pub delivery_id: String,
    pub next_attempt_ms: i64,
}

/// Attempt one `failed` or `pending` delivery again now, with a fresh set of attempts.
pub async fn retry(state: &AppState, actor: &str, delivery_id: &str) -> AppResult<Retried> {
    let (id, actor, now_ms) = (delivery_id.to_string(), actor.to_string(), state.now_ms());
    state
        .store
        .write(move |c| retry_in(c, &id, &actor, now_ms))
        .await??;
    Ok(Retried {
        delivery_id: delivery_id.to_string(),
        next_attempt_ms: now_ms,
    })
}

/// The retry's one write: look, decide, reset, audit.
fn retry_in(c: &Connection, id: &str, actor: &str, now_ms: i64) -> StoreResult<AppResult<()>> {
    let Some(target) = deliveries::retry_target(c, id)? else {
        return Ok(Err(Error::NotFound(Missing::Delivery)));
    };
    if !matches!(target.status.as_str(), "failed" | "pending") {
        return Ok(Err(Refusal::NotRetryable {
            status: target.status,
        }
        .into()));
    }
    if !target.event_kept {
        return Ok(Err(Refusal::EventExpired.into()));
    }
    // The guard can only fail on a live lease: status and event were just checked.
    if !deliveries::reset(c, target.rowid, &target.status, now_ms)? {
        return Ok(Err(Refusal::InFlight.into()));
    }
    audit::record(
        c,
        now_ms.div_euclid(1000),
        actor,
        "delivery.retried",
        id,
        json!({"previous_status": target.status, "previous_attempts": target.attempts}),
    )?;
    Ok(Ok(()))
}

/// The statuses a replay starts again. `succeeded` is allowed: re-sending what a destination
/// lost (a restore from backup, a bug on its side) is a reason to replay. `cancelled` is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayStatus {
    Failed,
    Succeeded,
    Pending,
}

impl ReplayStatus {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "failed" => Some(ReplayStatus::Failed),
            "succeeded" => Some(ReplayStatus::Succeeded),
            "pending" => Some(ReplayStatus::Pending),
            _ => None,
        }
    }

    /// The stored status.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplayStatus::Failed => "failed",
            ReplayStatus::Succeeded => "succeeded",
            ReplayStatus::Pending => "pending",
        }
    }
}

/// A replay request: which deliveries (status, and `since <= created_at < until` in unix
/// seconds), and whether only to count them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    pub status: ReplayStatus,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub dry_run: bool,
}

/// Every field a replay takes (the OpenAPI document lists the same; a test checks).
pub const REPLAY_FIELDS: [&str; 4] = ["status", "since", "until", "dry_run"];
const TIME_MESSAGE: &str = "must be an RFC 3339 time or unix seconds";

impl Replay {
    /// Parse a replay body (`{}` replays every failed delivery); every problem at once.
    pub fn parse(body: &Map<String, Value>) -> Result<Replay, Vec<Violation>> {
        let mut v = Vec::new();
        for key in body.keys().filter(|k| !REPLAY_FIELDS.contains(&k.as_str())) {
            v.push(Violation::new(
                key.clone(),
                "is not a replay option (status, since, until, dry_run)",
            ));
        }
        let status = match body.get("status") {
            None | Some(Value::Null) => Some(ReplayStatus::Failed),
            Some(Value::String(s)) => ReplayStatus::parse(s.trim()),
            Some(_) => None,
        };
        if status.is_none() {
            v.push(Violation::new(
                "status",
                "must be failed, succeeded or pending",
            ));
        }
        let since = time_field(body, "since", &mut v);
        let until = time_field(body, "until", &mut v);
        if let (Some(since), Some(until)) = (since, until)
            && until <= since
        {
            v.push(Violation::new("until", "must be after since"));
        }
        let dry_run = match body.get("dry_run") {
            None | Some(Value::Null) => Some(false),
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                v.push(Violation::new("dry_run", "must be true or false"));
                None
            }
        };
        match (status, dry_run) {
            (Some(status), Some(dry_run)) if v.is_empty() => Ok(Replay {
                status,
                since,
                until,
                dry_run,
            }),
            _ => Err(v),
        }
    }

    fn filter(&self, destination_id: &str) -> ReplayFilter {
        ReplayFilter {
            destination_id: destination_id.to_string(),
            status: self.status.as_str(),
            since: self.since.unwrap_or(i64::MIN),
            until: self.until.unwrap_or(i64::MAX),
        }
    }
}

/// A time given as RFC 3339 text or unix seconds (text or number); `None` when absent or wrong
/// (then with a violation).
fn time_field(body: &Map<String, Value>, field: &str, v: &mut Vec<Violation>) -> Option<i64> {
    let parsed = match body.get(field)? {
        Value::Null => return None,
        Value::String(s) => clock::parse_time(s.trim()),
        Value::Number(n) => n.as_i64(),
        _ => None,
    };
    if parsed.is_none() {
        v.push(Violation::new(field, TIME_MESSAGE));
    }
    parsed
}

/// Start a destination's deliveries again (`body` as in [`Replay::parse`]); returns how many
/// were reset, or with `dry_run` how many would be, changing nothing.
///
/// The resets go through the writer in paced batches (`in_batches_carrying`), so replaying a
/// million dead letters takes a bounded share of the writer and never stalls ingest. They run
/// in a task of their own: a client that stops waiting does not stop a replay half way.
pub async fn replay(
    state: &AppState,
    actor: &str,
    destination_id: &str,
    body: &Map<String, Value>,
) -> AppResult<u64> {
    let request = Replay::parse(body).map_err(Error::Invalid)?;
    let id = destination_id.to_string();
    if state
        .store
        .read(move |c| destinations::get(c, &id))
        .await?
        .is_none()
    {
        return Err(Error::NotFound(Missing::Destination));
    }
    let filter = request.filter(destination_id);
    let now_ms = state.now_ms();
    if request.dry_run {
        return Ok(state
            .store
            .read(move |c| deliveries::count_replayable(c, &filter, now_ms))
            .await?);
    }
    let task = tokio::spawn(reset_in_batches(
        state.clone(),
        actor.to_string(),
        request,
        filter,
        now_ms,
    ));
    let reset = task.await.map_err(|e| {
        tracing::error!(error = %e, "a replay task failed");
        Error::Internal
    })??;
    tracing::info!(destination = destination_id, reset, "deliveries replayed");
    Ok(reset)
}

/// Where a replay has got to, carried from batch to batch.
#[derive(Debug, Clone, Default)]
struct Progress {
    /// The audit entry is written (with the first batch).
    audited: bool,
    after: Option<ReplayKey>,
    reset: u64,
}

/// The replay's batches. The first also writes the audit entry, so no delivery is reset without
/// a record of who asked for what (a replay cut short by a crash keeps its entry).
async fn reset_in_batches(
    state: AppState,
    actor: String,
    request: Replay,
    filter: ReplayFilter,
    now_ms: i64,
) -> AppResult<u64> {
    let details = json!({
        "status": request.status.as_str(),
        "since": request.since.map(clock::rfc3339),
        "until": request.until.map(clock::rfc3339),
    });
    let done = in_batches_carrying(&state, Progress::default(), move |c, p, limit| {
        if !p.audited {
            audit::record(
                c,
                now_ms.div_euclid(1000),
                &actor,
                "destination.replayed",
                &filter.destination_id,
                details.clone(),
            )?;
        }
        let batch = deliveries::replay_batch(c, &filter, p.after, now_ms, limit)?;
        let next = Progress {
            audited: true,
            after: batch.last.or(p.after),
            reset: p.reset + batch.reset,
        };
        Ok((batch.examined, next))
    })
    .await?;
    Ok(done.reset)
}

/// A delivery created by a redelivery.
#[derive(Debug, Clone)]
pub struct Redelivery {
    pub delivery_id: String,
    pub destination_id: String,
}

/// New deliveries of an accepted event to every destination matching its source and topic
/// now (disabled destinations included: their deliveries wait, as at ingest). Each carries the
/// event's id as `webhook-id`, like every attempt of the original deliveries.
pub async fn redeliver(
    state: &AppState,
    actor: &str,
    event_id: &str,
) -> AppResult<Vec<Redelivery>> {
    let routes = state.routes.current(state).await?;
    let (id, actor, now_ms) = (event_id.to_string(), actor.to_string(), state.now_ms());
    state
        .store
        .write(move |c| redeliver_in(c, &routes, &id, &actor, now_ms))
        .await?
}

/// The redelivery's one write: look the event up, enqueue, audit.
fn redeliver_in(
    c: &Connection,
    routes: &[Route],
    id: &str,
    actor: &str,
    now_ms: i64,
) -> StoreResult<AppResult<Vec<Redelivery>>> {
    let Some(event) = deliveries::event_route(c, id)? else {
        return Ok(Err(Error::NotFound(Missing::Event)));
    };
    if !event.accepted {
        return Ok(Err(Refusal::EventNotAccepted.into()));
    }
    let made = matching(routes, &event.source, &event.topic)
        .into_iter()
        .map(|destination_id| {
            Ok(Redelivery {
                delivery_id: deliveries::enqueue_one(c, id, &destination_id, now_ms)?,
                destination_id,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let listed: Vec<Value> = made
        .iter()
        .map(|r| json!({"delivery_id": r.delivery_id, "destination_id": r.destination_id}))
        .collect();
    audit::record(
        c,
        now_ms.div_euclid(1000),
        actor,
        "event.redelivered",
        id,
        json!({ "deliveries": listed }),
    )?;
    Ok(Ok(made))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: Value) -> Result<Replay, Vec<String>> {
        let Value::Object(map) = body else {
            panic!("an object");
        };
        Replay::parse(&map).map_err(|v| v.into_iter().map(|v| v.field).collect())
    }

    #[test]
    fn an_empty_replay_takes_every_failed_delivery_for_real() {
        assert_eq!(
            parse(json!({})),
            Ok(Replay {
                status: ReplayStatus::Failed,
                since: None,
                until: None,
                dry_run: false
            })
        );
    }

    #[test]
    fn times_are_rfc_3339_or_unix_seconds_as_text_or_number() {
        let r = parse(
            json!({"status": "succeeded", "since": "1970-01-01T00:01:40Z",
                             "until": 200, "dry_run": true}),
        )
        .unwrap();
        assert_eq!(r.status, ReplayStatus::Succeeded);
        assert_eq!((r.since, r.until, r.dry_run), (Some(100), Some(200), true));
        assert_eq!(parse(json!({"since": "150"})).unwrap().since, Some(150));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let fields = parse(
            json!({"status": "cancelled", "since": "yesterday", "until": [],
                                  "dry_run": "yes", "colour": "blue"}),
        )
        .unwrap_err();
        for field in ["colour", "status", "since", "until", "dry_run"] {
            assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
        }
    }

    #[test]
    fn until_must_come_after_since() {
        assert_eq!(
            parse(json!({"since": 200, "until": 200})).unwrap_err(),
            ["until"]
        );
        assert_eq!(
            parse(json!({"since": 300, "until": "100"})).unwrap_err(),
            ["until"]
        );
    }
}
