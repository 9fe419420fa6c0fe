//! Destinations (CONTRACT section 10): create, list, show, change. The routes (which events go
//! where) are cached in memory and handed to the writer, so an event's deliveries are written in
//! its own transaction without a query per event.

use super::{AppResult, Error, Missing};
use crate::{
    domain::{
        Violation,
        delivery::{self, CircuitSettings, RetryPolicy},
        egress::DestinationUrl,
        text,
    },
    state::AppState,
    store::{
        self, audit,
        destinations::{self, Destination},
    },
};
use serde_json::{Value, json};
use std::{
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// Where one destination's events come from.
#[derive(Debug, Clone)]
pub struct Route {
    pub destination_id: String,
    pub sources: Option<Vec<String>>,
    pub topics: Option<Vec<String>>,
}

/// The routes of every destination, and a generation bumped by every change.
#[derive(Default)]
pub struct Routes {
    generation: AtomicU64,
    loaded: RwLock<Option<(u64, Arc<Vec<Route>>)>>,
}

impl Routes {
    /// Forget the cached routes (after committing a change to a destination).
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Bumped by every committed change to a destination.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The current routes.
    pub async fn current(&self, state: &AppState) -> AppResult<Arc<Vec<Route>>> {
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some((g, routes)) = &*self.loaded.read().unwrap_or_else(|p| p.into_inner())
            && *g == generation
        {
            return Ok(Arc::clone(routes));
        }
        let rows = state.store.read(destinations::list).await?;
        let routes: Vec<Route> = rows.iter().map(route).collect();
        let routes = Arc::new(routes);
        *self.loaded.write().unwrap_or_else(|p| p.into_inner()) =
            Some((generation, Arc::clone(&routes)));
        Ok(routes)
    }
}

fn list_of(json: &Option<String>) -> Option<Vec<String>> {
    json.as_deref().and_then(|j| serde_json::from_str(j).ok())
}

fn route(d: &Destination) -> Route {
    Route {
        destination_id: d.id.clone(),
        sources: list_of(&d.sources),
        topics: list_of(&d.topics),
    }
}

/// The destinations an event of `source` and `topic` goes to.
pub fn matching(routes: &[Route], source: &str, topic: &str) -> Vec<String> {
    routes
        .iter()
        .filter(|r| delivery::matches(r.sources.as_deref(), r.topics.as_deref(), source, topic))
        .map(|r| r.destination_id.clone())
        .collect()
}

/// A destination with its parsed settings.
#[derive(Debug, Clone)]
pub struct Shown {
    pub row: Destination,
    pub sources: Option<Vec<String>>,
    pub topics: Option<Vec<String>>,
    pub retry: Value,
    pub circuit: Value,
}

fn shown(row: Destination) -> Shown {
    Shown {
        sources: list_of(&row.sources),
        topics: list_of(&row.topics),
        retry: serde_json::from_str(&row.retry).unwrap_or(Value::Null),
        circuit: serde_json::from_str(&row.circuit).unwrap_or(Value::Null),
        row,
    }
}

/// The settings of a request, each checked; every problem collected in `v`.
struct Settings {
    url: Option<String>,
    sources: Option<Option<Vec<String>>>,
    topics: Option<Option<Vec<String>>>,
    retry: Option<RetryPolicy>,
    timeout: Option<Duration>,
    circuit: Option<CircuitSettings>,
}

fn settings(state: &AppState, body: &Value, v: &mut Vec<Violation>) -> Settings {
    let mut take = |problems: Vec<Violation>| v.extend(problems);
    let url = match body.get("url") {
        None | Some(Value::Null) => None,
        Some(Value::String(raw)) => {
            match DestinationUrl::parse(raw, &state.config.destination_allow) {
                Ok(u) => Some(u.to_string()),
                Err(message) => {
                    take(vec![Violation::new("url", message)]);
                    None
                }
            }
        }
        Some(_) => {
            take(vec![Violation::new("url", "must be a string")]);
            None
        }
    };
    let sources = body
        .get("sources")
        .map(|s| delivery::parse_sources(s).map_err(&mut take).ok())
        .unwrap_or(Some(None));
    let topics = body
        .get("topics")
        .map(|t| delivery::parse_topics(t).map_err(&mut take).ok())
        .unwrap_or(Some(None));
    let retry = body
        .get("retry")
        .filter(|r| !r.is_null())
        .and_then(|r| RetryPolicy::parse(r).map_err(&mut take).ok());
    let timeout = body
        .get("timeout")
        .filter(|t| !t.is_null())
        .and_then(|t| delivery::parse_timeout(t).map_err(&mut take).ok());
    let circuit = body
        .get("circuit")
        .filter(|c| !c.is_null())
        .and_then(|c| CircuitSettings::parse(c).map_err(&mut take).ok());
    Settings {
        url,
        sources: body.get("sources").map(|_| sources.flatten()),
        topics: body.get("topics").map(|_| topics.flatten()),
        retry,
        timeout,
        circuit,
    }
}

fn name_of(body: &Value, required: bool, v: &mut Vec<Violation>) -> Option<String> {
    match body.get("name") {
        None | Some(Value::Null) if required => {
            v.push(Violation::new("name", "is required"));
            None
        }
        None | Some(Value::Null) => None,
        Some(Value::String(n)) if n.trim().is_empty() => {
            v.push(Violation::new("name", "must not be empty"));
            None
        }
        Some(Value::String(n)) if n.trim().chars().count() > text::MAX_NAME_CHARS => {
            v.push(Violation::new(
                "name",
                format!("must be at most {} characters", text::MAX_NAME_CHARS),
            ));
            None
        }
        Some(Value::String(n)) => Some(n.trim().to_string()),
        Some(_) => {
            v.push(Violation::new("name", "must be a string"));
            None
        }
    }
}

/// Every field a destination takes (the OpenAPI document lists the same; a test checks).
pub const FIELDS: [&str; 8] = [
    "name", "url", "sources", "topics", "retry", "timeout", "circuit", "enabled",
];

fn unknown_fields(body: &Value, v: &mut Vec<Violation>) {
    match body.as_object() {
        Some(map) => {
            for key in map.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
                v.push(Violation::new(key.clone(), "is not a destination setting"));
            }
        }
        None => v.push(Violation::new("body", "must be a JSON object")),
    }
}

