//! Provider sources (CONTRACT section 9): create, list, change, rotate the secret. Secrets and
//! Meta's verify token are sealed at rest; every change is an audit entry.

use super::{AppResult, Error, Missing};
use crate::{
    config::{Rate, format_duration, parse_rate},
    domain::{
        Violation,
        source::{HmacOptions, Kind},
        text,
    },
    state::AppState,
    store::{
        self, audit,
        sources::{self, Changes, NewSource, NewSourceSecret, Source},
    },
};
use serde_json::{Value, json};

/// Longest secret or verify token accepted.
const MAX_SECRET_LEN: usize = 512;

/// A create request, as received.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Create {
    /// 1-64 of `a-z 0-9 -`, unique; the ingest URL ends in it.
    pub slug: Option<String>,
    pub name: Option<String>,
    /// `standard_webhooks`, `stripe`, `github`, `shopify`, `meta`, `twilio`, `slack`, `paystack`,
    /// `flutterwave` or `hmac`.
    pub kind: Option<String>,
    pub secret: Option<String>,
    pub verify_token: Option<String>,
    /// Settings of the `hmac` kind: header, algorithm, encoding, prefix, ...
    #[schema(value_type = Option<Object>)]
    pub options: Option<Value>,
    /// Accepted webhooks per second from this source, e.g. `10/s`.
    pub sender_rate: Option<String>,
}

/// A source as shown (never a secret).
#[derive(Debug, Clone)]
pub struct Shown {
    pub source: Source,
    pub ingest_url: String,
}

/// What creating or rotating revealed: the secret only when hookgate generated it.
pub struct Created {
    pub shown: Shown,
    pub generated_secret: Option<String>,
}

