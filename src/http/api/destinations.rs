//! Admin API over destinations and their deliveries (CONTRACT section 10).

use crate::{
    app::{self, destinations::Shown, paging},
    clock,
    error::ApiError,
    http::extract::{AuthAdmin, JsonBody},
    state::AppState,
};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

#[derive(Serialize, ToSchema)]
struct QueueState {
    /// `closed`, `open` or `half_open`.
    circuit: String,
    circuit_until: Option<String>,
    consecutive_failures: i64,
    disabled_reason: Option<String>,
    pending: i64,
    failed: i64,
    oldest_pending_at: Option<String>,
}

/// A destination's attempts over the last 24 hours.
#[derive(Serialize, ToSchema)]
struct Stats24hBody {
    attempts: u64,
    succeeded: u64,
    failed: u64,
    recovered: u64,
    success_rate: Option<f64>,
    p95_ms: Option<i64>,
}

impl From<app::delivery_health::Stats24h> for Stats24hBody {
    fn from(s: app::delivery_health::Stats24h) -> Self {
        Stats24hBody {
            attempts: s.attempts,
            succeeded: s.succeeded,
            failed: s.failed,
            recovered: s.recovered,
            success_rate: s.success_rate,
            p95_ms: s.p95_ms,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct DestinationBody {
    destination_id: String,
    name: String,
    url: String,
    sources: Option<Vec<String>>,
    topics: Option<Vec<String>>,
    #[schema(value_type = RetryInput)]
    retry: Value,
    timeout: String,
    #[schema(value_type = CircuitInput)]
    circuit: Value,
    enabled: bool,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    signing_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<QueueState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stats_24h: Option<Stats24hBody>,
}

fn body(s: Shown) -> DestinationBody {
    DestinationBody {
        destination_id: s.row.id,
        name: s.row.name,
        url: s.row.url,
        sources: s.sources,
        topics: s.topics,
        retry: s.retry,
        timeout: timeout_text(s.row.timeout_ms),
        circuit: s.circuit,
        enabled: s.row.enabled,
        created_at: clock::rfc3339(s.row.created_at),
        signing_secret: None,
        state: None,
        stats_24h: None,
    }
}

async fn with_state(state: &AppState, s: Shown) -> Result<DestinationBody, ApiError> {
    let (pending, failed, oldest) = app::destinations::queue_state(state, &s.row.id).await?;
    let queue = QueueState {
        circuit: s.row.circuit_state.clone(),
        circuit_until: s.row.circuit_until_ms.map(clock::rfc3339_ms),
        consecutive_failures: s.row.consecutive_failures,
        disabled_reason: s.row.disabled_reason.clone(),
        pending,
        failed,
        oldest_pending_at: oldest.map(clock::rfc3339),
    };
    let stats = app::delivery_health::stats_24h(state, &s.row.id).await?;
    let mut b = body(s);
    b.state = Some(queue);
    b.stats_24h = Some(stats.into());
    Ok(b)
}

/// A timeout as given: whole seconds as `15s`, anything finer in milliseconds.
fn timeout_text(ms: i64) -> String {
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// A destination to create or change; `app::destinations` checks every field. On PATCH every
/// field is optional.
#[derive(ToSchema)]
#[allow(dead_code)]
struct DestinationInput {
    name: String,
    /// `http` or `https`; a literal refused address is answered 422.
    url: String,
    /// Source slugs (and `orders`); absent means all.
    sources: Option<Vec<String>>,
    /// Topic patterns with `*` as a wildcard; absent means all.
    topics: Option<Vec<String>>,
    retry: Option<RetryInput>,
    /// The whole attempt, e.g. `15s`.
    timeout: Option<String>,
    circuit: Option<CircuitInput>,
    enabled: Option<bool>,
}

/// When failed attempts are tried again.
#[derive(ToSchema)]
#[allow(dead_code)]
struct RetryInput {
    /// `standard` (the default), `exponential`, `linear` or `fixed`.
    strategy: Option<String>,
    max_attempts: Option<u32>,
    /// A duration such as `5s`.
    base_delay: Option<String>,
    max_delay: Option<String>,
}

/// The circuit breaker of a destination.
#[derive(ToSchema)]
#[allow(dead_code)]
struct CircuitInput {
    failure_threshold: Option<u32>,
    /// A duration such as `60s`.
    cooldown: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct Items<T> {
    items: Vec<T>,
}

/// `POST /api/v1/admin/destinations`
#[utoipa::path(
    post,
    path = "/api/v1/admin/destinations",
    tag = "admin",
    security(("admin_bearer" = [])),
    request_body(content = DestinationInput, content_type = "application/json"),
    responses((status = 201, description = "Created, with its `signing_secret` (shown this once)", body = DestinationBody))
)]
pub async fn create(
    state: web::Data<AppState>,
    admin: AuthAdmin,
    req: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    let created = app::destinations::create(&state, &admin.actor(), req.0).await?;
    let mut b = body(created.shown);
    b.signing_secret = Some(created.signing_secret);
    Ok(HttpResponse::Created().json(b))
}

/// `GET /api/v1/admin/destinations`
#[utoipa::path(
    get,
    path = "/api/v1/admin/destinations",
    tag = "admin",
    security(("admin_bearer" = [])),
    responses((status = 200, description = "Every destination with its state and last 24 hours", body = Items<DestinationBody>))
)]
pub async fn list(state: web::Data<AppState>, _admin: AuthAdmin) -> Result<HttpResponse, ApiError> {
    let mut items = Vec::new();
    for d in app::destinations::list(&state).await? {
        items.push(with_state(&state, d).await?);
    }
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// `GET /api/v1/admin/destinations/{destination_id}`
#[utoipa::path(
    get,
    path = "/api/v1/admin/destinations/{destination_id}",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(("destination_id" = String, Path)),
    responses((status = 200, description = "The destination with its state and last 24 hours", body = DestinationBody))
)]
pub async fn get(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let d = app::destinations::get(&state, &path).await?;
    Ok(HttpResponse::Ok().json(with_state(&state, d).await?))
}

