//! Admin console: dashboard.

use super::{Chrome, chrome};
use crate::{
    app, clock,
    domain::KycStatus,
    http::{
        session::AdminSession,
        ui::{UiResult, charts, page},
    },
    metrics::Bucket,
    state::AppState,
};
use actix_web::web;
use askama::Template;

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    health_status: &'static str,
    issues: Vec<String>,
    recommendations: Vec<String>,
    total: u64,
    success_rate: String,
    p95: String,
    duplicates: u64,
    rate_limited: u64,
    pending_kyc: usize,
    volume_chart: String,
    latency_chart: String,
    checklist: Vec<app::setup::Step>,
}

pub(super) async fn dashboard(state: web::Data<AppState>, s: AdminSession) -> UiResult {
    let (h, hours) = app::health::last_day(&state).await?;
    let labels: Vec<String> = hours
        .iter()
        .map(|(t, _)| clock::rfc3339(*t)[11..13].to_string() + "h")
        .collect();
    let get =
        |f: &dyn Fn(&Bucket) -> u64| -> Vec<u64> { hours.iter().map(|(_, b)| f(b)).collect() };
    let accepted = get(&|b| b.created + b.updated);
    let rejected = get(&|b| b.rejected.values().sum());
    let duplicates = get(&|b| b.duplicates);
    let volume_chart = charts::stacked_bars(
        "Webhooks per hour",
        &labels,
        &[
            charts::Series {
                label: "accepted",
                color: "#2e7d32",
                values: &accepted,
            },
            charts::Series {
                label: "rejected",
                color: "#c62828",
                values: &rejected,
            },
            charts::Series {
                label: "duplicate",
                color: "#f9a825",
                values: &duplicates,
            },
        ],
    );
    let p95: Vec<Option<f64>> = hours.iter().map(|(_, b)| b.quantile_ms(0.95)).collect();
    let latency_chart = charts::line("p95 response time", &labels, &p95, "#1565c0", " ms");
    let pending = app::kyc::queue(&state, Some(KycStatus::Pending), 10_000)
        .await?
        .len();
    let checklist = app::setup::checklist(&state).await?;
    let w = &h.window;
    page(&DashboardPage {
        chrome: chrome(&state, &s, "dashboard"),
        health_status: h.status,
        issues: h.issues.clone(),
        recommendations: h.recommendations.clone(),
        total: w.received,
        success_rate: if w.received > 0 {
            format!("{:.1}%", w.succeeded() as f64 * 100.0 / w.received as f64)
        } else {
            "–".into()
        },
        p95: w
            .quantile_ms(0.95)
            .map(|v| format!("{v:.1} ms"))
            .unwrap_or_else(|| "–".into()),
        duplicates: w.duplicates,
        rate_limited: w.rate_limited,
        pending_kyc: pending,
        volume_chart,
        latency_chart,
        checklist,
    })
}
