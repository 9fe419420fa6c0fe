//! `POST /in/<slug>` and Meta's `GET` challenge (CONTRACT section 9), in the contract's order:
//! source known and enabled → body size (the handler) → per-IP failure limit → signature →
//! replay window → de-duplication → sender rate → durable write → answer.

use super::{AppResult, Error};
use crate::{
    config::{Rate, parse_rate},
    crypto::sha256,
    domain::source::{self, HmacOptions, Kind, Verified},
    state::AppState,
    store::{
        self,
        sources::{SourceEvent, Stored},
    },
};
use governor::{RateLimiter, clock::DefaultClock, state::keyed::DefaultKeyedStateStore};
use std::{
    collections::{HashMap, VecDeque},
    net::IpAddr,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

/// Failures kept per source for its page.
const RECENT_FAILURES: usize = 20;

/// One opened secret of a source.
struct LiveSecret {
    key: Vec<u8>,
    valid_until: Option<i64>,
}

type SenderLimiter = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

/// What ingest needs to know about a source, opened once and cached.
pub struct LiveSource {
    pub id: String,
    pub slug: String,
    pub kind: Kind,
    pub enabled: bool,
    options: Option<HmacOptions>,
    verify_token: Option<Vec<u8>>,
    secrets: Vec<LiveSecret>,
    sender_limit: Option<Arc<SenderLimiter>>,
}

/// A request turned away before or at verification, for the source's page.
#[derive(Debug, Clone)]
pub struct Failure {
    pub at: i64,
    pub ip: IpAddr,
    pub reason: &'static str,
}

/// A cached lookup: the generation it was loaded at, and the source (`None`: no such slug).
type Entry = (u64, Option<Arc<LiveSource>>);

/// The cache of live sources, by slug. Any committed change to a source or its secrets clears
/// it; a sender limiter starts afresh then, which at worst lets one more burst through.
#[derive(Default)]
pub struct SourceCache {
    generation: AtomicU64,
    entries: RwLock<HashMap<String, Entry>>,
    failures: Mutex<HashMap<String, VecDeque<Failure>>>,
}

/// Slugs cached (known or not) before the cache is cleared: bounds memory under slug spraying.
const MAX_ENTRIES: usize = 10_000;

impl SourceCache {
    /// Forget everything cached (called after committing any change to a source).
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    async fn lookup(&self, state: &AppState, slug: &str) -> AppResult<Option<Arc<LiveSource>>> {
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some((g, entry)) = self
            .entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(slug)
            && *g == generation
        {
            return Ok(entry.clone());
        }
        let (s, now) = (slug.to_string(), state.now());
        let loaded = state
            .store
            .read(move |c| {
                let Some(source) = store::sources::by_slug(c, &s)? else {
                    return Ok(None);
                };
                let secrets = store::sources::live_secrets(c, &source.id, now)?;
                Ok(Some((source, secrets)))
            })
            .await?;
        let entry = match loaded {
            None => None,
            Some((source, rows)) => Some(Arc::new(open(state, source, rows)?)),
        };
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(slug.to_string(), (generation, entry.clone()));
        Ok(entry)
    }

    fn failed(&self, slug: &str, failure: Failure) {
        let mut all = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let list = all.entry(slug.to_string()).or_default();
        if list.len() == RECENT_FAILURES {
            list.pop_front();
        }
        list.push_back(failure);
    }

    /// The last failures of a source, newest first.
    pub fn recent_failures(&self, slug: &str) -> Vec<Failure> {
        let all = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        all.get(slug)
            .map(|l| l.iter().rev().cloned().collect())
            .unwrap_or_default()
    }
}

fn open(
    state: &AppState,
    source: store::sources::Source,
    rows: Vec<store::sources::SourceSecret>,
) -> AppResult<LiveSource> {
    let unseal = |context: String, sealed: &[u8]| {
        state.crypto.open(&context, sealed).map_err(|_| {
            tracing::error!(source = %source.slug, "a source secret does not open with the master key");
            Error::Internal
        })
    };
    let mut secrets = Vec::new();
    for row in &rows {
        secrets.push(LiveSecret {
            key: unseal(store::sources::seal_context(&row.id), &row.sealed)?,
            valid_until: row.valid_until,
        });
    }
    let verify_token = match &source.verify_token_sealed {
        Some(sealed) => Some(unseal(
            store::sources::verify_token_context(&source.id),
            sealed,
        )?),
        None => None,
    };
    let kind = Kind::parse(&source.kind).ok_or_else(|| {
        tracing::error!(source = %source.slug, kind = %source.kind, "a stored source has an unknown kind");
        Error::Internal
    })?;
    let options = match &source.options {
        Some(json) => Some(serde_json::from_str(json).map_err(|_| Error::Internal)?),
        None => None,
    };
    let sender_limit = source
        .sender_rate
        .as_deref()
        .and_then(|r| parse_rate(r).ok())
        .map(|rate: Rate| Arc::new(RateLimiter::keyed(sender_quota(rate))));
    Ok(LiveSource {
        id: source.id,
        slug: source.slug,
        kind,
        enabled: source.enabled,
        options,
        verify_token,
        secrets,
        sender_limit,
    })
}

/// A sender may use its whole allowance at once (`100/h`: a hundred messages, then one every
/// 36 s), unlike the per-second webhook limits whose burst is one second's worth.
fn sender_quota(rate: Rate) -> governor::Quota {
    let per_one = (rate.per / rate.count.get()).max(std::time::Duration::from_nanos(1));
    governor::Quota::with_period(per_one)
        .unwrap_or_else(|| governor::Quota::per_second(rate.count))
        .allow_burst(rate.count)
}

/// The enabled source behind `slug` (the first check of the order), or `unknown_source`.
/// A miss counts against the client's per-IP failure budget, so guessing slugs is throttled.
pub async fn source(state: &AppState, ip: IpAddr, slug: &str) -> AppResult<Arc<LiveSource>> {
    state.limits.ip_blocked(ip)?;
    match state.sources.lookup(state, slug).await? {
        Some(s) if s.enabled => Ok(s),
        _ => {
            state.limits.ip_failed(ip)?;
            Err(Error::UnknownSource)
        }
    }
}

/// A request to a source's ingest URL.
pub struct SourceRequest<'a> {
    pub ip: IpAddr,
    /// (lowercase name, value) pairs in arrival order.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    /// The query string, if any (Twilio signs the URL with it).
    pub query: Option<&'a str>,
    pub started: Instant,
}