/// What creating revealed: the signing secret, shown once.
pub struct Created {
    pub shown: Shown,
    pub signing_secret: String,
}

/// Create a destination; every problem of the request at once.
pub async fn create(state: &AppState, actor: &str, body: Value) -> AppResult<Created> {
    let mut v = Vec::new();
    unknown_fields(&body, &mut v);
    let name = name_of(&body, true, &mut v);
    if body.get("url").is_none_or(Value::is_null) {
        v.push(Violation::new("url", "is required"));
    }
    let s = settings(state, &body, &mut v);
    let (Some(name), Some(url), true) = (name, s.url, v.is_empty()) else {
        return Err(Error::Invalid(v));
    };
    let now = state.now();
    let to_json = |list: Option<Vec<String>>| list.map(|l| json!(l).to_string());
    let row = Destination {
        id: store::new_id("dst"),
        name,
        url,
        sources: to_json(s.sources.flatten()),
        topics: to_json(s.topics.flatten()),
        retry: s.retry.unwrap_or_default().to_json().to_string(),
        timeout_ms: s.timeout.unwrap_or(delivery::DEFAULT_TIMEOUT).as_millis() as i64,
        circuit: s.circuit.unwrap_or_default().to_json().to_string(),
        enabled: body.get("enabled").and_then(Value::as_bool).unwrap_or(true),
        disabled_reason: None,
        circuit_state: "closed".into(),
        circuit_until_ms: None,
        consecutive_failures: 0,
        reopen_count: 0,
        created_at: now,
        updated_at: now,
    };
    let (secret, secret_id, sealed) = new_secret(state);
    let (stored, actor) = (row.clone(), actor.to_string());
    state
        .store
        .write(move |c| {
            destinations::create(c, &stored, &secret_id, &sealed)?;
            audit::record(
                c,
                now,
                &actor,
                "destination.created",
                &stored.id,
                json!({"url": stored.url, "name": stored.name}),
            )?;
            Ok::<_, store::StoreError>(())
        })
        .await?;
    state.routes.invalidate();
    Ok(Created {
        shown: shown(row),
        signing_secret: secret,
    })
}

