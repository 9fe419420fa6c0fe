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
use serde::Deserialize;

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
    range: &'static str,
    per: &'static str,
    volume_chart: String,
    latency_chart: String,
    checklist: Vec<app::setup::Step>,
}

/// The span the charts cover: its query value, its hours, and the hours per bar.
const RANGES: [(&str, i64, i64); 3] = [("24h", 24, 1), ("7d", 168, 6), ("30d", 720, 24)];

#[derive(Deserialize)]
pub(super) struct DashboardQuery {
    range: Option<String>,
}

pub(super) async fn dashboard(
    state: web::Data<AppState>,
    s: AdminSession,
    q: web::Query<DashboardQuery>,
) -> UiResult {
    let (h, day) = app::health::last_day(&state).await?;
    let range = q.range.as_deref().unwrap_or("24h");
    let (range, hours, per_bar) = RANGES
        .into_iter()
        .find(|(name, _, _)| *name == range)
        .unwrap_or(RANGES[0]);
    let hours = if hours == 24 {
        day
    } else {
        app::health::stats(&state, hours).await?
    };
    // Each bar merges `per_bar` hours; it is labelled by its first hour (UTC).
    let bars: Vec<(i64, Bucket)> = hours
        .chunks(per_bar as usize)
        .map(|chunk| {
            let mut merged = Bucket::default();
            for (_, b) in chunk {
                merged.merge(b);
            }
            (chunk[0].0, merged)
        })
        .collect();
    let labels: Vec<String> = bars
        .iter()
        .map(|(t, _)| {
            let at = clock::rfc3339(*t);
            match per_bar {
                1 => at[11..13].to_string() + "h",
                24 => at[5..10].to_string(),
                _ => format!("{} {}h", &at[8..10], &at[11..13]),
            }
        })
        .collect();
    let hours = bars;
    let get =
        |f: &dyn Fn(&Bucket) -> u64| -> Vec<u64> { hours.iter().map(|(_, b)| f(b)).collect() };
    let accepted = get(&|b| b.created + b.updated);
    // Rejections as the event list shows them; limits and storage failures apart.
    let rejected = get(&|b| b.webhook_rejections());
    let duplicates = get(&|b| b.duplicates);
    let per: &'static str = match per_bar {
        1 => "per hour",
        24 => "per day",
        _ => "per 6 hours",
    };
    let turned_away = get(&|b| b.turned_away());
    let volume_chart = charts::stacked_bars(
        &format!("Webhooks {per}"),
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
            charts::Series {
                label: "rate limited or unavailable",
                color: "#78909c",
                values: &turned_away,
            },
        ],
    );
    let p95: Vec<Option<f64>> = hours.iter().map(|(_, b)| b.quantile_ms(0.95)).collect();
    let latency_chart = charts::line(
        &format!("p95 response time {per}"),
        &labels,
        &p95,
        "#1565c0",
        " ms",
    );
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
        range,
        per,
        volume_chart,
        latency_chart,
        checklist,
    })
}