/// What the source is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted {
        event_id: String,
    },
    Duplicate {
        event_id: String,
    },
    /// Over `sender_rate`: stored as a rejected event, answered 200.
    RateLimited,
    /// Slack's signed `url_verification` when a Request URL is saved: answered with its
    /// challenge, not stored.
    SlackChallenge(String),
}

/// Receive one request for `source`.
pub async fn receive(
    state: &AppState,
    source: &LiveSource,
    req: SourceRequest<'_>,
) -> AppResult<Outcome> {
    state.limits.ip_blocked(req.ip)?;
    let now = state.now();
    let url = match req.query {
        Some(q) if !q.is_empty() => format!("{}?{q}", ingest_url(state, &source.slug)),
        _ => ingest_url(state, &source.slug),
    };
    let secrets: Vec<&[u8]> = source
        .secrets
        .iter()
        .filter(|s| s.valid_until.is_none_or(|until| until > now))
        .map(|s| s.key.as_slice())
        .collect();
    let inbound = source::Inbound {
        headers: req.headers,
        body: req.body,
        url: &url,
        now,
        tolerance_secs: state.config.timestamp_tolerance.as_secs() as i64,
    };
    let verified = match source::verify(source.kind, source.options.as_ref(), &secrets, &inbound) {
        Ok(v) => v,
        Err(refusal) => {
            state.sources.failed(
                &source.slug,
                Failure {
                    at: now,
                    ip: req.ip,
                    reason: refusal.code(),
                },
            );
            state
                .metrics
                .record_source(&source.slug, "rejected", refusal.code(), now);
            state.limits.ip_failed(req.ip)?;
            return Err(Error::SourceRefused {
                refusal,
                kind: source.kind,
            });
        }
    };
    let Verified {
        dedup_id,
        topic,
        sender,
    } = verified;
    if source.kind == Kind::Slack && topic == "url_verification" {
        let challenge = serde_json::from_slice::<serde_json::Value>(req.body)
            .ok()
            .and_then(|v| v["challenge"].as_str().map(str::to_string))
            .unwrap_or_default();
        return Ok(Outcome::SlackChallenge(challenge));
    }
    let event = SourceEvent {
        event_id: store::new_id("evt"),
        source: source.slug.clone(),
        dedup_id,
        topic,
        received_at_ms: state.now_ms(),
        client_ip: req.ip.to_string(),
        body_hash: sha256(req.body),
        body: req.body.to_vec(),
        duration_us: req.started.elapsed().as_micros() as i64,
        headers: recorded_headers(source, req.headers),
        sender: sender.clone(),
    };
    // De-duplication, then the sender's rate, then the write: all in one writer job, so that
    // a duplicate is answered as one even when its sender is over the rate, concurrent copies
    // are serialised, and no extra read is paid on the hot path.
    let limit = source.sender_limit.clone();
    let destinations = super::destinations::matching(
        &state.routes.current(state).await?,
        &event.source,
        &event.topic,
    );
    let key = sender.unwrap_or_else(|| source.slug.clone());
    let may_deliver = !destinations.is_empty();
    let stored = state
        .store
        .write(move |c| {
            if let Some(event_id) =
                store::sources::accepted_event(c, &event.source, &event.dedup_id)?
            {
                return Ok(Stored::Duplicate { event_id });
            }
            if limit.as_ref().is_some_and(|l| l.check_key(&key).is_err()) {
                store::sources::record_rejected(c, &event, "rate_limited")?;
                return Ok(Stored::RateLimited);
            }
            store::sources::ingest(c, &event, &destinations)
        })
        .await?;
    if may_deliver && matches!(stored, Stored::Accepted { .. }) {
        // The worker sends at once instead of at its next tick.
        state.delivery_wake.notify_one();
    }
    let (reason, outcome) = match stored {
        Stored::Accepted { event_id } => ("accepted", Outcome::Accepted { event_id }),
        Stored::Duplicate { event_id } => ("duplicate", Outcome::Duplicate { event_id }),
        Stored::RateLimited => ("rate_limited", Outcome::RateLimited),
    };
    let counted_as = if reason == "rate_limited" {
        "rejected"
    } else {
        "accepted"
    };
    state
        .metrics
        .record_source(&source.slug, counted_as, reason, now);
    Ok(outcome)
}

