//! `POST /api/v1/webhooks/orders/`: reads the bounded raw body and the signature headers, hands
//! them to `app::ingest`, counts the outcome and answers only after the event is stored.

use crate::{
    app::{
        self,
        ingest::{Accepted, Inbound, SignedHeaders},
    },
    error::ApiError,
    http::extract::{client_ip, has_json_content_type, header_str, read_body},
    metrics::Outcome,
    state::AppState,
};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use std::time::Instant;

#[derive(Serialize)]
struct Stored {
    status: &'static str,
    order_id: String,
    event_id: String,
}

/// The handler: runs the pipeline, counts the outcome, answers.
pub async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let started = Instant::now();
    let (outcome, response) = match pipeline(&state, &req, payload, started).await {
        Ok(accepted) => answer(accepted),
        Err(e) => (
            Outcome::Rejected(e.code),
            actix_web::ResponseError::error_response(&e),
        ),
    };
    state
        .metrics
        .record(outcome, started.elapsed(), state.now());
    response
}

async fn pipeline(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    started: Instant,
) -> Result<Accepted, ApiError> {
    let headers = SignedHeaders {
        key_id: header_str(req, "X-API-Key"),
        webhook_id: header_str(req, "webhook-id"),
        timestamp: header_str(req, "webhook-timestamp"),
        signature: header_str(req, "webhook-signature"),
    };
    let body = match read_body(req, payload, state.config.max_body).await {
        Ok(body) => body,
        Err(e) => {
            // Refused unread: recorded like a failed signature, so the list shows every
            // rejection the chart counts.
            let ip = client_ip(req);
            app::ingest::refused_unread(state, ip, headers, &recorded_headers(req), e.code).await;
            return Err(e);
        }
    };
    let inbound = Inbound {
        ip: client_ip(req),
        headers,
        is_json: has_json_content_type(req),
        body: &body,
        recorded_headers: recorded_headers(req),
        started,
    };
    Ok(app::ingest::receive(state, inbound).await?)
}

fn answer(accepted: Accepted) -> (Outcome, HttpResponse) {
    match accepted {
        Accepted::Created { order_id, event_id } => (
            Outcome::Created,
            HttpResponse::Created().json(Stored {
                status: "success",
                order_id,
                event_id,
            }),
        ),
        Accepted::Updated { order_id, event_id } => (
            Outcome::Updated,
            HttpResponse::Ok().json(Stored {
                status: "updated",
                order_id,
                event_id,
            }),
        ),
        Accepted::Duplicate { order_id, event_id } => (
            Outcome::Duplicate,
            HttpResponse::Ok().json(Stored {
                status: "duplicate",
                order_id,
                event_id,
            }),
        ),
    }
}

/// The request headers worth keeping with an event; signatures and credentials never are.
fn recorded_headers(req: &HttpRequest) -> String {
    const KEPT: [&str; 6] = [
        "content-type",
        "content-length",
        "user-agent",
        "x-api-key",
        "webhook-id",
        "webhook-timestamp",
    ];
    let map: serde_json::Map<String, serde_json::Value> = KEPT
        .iter()
        .filter_map(|name| {
            header_str(req, name).map(|v| {
                (
                    name.to_string(),
                    serde_json::Value::String(v.chars().take(256).collect()),
                )
            })
        })
        .collect();
    serde_json::Value::Object(map).to_string()
}