/// Every destination.
pub async fn list(state: &AppState) -> AppResult<Vec<Shown>> {
    Ok(state
        .store
        .read(destinations::list)
        .await?
        .into_iter()
        .map(shown)
        .collect())
}

/// One destination.
pub async fn get(state: &AppState, id: &str) -> AppResult<Shown> {
    let id = id.to_string();
    state
        .store
        .read(move |c| destinations::get(c, &id))
        .await?
        .map(shown)
        .ok_or(Error::NotFound(Missing::Destination))
}

/// The queue of a destination: (pending, failed, oldest pending created_at).
pub async fn queue_state(state: &AppState, id: &str) -> AppResult<(i64, i64, Option<i64>)> {
    let id = id.to_string();
    Ok(state
        .store
        .read(move |c| destinations::queue_state(c, &id))
        .await?)
}

/// Change a destination (PATCH); every problem at once. Enabling clears `disabled_reason` and
/// closes the circuit, so the waiting deliveries flow again.
pub async fn update(state: &AppState, actor: &str, id: &str, body: Value) -> AppResult<Shown> {
    let mut v = Vec::new();
    unknown_fields(&body, &mut v);
    let name = name_of(&body, false, &mut v);
    let s = settings(state, &body, &mut v);
    let enabled = match body.get("enabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            v.push(Violation::new("enabled", "must be true or false"));
            None
        }
    };
    if !v.is_empty() {
        return Err(Error::Invalid(v));
    }
    let to_json =
        |list: Option<Option<Vec<String>>>| list.map(|l| l.map(|items| json!(items).to_string()));
    let changes = destinations::Changes {
        name,
        url: s.url,
        sources: to_json(s.sources),
        topics: to_json(s.topics),
        retry: s.retry.map(|r| r.to_json().to_string()),
        timeout_ms: s.timeout.map(|t| t.as_millis() as i64),
        circuit: s.circuit.map(|c| c.to_json().to_string()),
        enabled,
    };
    let (id, actor, now) = (id.to_string(), actor.to_string(), state.now());
    let updated = state
        .store
        .write(move |c| {
            if !destinations::update(c, &id, &changes, now)? {
                return Ok(None);
            }
            let action = match changes.enabled {
                Some(true) => "destination.enabled",
                Some(false) => "destination.disabled",
                None => "destination.updated",
            };
            audit::record(c, now, &actor, action, &id, json!({}))?;
            destinations::get(c, &id)
        })
        .await?;
    state.routes.invalidate();
    updated
        .map(shown)
        .ok_or(Error::NotFound(Missing::Destination))
}

/// A fresh signing secret (`whsec_` + 32 random bytes), its id, and it sealed under that id.
fn new_secret(state: &AppState) -> (String, String, Vec<u8>) {
    let secret = crate::domain::WebhookSecret::from_bytes(state.crypto.random_bytes()).expose();
    let secret_id = store::new_id("dsec");
    let sealed = state
        .crypto
        .seal(&destinations::seal_context(&secret_id), secret.as_bytes());
    (secret, secret_id, sealed)
}