/// Meta's subscription check: the challenge when the verify token matches (constant time). A
/// wrong token spends the client's per-IP failure budget, so the token cannot be guessed fast.
pub fn meta_challenge(
    state: &AppState,
    ip: IpAddr,
    source: &LiveSource,
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&str>,
) -> AppResult<String> {
    if source.kind != Kind::Meta {
        return Err(Error::MethodNotAllowed);
    }
    let expected = source.verify_token.as_deref().unwrap_or_default();
    let matches = |given: &str| {
        // Compare MACs of both under a random key: constant time whatever the lengths.
        let key =
            ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &ring::rand::SystemRandom::new());
        match key {
            Ok(key) => {
                let tag = ring::hmac::sign(&key, expected);
                ring::hmac::verify(&key, given.as_bytes(), tag.as_ref()).is_ok()
            }
            Err(_) => false,
        }
    };
    match (mode, token, challenge) {
        (Some("subscribe"), Some(t), Some(c)) if !expected.is_empty() && matches(t) => {
            Ok(c.to_string())
        }
        _ => {
            state.limits.ip_failed(ip)?;
            Err(Error::ChallengeRefused)
        }
    }
}

fn ingest_url(state: &AppState, slug: &str) -> String {
    format!(
        "{}/in/{slug}",
        state.config.public_url.trim_end_matches('/')
    )
}

/// Headers never kept with an event: credentials and every kind's signature.
const SECRET_HEADERS: [&str; 13] = [
    "authorization",
    "cookie",
    "x-hub-signature-256",
    "x-hub-signature",
    "stripe-signature",
    "x-shopify-hmac-sha256",
    "x-twilio-signature",
    "x-slack-signature",
    "x-paystack-signature",
    "verif-hash",
    "flutterwave-signature",
    "webhook-signature",
    "svix-signature",
];
/// At most this many headers, each value at most 256 characters.
const MAX_KEPT_HEADERS: usize = 40;

/// JSON of the request headers worth keeping with the event.
fn recorded_headers(source: &LiveSource, headers: &[(String, String)]) -> String {
    let own = source
        .options
        .as_ref()
        .map(|o| o.header.to_ascii_lowercase());
    let map: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .filter(|(name, _)| !SECRET_HEADERS.contains(&name.as_str()) && Some(name) != own.as_ref())
        .take(MAX_KEPT_HEADERS)
        .map(|(name, value)| {
            (
                name.clone(),
                serde_json::Value::String(value.chars().take(256).collect()),
            )
        })
        .collect();
    serde_json::Value::Object(map).to_string()
}
