//! Liveness, readiness, health status, hourly stats and Prometheus metrics.

use crate::{
    app, clock,
    data_dir::DataPaths,
    error::ApiError,
    http::extract::AuthAdmin,
    metrics::{process, prometheus},
    state::AppState,
    telemetry,
};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Serialize, ToSchema)]
struct Status {
    status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses((status = 200, description = "`{status: \"ok\"}`", body = Status))
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// Readiness: the database accepts writes.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses((status = 200, description = "`{status: \"ready\"}`", body = Status))
)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    app::health::ready(&state)
        .await
        .map_err(|_| ApiError::storage_unavailable())?;
    Ok(HttpResponse::Ok().json(Status { status: "ready" }))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[derive(Serialize, ToSchema)]
struct HealthMetrics {
    total: u64,
    success_rate: Option<f64>,
    avg_response_ms: Option<f64>,
    p95_response_ms: Option<f64>,
    duplicates: u64,
    rate_limited: u64,
    last_received_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct HealthBody {
    status: &'static str,
    issues: Vec<String>,
    recommendations: Vec<String>,
    metrics: HealthMetrics,
}

/// `GET /api/v1/health`: over the last 24 hours.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "health",
    security(("admin_bearer" = [])),
    responses((status = 200, description = "`healthy`, `warning` or `critical`, with issues and recommendations", body = HealthBody))
)]
pub async fn health(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
) -> Result<HttpResponse, ApiError> {
    let (h, _) = app::health::last_day(&state).await?;
    let w = &h.window;
    Ok(HttpResponse::Ok().json(HealthBody {
        status: h.status,
        metrics: HealthMetrics {
            total: w.received,
            success_rate: (w.received > 0)
                .then(|| round2(w.succeeded() as f64 * 100.0 / w.received as f64)),
            avg_response_ms: w.mean_ms().map(round2),
            p95_response_ms: w.quantile_ms(0.95).map(round2),
            duplicates: w.duplicates,
            rate_limited: w.rate_limited,
            last_received_at: w.last_received_at.map(clock::rfc3339),
        },
        issues: h.issues,
        recommendations: h.recommendations,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// 1 to 720 (default 24).
    hours: Option<i64>,
    /// `orders` (the default) or a provider source's slug.
    source: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct HourBody {
    hour: String,
    received: u64,
    accepted: u64,
    rejected: std::collections::BTreeMap<String, u64>,
    duplicates: u64,
    rate_limited: u64,
    p50_response_ms: Option<f64>,
    p95_response_ms: Option<f64>,
}

#[derive(Serialize, ToSchema)]
struct StatsBody {
    hours: i64,
    buckets: Vec<HourBody>,
}

/// `GET /api/v1/stats?hours=24`
#[utoipa::path(
    get,
    path = "/api/v1/stats",
    tag = "health",
    security(("admin_bearer" = [])),
    params(StatsQuery),
    responses((status = 200, description = "Hourly buckets, oldest first", body = StatsBody))
)]
pub async fn stats(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    q: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let hours = app::health::stats_hours(q.hours)?;
    if let Some(slug) = q.source.as_deref().filter(|s| *s != "orders") {
        let buckets = app::health::source_stats(&state, slug, hours)?
            .into_iter()
            .map(|(hour, by_reason)| {
                let mut body = HourBody {
                    hour: clock::rfc3339(hour),
                    received: by_reason.values().sum(),
                    accepted: 0,
                    rejected: Default::default(),
                    duplicates: 0,
                    rate_limited: 0,
                    p50_response_ms: None,
                    p95_response_ms: None,
                };
                for (reason, n) in by_reason {
                    match reason {
                        "accepted" => body.accepted += n,
                        "duplicate" => body.duplicates += n,
                        "rate_limited" => body.rate_limited += n,
                        other => {
                            body.rejected.insert(other.to_string(), n);
                        }
                    }
                }
                body
            })
            .collect();
        return Ok(HttpResponse::Ok().json(StatsBody { hours, buckets }));
    }
    let buckets = app::health::stats(&state, hours)
        .await?
        .into_iter()
        .map(|(hour, b)| HourBody {
            hour: clock::rfc3339(hour),
            received: b.received,
            accepted: b.created + b.updated,
            p50_response_ms: b.quantile_ms(0.5).map(round2),
            p95_response_ms: b.quantile_ms(0.95).map(round2),
            rejected: b.rejected,
            duplicates: b.duplicates,
            rate_limited: b.rate_limited,
        })
        .collect();
    Ok(HttpResponse::Ok().json(StatsBody { hours, buckets }))
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    security(("admin_bearer" = [])),
    responses((status = 200, description = "OpenMetrics text exposition", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String))
)]
/// `GET /metrics` (admin token): OpenMetrics text (which Prometheus scrapes natively). The
/// delivery gauges are read from the database now; if that fails they are left out and the
/// counters still answer.
pub async fn metrics(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
) -> Result<HttpResponse, ApiError> {
    let gauges = match app::delivery_health::overview(&state).await {
        Ok(o) => Some(app::delivery_health::gauges(&o, state.now())),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the delivery gauges for /metrics");
            None
        }
    };
    let snapshot = prometheus::Snapshot {
        webhooks: state.metrics.totals(),
        writer: state.store.writer().stats().into(),
        jobs: (&state.metrics.jobs).into(),
        database_bytes: DataPaths::new(&state.config).database_size(),
        dropped_log_lines: telemetry::dropped_lines(),
        password_refusals: state.passwords.refusals(),
        sources: state.metrics.source_totals(),
        deliveries: state.metrics.deliveries.totals(),
        delivery_gauges: gauges,
        process: process::read(),
    };
    let body = prometheus::render(snapshot).map_err(|_| {
        tracing::error!("could not encode /metrics");
        ApiError::internal()
    })?;
    Ok(HttpResponse::Ok()
        .content_type(prometheus::CONTENT_TYPE)
        .body(body))
}
