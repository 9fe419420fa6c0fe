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

#[derive(Serialize)]
struct RetryBody {
    delivery_id: String,
    status: &'static str,
    next_attempt_at: String,
}

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

#[derive(Serialize)]
struct ReplayBody {
    matched: u64,
}

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

#[derive(Serialize)]
struct RedeliveryBody {
    delivery_id: String,
    destination_id: String,
}

#[derive(Serialize)]
struct RedeliveredBody {
    deliveries: Vec<RedeliveryBody>,
}

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