/// Whether `slug` is 1–64 of `a-z 0-9 -`.
pub fn valid_slug(slug: &str) -> bool {
    (1..=64).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn shown(state: &AppState, source: Source) -> Shown {
    let ingest_url = format!(
        "{}/in/{}",
        state.config.public_url.trim_end_matches('/'),
        source.slug
    );
    Shown { source, ingest_url }
}

/// A secret as given: trimmed, bounded, not empty.
fn given_secret(field: &str, raw: &str, v: &mut Vec<Violation>) -> Option<String> {
    let s = raw.trim();
    if s.is_empty() {
        v.push(Violation::new(field, "must not be empty"));
        None
    } else if s.len() > MAX_SECRET_LEN {
        v.push(Violation::new(
            field,
            format!("must be at most {MAX_SECRET_LEN} characters"),
        ));
        None
    } else {
        Some(s.to_string())
    }
}

fn generated_secret(state: &AppState) -> String {
    crate::domain::WebhookSecret::from_bytes(state.crypto.random_bytes()).expose()
}

/// Check a `standard_webhooks` secret: `whsec_` + base64 of 24–64 bytes.
fn check_standard_secret(secret: &str, v: &mut Vec<Violation>) {
    let decoded = secret
        .strip_prefix("whsec_")
        .and_then(crate::domain::encoding::b64_decode);
    if !decoded.is_some_and(|k| (24..=64).contains(&k.len())) {
        v.push(Violation::new(
            "secret",
            "must be whsec_ followed by the base64 of 24 to 64 bytes (or leave it out and hookgate \
             generates one)",
        ));
    }
}

fn parse_sender_rate(raw: &str, v: &mut Vec<Violation>) -> Option<Rate> {
    parse_rate(raw.trim())
        .map_err(|m| v.push(Violation::new("sender_rate", m)))
        .ok()
}

/// Create a source; every problem of the request at once.
pub async fn create(state: &AppState, actor: &str, req: Create) -> AppResult<Created> {
    let mut v = Vec::new();
    let slug = match req.slug.as_deref().map(str::trim) {
        None | Some("") => {
            v.push(Violation::new("slug", "is required"));
            None
        }
        Some(s) if !valid_slug(s) => {
            v.push(Violation::new(
                "slug",
                "must be 1 to 64 characters of a-z, 0-9 and -",
            ));
            None
        }
        Some("orders") => {
            v.push(Violation::new(
                "slug",
                "orders is the built-in source of merchants' order webhooks; choose another",
            ));
            None
        }
        Some(s) => Some(s.to_string()),
    };
    let kind = match req.kind.as_deref().map(str::trim) {
        None | Some("") => {
            v.push(Violation::new("kind", "is required"));
            None
        }
        Some(k) => match Kind::parse(k) {
            Some(kind) => Some(kind),
            None => {
                let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                v.push(Violation::new(
                    "kind",
                    format!("must be one of {}", names.join(", ")),
                ));
                None
            }
        },
    };
    let name = match req.name.as_deref().map(str::trim) {
        Some(n) if n.chars().count() > text::MAX_NAME_CHARS => {
            v.push(Violation::new(
                "name",
                format!("must be at most {} characters", text::MAX_NAME_CHARS),
            ));
            None
        }
        Some(n) if !n.is_empty() => Some(n.to_string()),
        _ => None,
    };
    let mut generated = None;
    let secret = match (req.secret.as_deref(), kind) {
        (Some(raw), _) => given_secret("secret", raw, &mut v),
        (None, Some(Kind::StandardWebhooks)) => {
            let s = generated_secret(state);
            generated = Some(s.clone());
            Some(s)
        }
        (None, Some(_)) => {
            v.push(Violation::new(
                "secret",
                "is required for this kind: copy it from the provider's dashboard",
            ));
            None
        }
        // Without a valid kind there is no telling whether a secret is needed.
        (None, None) => None,
    };
    if let (Some(Kind::StandardWebhooks), Some(s), None) = (kind, &secret, &generated) {
        check_standard_secret(s, &mut v);
    }
    let verify_token = match (req.verify_token.as_deref(), kind) {
        (Some(raw), Some(Kind::Meta)) => given_secret("verify_token", raw, &mut v),
        (None, Some(Kind::Meta)) => {
            v.push(Violation::new(
                "verify_token",
                "is required for kind meta: the token you type in Meta's webhook settings",
            ));
            None
        }
        (Some(_), Some(_)) => {
            v.push(Violation::new("verify_token", "is only for kind meta"));
            None
        }
        _ => None,
    };
    let options = match (&req.options, kind) {
        (Some(value), Some(Kind::Hmac)) => match HmacOptions::parse(value) {
            Ok(o) => Some(o),
            Err(mut problems) => {
                v.append(&mut problems);
                None
            }
        },
        (None, Some(Kind::Hmac)) => {
            v.push(Violation::new(
                "options",
                "are required for kind hmac: at least header, algorithm and encoding",
            ));
            None
        }
        (Some(_), Some(_)) => {
            v.push(Violation::new("options", "are only for kind hmac"));
            None
        }
        _ => None,
    };
    let sender_rate = match req.sender_rate.as_deref() {
        Some(raw) => parse_sender_rate(raw, &mut v).map(|_| raw.trim().to_string()),
        None => None,
    };
    let (Some(slug), Some(kind), Some(secret), true) = (slug, kind, secret, v.is_empty()) else {
        return Err(Error::Invalid(v));
    };

    let now = state.now();
    let id = store::new_id("src");
    let secret_id = store::new_id("ssec");
    let sealed = state
        .crypto
        .seal(&sources::seal_context(&secret_id), secret.as_bytes());
    let verify_token_sealed = verify_token.map(|t| {
        state
            .crypto
            .seal(&sources::verify_token_context(&id), t.as_bytes())
    });
    let source = Source {
        id: id.clone(),
        name: name.unwrap_or_else(|| slug.clone()),
        slug,
        kind: kind.as_str().to_string(),
        options: options.map(|o| serde_json::to_string(&o).unwrap_or_default()),
        verify_token_sealed,
        sender_rate,
        enabled: true,
        created_at: now,
        updated_at: now,
    };
    let new = NewSource {
        source: source.clone(),
        secret: NewSourceSecret {
            id: secret_id,
            sealed,
        },
    };
    let actor = actor.to_string();
    let created = state
        .store
        .write(move |c| {
            if !sources::create(c, &new)? {
                return Ok(false);
            }
            let s = &new.source;
            audit::record(
                c,
                now,
                &actor,
                "source.created",
                &s.id,
                json!({"slug": s.slug, "kind": s.kind}),
            )?;
            Ok::<_, store::StoreError>(true)
        })
        .await?;
    if !created {
        return Err(Error::SlugTaken);
    }
    state.sources.invalidate();
    Ok(Created {
        shown: shown(state, source),
        generated_secret: generated,
    })
}

/// Every source.
pub async fn list(state: &AppState) -> AppResult<Vec<Shown>> {
    let rows = state.store.read(sources::list).await?;
    Ok(rows.into_iter().map(|s| shown(state, s)).collect())
}

/// One source.
pub async fn get(state: &AppState, source_id: &str) -> AppResult<Shown> {
    let id = source_id.to_string();
    state
        .store
        .read(move |c| sources::get(c, &id))
        .await?
        .map(|s| shown(state, s))
        .ok_or(Error::NotFound(Missing::Source))
}

/// A PATCH request, as received.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Update {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    /// `null` removes the limit; absent leaves it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub sender_rate: Option<Option<String>>,
}

/// A field that may be given as `null`: absent is `None`, `null` is `Some(None)`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    <Option<String> as serde::Deserialize>::deserialize(d).map(Some)
}