/// Issue a new signing secret: attempts carry both signatures for `--secret-grace`, so the
/// receiving side can switch without refusing a delivery. Returns the new secret (shown once).
pub async fn rotate_secret(state: &AppState, actor: &str, id: &str) -> AppResult<String> {
    let (secret, secret_id, sealed) = new_secret(state);
    let now = state.now();
    let grace = state.config.secret_grace.as_secs() as i64;
    let (id, actor) = (id.to_string(), actor.to_string());
    let rotated = state
        .store
        .write(move |c| {
            if !destinations::rotate_secret(c, &id, &secret_id, &sealed, now, now + grace)? {
                return Ok(false);
            }
            audit::record(c, now, &actor, "destination.secret_rotated", &id, json!({}))?;
            Ok::<_, store::StoreError>(true)
        })
        .await?;
    if !rotated {
        return Err(Error::NotFound(Missing::Destination));
    }
    Ok(secret)
}

/// What a test send did.
pub struct TestSend {
    pub delivered: bool,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
}

/// Send one `hookgate.test` request to the destination now, signed like a delivery.
pub async fn send_test(state: &AppState, id: &str) -> AppResult<TestSend> {
    let shown = get(state, id).await?;
    let url = crate::domain::egress::DestinationUrl::parse(
        &shown.row.url,
        &state.config.destination_allow,
    )
    .map_err(|m| Error::Invalid(vec![Violation::new("url", m)]))?;
    let now = state.now();
    let (did, message_id) = (shown.row.id.clone(), store::new_id("msg"));
    let body = json!({
        "type": "hookgate.test",
        "destination_id": did,
        "sent_at": crate::clock::rfc3339(now),
    })
    .to_string();
    let secrets = state
        .store
        .read(move |c| destinations::live_secrets(c, &did, now))
        .await?;
    let signatures: Vec<String> = secrets
        .iter()
        .filter_map(|s| {
            let text = state
                .crypto
                .open(&destinations::seal_context(&s.id), &s.sealed)
                .ok()?;
            let secret =
                crate::domain::WebhookSecret::parse(std::str::from_utf8(&text).ok()?).ok()?;
            Some(crate::domain::signature::sign(
                secret.key(),
                &message_id,
                now,
                body.as_bytes(),
            ))
        })
        .collect();
    let headers = vec![
        ("webhook-id".to_string(), message_id),
        ("webhook-timestamp".to_string(), now.to_string()),
        ("webhook-signature".to_string(), signatures.join(" ")),
        ("hookgate-source".to_string(), "hookgate".to_string()),
        ("hookgate-topic".to_string(), "hookgate.test".to_string()),
        ("hookgate-attempt".to_string(), "1".to_string()),
        ("content-type".to_string(), "application/json".to_string()),
    ];
    let timeout = Duration::from_millis(shown.row.timeout_ms.max(1) as u64);
    let outbound = crate::outbound::Outbound::new(state.config.destination_allow.clone());
    let sent = outbound.post(&url, &headers, body.into(), timeout).await;
    Ok(TestSend {
        delivered: sent.status.is_some_and(|s| (200..300).contains(&s)),
        status_code: sent.status,
        duration_ms: sent.duration.as_millis() as u64,
        error: sent.error.map(str::to_string).or_else(|| {
            sent.status
                .filter(|s| !(200..300).contains(s))
                .map(|s| format!("status {s}"))
        }),
    })
}

/// A destination's attempts per hour over the last 24 hours, oldest first: (start of the hour
/// in unix seconds, succeeded, failed).
pub async fn outcomes_per_hour(state: &AppState, id: &str) -> AppResult<Vec<(i64, u64, u64)>> {
    let first_hour = crate::metrics::hour_of(state.now()) - 23 * 3600;
    let id = id.to_string();
    let times = state
        .store
        .read(move |c| store::delivery_stats::attempt_times(c, &id, first_hour * 1000))
        .await?;
    let mut hours: Vec<(i64, u64, u64)> = (0..24).map(|i| (first_hour + i * 3600, 0, 0)).collect();
    for (at_ms, ok) in times {
        let i = (at_ms.div_euclid(1000) - first_hour).div_euclid(3600);
        if let Some(h) = usize::try_from(i).ok().and_then(|i| hours.get_mut(i)) {
            if ok {
                h.1 += 1;
            } else {
                h.2 += 1;
            }
        }
    }
    Ok(hours)
}
