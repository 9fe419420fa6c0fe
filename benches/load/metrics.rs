//! /metrics (admin token), scraped between scenarios only.

use crate::server::http_client;
use std::collections::BTreeMap;
use std::time::Duration;

pub async fn scrape(port: u16, admin: &str) -> BTreeMap<String, f64> {
    let Ok(response) = http_client()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .bearer_auth(admin)
        .send()
        .await
    else {
        return BTreeMap::new();
    };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

pub fn metric(m: &BTreeMap<String, f64>, name: &str) -> f64 {
    m.get(name).copied().unwrap_or(0.0)
}

/// The writer's work between two scrapes.
pub fn writer_line(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
    elapsed: Duration,
) -> String {
    let d = |name: &str| metric(after, name) - metric(before, name);
    let (jobs, batches, busy) = (
        d("hookgate_writer_jobs_total"),
        d("hookgate_writer_batches_total"),
        d("hookgate_writer_commit_seconds_total"),
    );
    if batches <= 0.0 {
        return "writer: no write groups".into();
    }
    format!(
        "writer: {jobs:.0} writes in {batches:.0} commits = {:.1} per group, {:.2} ms per group, {:.0} commits/s, busy {:.0}% of the time",
        jobs / batches,
        1000.0 * busy / batches,
        batches / elapsed.as_secs_f64(),
        100.0 * busy / elapsed.as_secs_f64(),
    )
}
