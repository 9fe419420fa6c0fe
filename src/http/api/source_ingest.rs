//! `POST /in/<slug>` and `GET /in/<slug>` (Meta's subscription check), CONTRACT section 9.

use crate::{
    app::{
        self,
        source_ingest::{Outcome, SourceRequest},
    },
    domain::source::Kind,
    error::ApiError,
    http::extract::{client_ip, read_body},
    state::AppState,
};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use std::time::Instant;

#[derive(Serialize)]
struct Answer {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
}

/// Headers handed to the verifier (and kept with the event, secrets apart): at most this many.
const MAX_HEADERS: usize = 100;

/// `POST /in/{slug}`
pub async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    slug: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let ip = client_ip(&req);
    let source = app::source_ingest::source(&state, ip, &slug).await?;
    let body = read_body(&req, payload, state.config.max_body).await?;
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .take(MAX_HEADERS)
        .filter_map(|(name, value)| {
            Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
        })
        .collect();
    let request = SourceRequest {
        ip,
        headers: &headers,
        body: &body,
        query: Some(req.query_string()),
        started,
    };
    let outcome = app::source_ingest::receive(&state, &source, request).await?;
    let (status, event_id) = match outcome {
        Outcome::Accepted { event_id } => ("accepted", Some(event_id)),
        Outcome::Duplicate { event_id } => ("duplicate", Some(event_id)),
        Outcome::RateLimited => ("rate_limited", None),
        Outcome::SlackChallenge(challenge) => {
            return Ok(HttpResponse::Ok().json(serde_json::json!({ "challenge": challenge })));
        }
    };
    if source.kind == Kind::Twilio {
        // Twilio reads the answer as TwiML: an empty response does nothing.
        return Ok(HttpResponse::Ok()
            .content_type("text/xml; charset=utf-8")
            .body("<Response/>"));
    }
    Ok(HttpResponse::Ok().json(Answer { status, event_id }))
}

#[derive(Deserialize)]
pub struct Challenge {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// `GET /in/{slug}`: Meta's subscription check; 405 for every other kind.
pub async fn challenge(
    state: web::Data<AppState>,
    req: HttpRequest,
    slug: web::Path<String>,
    q: web::Query<Challenge>,
) -> Result<HttpResponse, ApiError> {
    let ip = client_ip(&req);
    let source = app::source_ingest::source(&state, ip, &slug).await?;
    let answer = app::source_ingest::meta_challenge(
        &state,
        ip,
        &source,
        q.mode.as_deref(),
        q.verify_token.as_deref(),
        q.challenge.as_deref(),
    )?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(answer))
}
