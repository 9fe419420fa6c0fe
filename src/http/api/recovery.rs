//! Admin API to send deliveries again (CONTRACT section 10): retry one delivery, replay a
//! destination's deliveries, redeliver an event. The decisions are `app::recovery`'s.

use crate::{
    app::{self, recovery::Redelivery},
    clock,
    error::ApiError,
    http::extract::{AuthAdmin, optional_json},
    state::AppState,
};
use actix_web::{HttpResponse, web};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
struct RetryBody {
    delivery_id: String,
    status: &'static str,
    next_attempt_at: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/deliveries/{delivery_id}/retry",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(("delivery_id" = String, Path)),
    responses((status = 202, description = "The delivery is pending and due now", body = RetryBody),
        (status = 409, description = "`delivery_not_retryable`, `delivery_in_flight`, `event_expired` or `event_not_accepted`", body = crate::error::ErrorBody))
)]
/// `POST /api/v1/admin/deliveries/{delivery_id}/retry`: 202, the delivery is pending and due now.
pub async fn retry(
    state: web::Data<AppState>,
    admin: AuthAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let retried = app::recovery::retry(&state, &admin.actor(), &path).await?;
    Ok(HttpResponse::Accepted().json(RetryBody {
        delivery_id: retried.delivery_id,
        status: "pending",
        next_attempt_at: clock::rfc3339_ms(retried.next_attempt_ms),
    }))
}

/// Which deliveries a replay starts again (the body may be empty: every failed one).
#[derive(ToSchema)]
#[allow(dead_code)]
struct ReplayInput {
    /// `failed` (the default), `succeeded` or `pending`.
    status: Option<String>,
    /// RFC 3339 or unix seconds: deliveries created at or after.
    since: Option<String>,
    /// RFC 3339 or unix seconds: deliveries created before.
    until: Option<String>,
    /// Only count them.
    dry_run: Option<bool>,
}

#[derive(Serialize, ToSchema)]
struct ReplayBody {
    matched: u64,
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/destinations/{destination_id}/replay",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(("destination_id" = String, Path)),
    request_body(content = Option<ReplayInput>, content_type = "application/json"),
    responses((status = 202, description = "`{matched}`: those deliveries start again", body = ReplayBody))
)]
/// `POST /api/v1/admin/destinations/{destination_id}/replay` `{status?, since?, until?,
/// dry_run?}` (the body may be empty): 202 `{matched}`.
pub async fn replay(
    state: web::Data<AppState>,
    admin: AuthAdmin,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: Map<String, Value> = optional_json(&body)?;
    let matched = app::recovery::replay(&state, &admin.actor(), &path, &body).await?;
    Ok(HttpResponse::Accepted().json(ReplayBody { matched }))
}

#[derive(Serialize, ToSchema)]
struct RedeliveryBody {
    delivery_id: String,
    destination_id: String,
}

#[derive(Serialize, ToSchema)]
struct RedeliveredBody {
    deliveries: Vec<RedeliveryBody>,
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/events/{event_id}/redeliver",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(("event_id" = String, Path)),
    responses((status = 202, description = "New deliveries to every matching destination", body = RedeliveredBody),
        (status = 409, description = "`event_expired` or `event_not_accepted`", body = crate::error::ErrorBody))
)]
/// `POST /api/v1/admin/events/{event_id}/redeliver`: 202 `{deliveries: [{delivery_id,
/// destination_id}]}`.
pub async fn redeliver(
    state: web::Data<AppState>,
    admin: AuthAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let made = app::recovery::redeliver(&state, &admin.actor(), &path).await?;
    let deliveries = made
        .into_iter()
        .map(
            |Redelivery {
                 delivery_id,
                 destination_id,
             }| RedeliveryBody {
                delivery_id,
                destination_id,
            },
        )
        .collect();
    Ok(HttpResponse::Accepted().json(RedeliveredBody { deliveries }))
}
