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
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
struct Stored {
    /// `success` (a new order), `updated` or `duplicate`.
    #[schema(inline)]
    status: StoredStatus,
    order_id: String,
    event_id: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum StoredStatus {
    Success,
    Updated,
    Duplicate,
}

/// The order webhook's body; `domain::order` validates it and lists every violation.
#[derive(ToSchema)]
#[allow(dead_code)]
struct OrderWebhook {
    customer_details: CustomerDetailsIn,
    item_summary: String,
    address: String,
    #[schema(inline)]
    tracking_status: TrackingStatusIn,
    /// The merchant's own order number: a known one updates that order's status.
    merchant_reference: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct CustomerDetailsIn {
    name: String,
    #[schema(format = Email)]
    email: String,
    phone: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
enum TrackingStatusIn {
    Pending,
    Processing,
    Shipped,
    InTransit,
    OutForDelivery,
    Delivered,
    Cancelled,
    Returned,
}

/// `POST /api/v1/webhooks/orders/` (also without the slash)
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/orders/",
    tag = "ingest",
    security(("api_key" = [], "webhook_signature" = [])),
    params(
        ("webhook-id" = String, Header, description = "Unique id chosen by the sender (at most 256 characters)"),
        ("webhook-timestamp" = String, Header, description = "Unix seconds; within --timestamp-tolerance of the server's clock"),
    ),
    request_body(content = OrderWebhook, content_type = "application/json"),
    responses(
        (status = 201, description = "New order, durably stored (`status: success`)", body = Stored),
        (status = 200, description = "Status update of an existing order (`updated`) or a repeated webhook-id with the same body (`duplicate`)", body = Stored),
        (status = 401, description = "`missing_signature`, `invalid_api_key`, `invalid_signature`, `timestamp_out_of_tolerance` or `secret_expired`", body = crate::error::ErrorBody),
        (status = 403, description = "`kyc_not_approved`", body = crate::error::ErrorBody),
        (status = 409, description = "`idempotency_conflict`: the webhook-id was used with a different body", body = crate::error::ErrorBody),
        (status = 413, description = "`payload_too_large`", body = crate::error::ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = crate::error::ErrorBody),
    )
)]
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
                status: StoredStatus::Success,
                order_id,
                event_id,
            }),
        ),
        Accepted::Updated { order_id, event_id } => (
            Outcome::Updated,
            HttpResponse::Ok().json(Stored {
                status: StoredStatus::Updated,
                order_id,
                event_id,
            }),
        ),
        Accepted::Duplicate { order_id, event_id } => (
            Outcome::Duplicate,
            HttpResponse::Ok().json(Stored {
                status: StoredStatus::Duplicate,
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
