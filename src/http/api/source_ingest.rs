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
use utoipa::{IntoParams, ToSchema};

/// What a JSON answer of `POST /in/{slug}` is: the outcome, or Slack's URL verification echo.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
enum Reply {
    Outcome(Answer),
    SlackChallenge(SlackChallenge),
}

#[derive(Serialize, ToSchema)]
struct SlackChallenge {
    challenge: String,
}

#[derive(Serialize, ToSchema)]
struct Answer {
    /// `accepted`, `duplicate` or `rate_limited`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
}

/// Headers handed to the verifier (and kept with the event, secrets apart): at most this many.
const MAX_HEADERS: usize = 100;

/// `POST /in/{slug}`: verified with the source kind's own signature scheme (CONTRACT section 9).
#[utoipa::path(
    post,
    path = "/in/{slug}",
    tag = "ingest",
    params(("slug" = String, Path, description = "The source's slug")),
    request_body(content = Object, description = "The provider's webhook, signed over its raw bytes", content_type = "application/json"),
    responses(
        (status = 200, description = "`accepted`, `duplicate` or `rate_limited` (the sender's own limit: answered 200 so it does not retry), Slack's `{challenge}`, or `<Response/>` for Twilio", content(
            (Reply = "application/json"),
            (String = "text/xml"),
        )),
        (status = 401, description = "`missing_signature`, `invalid_signature` or `timestamp_out_of_tolerance`", body = crate::error::ErrorBody),
        (status = 404, description = "`unknown_source`: no enabled source has this slug", body = crate::error::ErrorBody),
    )
)]
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
            return Ok(HttpResponse::Ok().json(Reply::SlackChallenge(SlackChallenge { challenge })));
        }
    };
    if source.kind == Kind::Twilio {
        // Twilio reads the answer as TwiML: an empty response does nothing.
        return Ok(HttpResponse::Ok()
            .content_type("text/xml; charset=utf-8")
            .body("<Response/>"));
    }
    Ok(HttpResponse::Ok().json(Reply::Outcome(Answer { status, event_id })))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Challenge {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

#[utoipa::path(
    get,
    path = "/in/{slug}",
    tag = "ingest",
    params(("slug" = String, Path, description = "The source's slug"), Challenge),
    responses(
        (status = 200, description = "`hub.challenge` echoed", content_type = "text/plain", body = String),
        (status = 403, description = "`invalid_verify_token`", body = crate::error::ErrorBody),
        (status = 404, description = "`unknown_source`", body = crate::error::ErrorBody),
        (status = 405, description = "`method_not_allowed`: only Meta sources answer GET", body = crate::error::ErrorBody),
    )
)]
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