/// `PATCH /api/v1/admin/destinations/{destination_id}`
#[utoipa::path(
    patch,
    path = "/api/v1/admin/destinations/{destination_id}",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(("destination_id" = String, Path)),
    request_body(content = DestinationInput, content_type = "application/json"),
    responses((status = 200, description = "Changed; enabling clears `disabled_reason`", body = DestinationBody))
)]
pub async fn update(
    state: web::Data<AppState>,
    admin: AuthAdmin,
    path: web::Path<String>,
    req: JsonBody<Value>,
) -> Result<HttpResponse, ApiError> {
    let d = app::destinations::update(&state, &admin.actor(), &path, req.0).await?;
    Ok(HttpResponse::Ok().json(with_state(&state, d).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    destination_id: Option<String>,
    event_id: Option<String>,
    /// `pending`, `succeeded`, `failed` or `cancelled`.
    status: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct DeliveryBody {
    delivery_id: String,
    event_id: String,
    destination_id: String,
    status: String,
    attempts: i64,
    next_attempt_at: Option<String>,
    last_status_code: Option<i64>,
    last_error: Option<String>,
    created_at: String,
    delivered_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempt_log: Option<Vec<AttemptBody>>,
}

#[derive(Serialize, ToSchema)]
struct AttemptBody {
    at: String,
    status_code: Option<i64>,
    duration_ms: i64,
    error: Option<String>,
    response_excerpt: Option<String>,
}

fn delivery_body(d: crate::store::deliveries::Delivery) -> DeliveryBody {
    DeliveryBody {
        next_attempt_at: (d.status == "pending").then(|| clock::rfc3339_ms(d.next_attempt_ms)),
        delivery_id: d.id,
        event_id: d.event_id,
        destination_id: d.destination_id,
        status: d.status,
        attempts: d.attempts,
        last_status_code: d.last_status_code,
        last_error: d.last_error,
        created_at: clock::rfc3339(d.created_at),
        delivered_at: d.delivered_at.map(clock::rfc3339),
        attempt_log: None,
    }
}

#[derive(Serialize, ToSchema)]
struct PageBody<T> {
    items: Vec<T>,
    next_cursor: Option<String>,
}

/// `GET /api/v1/admin/deliveries?destination_id=&event_id=&status=&cursor=&limit=`
#[utoipa::path(
    get,
    path = "/api/v1/admin/deliveries",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(DeliveriesQuery),
    responses((status = 200, description = "Deliveries, newest first", body = PageBody<DeliveryBody>))
)]
pub async fn deliveries(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    q: web::Query<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = paging::request(q.limit, q.cursor.as_deref())?;
    let found = app::deliveries::list(
        &state,
        q.destination_id.clone(),
        q.event_id.clone(),
        q.status.as_deref(),
        page,
    )
    .await?;
    Ok(HttpResponse::Ok().json(PageBody {
        items: found.items.into_iter().map(delivery_body).collect(),
        next_cursor: found.next_cursor,
    }))
}

/// `GET /api/v1/admin/deliveries/{delivery_id}`
#[utoipa::path(
    get,
    path = "/api/v1/admin/deliveries/{delivery_id}",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(("delivery_id" = String, Path)),
    responses((status = 200, description = "The delivery with its attempt log", body = DeliveryBody))
)]
pub async fn delivery(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (d, attempts) = app::deliveries::get(&state, &path).await?;
    let mut b = delivery_body(d);
    b.attempt_log = Some(
        attempts
            .into_iter()
            .map(|a| AttemptBody {
                at: clock::rfc3339_ms(a.at_ms),
                status_code: a.status_code,
                duration_ms: a.duration_ms,
                error: a.error,
                response_excerpt: a.excerpt,
            })
            .collect(),
    );
    Ok(HttpResponse::Ok().json(b))
}

#[derive(Serialize, ToSchema)]
struct Rotated {
    signing_secret: String,
}

/// `POST /api/v1/admin/destinations/{destination_id}/secret`
#[utoipa::path(
    post,
    path = "/api/v1/admin/destinations/{destination_id}/secret",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(("destination_id" = String, Path)),
    responses((status = 200, description = "The new signing secret; the old one keeps signing for --secret-grace", body = Rotated))
)]
pub async fn rotate(
    state: web::Data<AppState>,
    admin: AuthAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let signing_secret = app::destinations::rotate_secret(&state, &admin.actor(), &path).await?;
    Ok(HttpResponse::Ok().json(Rotated { signing_secret }))
}

#[derive(Serialize, ToSchema)]
struct Tested {
    delivered: bool,
    status_code: Option<u16>,
    duration_ms: u64,
    error: Option<String>,
}

/// `POST /api/v1/admin/destinations/{destination_id}/test`
#[utoipa::path(
    post,
    path = "/api/v1/admin/destinations/{destination_id}/test",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(("destination_id" = String, Path)),
    responses((status = 200, description = "One `hookgate.test` request was sent now; its outcome", body = Tested))
)]
pub async fn test(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = app::destinations::send_test(&state, &path).await?;
    Ok(HttpResponse::Ok().json(Tested {
        delivered: t.delivered,
        status_code: t.status_code,
        duration_ms: t.duration_ms,
        error: t.error,
    }))
}