/// Change a source's name, state or sender rate.
pub async fn update(
    state: &AppState,
    actor: &str,
    source_id: &str,
    req: Update,
) -> AppResult<Shown> {
    let mut v = Vec::new();
    let name = match req.name.as_deref().map(str::trim) {
        Some("") => {
            v.push(Violation::new("name", "must not be empty"));
            None
        }
        Some(n) if n.chars().count() > text::MAX_NAME_CHARS => {
            v.push(Violation::new(
                "name",
                format!("must be at most {} characters", text::MAX_NAME_CHARS),
            ));
            None
        }
        other => other.map(str::to_string),
    };
    let sender_rate = match &req.sender_rate {
        Some(Some(raw)) => parse_sender_rate(raw, &mut v).map(|_| Some(raw.trim().to_string())),
        Some(None) => Some(None),
        None => None,
    };
    if !v.is_empty() {
        return Err(Error::Invalid(v));
    }
    let changes = Changes {
        name,
        enabled: req.enabled,
        sender_rate,
    };
    let (id, actor, now) = (source_id.to_string(), actor.to_string(), state.now());
    let updated = state
        .store
        .write(move |c| {
            if !sources::update(c, &id, &changes, now)? {
                return Ok(None);
            }
            let mut details = json!({});
            if let Some(n) = &changes.name {
                details["name"] = json!(n);
            }
            if let Some(rate) = &changes.sender_rate {
                details["sender_rate"] = json!(rate);
            }
            let action = match changes.enabled {
                Some(true) => "source.enabled",
                Some(false) => "source.disabled",
                None => "source.updated",
            };
            audit::record(c, now, &actor, action, &id, details)?;
            sources::get(c, &id)
        })
        .await?;
    state.sources.invalidate();
    updated
        .map(|s| shown(state, s))
        .ok_or(Error::NotFound(Missing::Source))
}

/// What a rotation did.
pub struct Rotated {
    pub source_id: String,
    pub previous_valid_until: i64,
    pub generated_secret: Option<String>,
}

/// Make a new secret current; the previous one keeps verifying for `--secret-grace`.
pub async fn rotate_secret(
    state: &AppState,
    actor: &str,
    source_id: &str,
    secret: Option<String>,
) -> AppResult<Rotated> {
    let source = get(state, source_id).await?.source;
    let kind = Kind::parse(&source.kind).ok_or(Error::Internal)?;
    let mut v = Vec::new();
    let mut generated = None;
    let secret = match (secret.as_deref(), kind) {
        (Some(raw), _) => given_secret("secret", raw, &mut v),
        (None, Kind::StandardWebhooks) => {
            let s = generated_secret(state);
            generated = Some(s.clone());
            Some(s)
        }
        (None, _) => {
            v.push(Violation::new(
                "secret",
                "is required for this kind: paste the new secret from the provider's dashboard",
            ));
            None
        }
    };
    if let (Kind::StandardWebhooks, Some(s), None) = (kind, &secret, &generated) {
        check_standard_secret(s, &mut v);
    }
    let (Some(secret), true) = (secret, v.is_empty()) else {
        return Err(Error::Invalid(v));
    };
    let now = state.now();
    let previous_valid_until = now + state.config.secret_grace.as_secs() as i64;
    let secret_id = store::new_id("ssec");
    let new = NewSourceSecret {
        sealed: state
            .crypto
            .seal(&sources::seal_context(&secret_id), secret.as_bytes()),
        id: secret_id,
    };
    let (id, actor) = (source.id.clone(), actor.to_string());
    let grace = format_duration(state.config.secret_grace);
    state
        .store
        .write(move |c| {
            sources::rotate(c, &id, &new, now, previous_valid_until)?;
            audit::record(
                c,
                now,
                &actor,
                "source.secret_rotated",
                &id,
                json!({"previous_valid_for": grace}),
            )?;
            Ok::<_, store::StoreError>(())
        })
        .await?;
    state.sources.invalidate();
    Ok(Rotated {
        source_id: source.id,
        previous_valid_until,
        generated_secret: generated,
    })
}

/// A source's last 24 hours (counted since this process started).
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Stats {
    pub received: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub rate_limited: u64,
}

/// The counts of the source `slug` over the last 24 hours.
pub async fn stats_24h(state: &AppState, slug: &str) -> AppResult<Stats> {
    let by_reason = state.metrics.source_day(slug, state.now());
    let mut stats = Stats::default();
    for (reason, n) in by_reason {
        stats.received += n;
        match reason {
            "accepted" => stats.accepted += n,
            "duplicate" => stats.duplicates += n,
            "rate_limited" => stats.rate_limited += n,
            _ => stats.rejected += n,
        }
    }
    Ok(stats)
}
