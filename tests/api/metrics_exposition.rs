//! The `/metrics` exposition as a whole: it parses, and it keeps every series name, label name
//! and label value that dashboards and alerts were written against (the list below was captured
//! from the hand-written exposition before it moved to prometheus-client).

use crate::helpers::*;
use ring::hmac;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// One series: the sample name and its labels (destination ids replaced by `<destination>`,
/// `le` bounds as numbers, so "1" and "1.0" are the same bound).
type Series = (String, BTreeMap<String, String>);

/// A parsed exposition: its series and each metric family's type.
struct Exposition {
    series: BTreeSet<Series>,
    types: BTreeMap<String, String>,
}

/// Parse a Prometheus text or OpenMetrics exposition strictly enough to catch what a scraper
/// would refuse: a sample before its `# TYPE`, a family typed twice, a series given twice, a
/// counter sample not ending in `_total`, a value that is not a number, text after `# EOF`.
fn parse(text: &str) -> Exposition {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut series = BTreeSet::new();
    let mut ended = false;
    for line in text.lines() {
        assert!(!ended, "text after # EOF: {line:?}");
        if line == "# EOF" {
            ended = true;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name type");
            assert!(
                types.insert(name.to_string(), kind.to_string()).is_none(),
                "{name} typed twice"
            );
            continue;
        }
        if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line {line:?}"
        );
        let (name, labels, value) = sample(line);
        assert!(
            value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
            "{line:?}: not a number"
        );
        let (family, kind) =
            family_of(&types, &name).unwrap_or_else(|| panic!("{line:?} comes before its # TYPE"));
        if kind == "counter" {
            assert!(
                name.ends_with("_total") || name.ends_with("_created"),
                "counter sample {name} does not end in _total"
            );
        }
        assert!(
            seen.insert((name.clone(), labels.clone())),
            "{line:?}: series given twice (family {family})"
        );
        series.insert((name, labels));
    }
    Exposition { series, types }
}

/// The family a sample belongs to and its type: the sample name itself, or the name without the
/// suffix its type adds.
fn family_of<'a>(types: &'a BTreeMap<String, String>, name: &str) -> Option<(String, &'a str)> {
    if let Some(kind) = types.get(name) {
        return Some((name.to_string(), kind));
    }
    for suffix in ["_total", "_created", "_bucket", "_sum", "_count", "_info"] {
        if let Some(base) = name.strip_suffix(suffix)
            && let Some(kind) = types.get(base)
        {
            let fits = match kind.as_str() {
                "counter" => matches!(suffix, "_total" | "_created"),
                "histogram" => matches!(suffix, "_bucket" | "_sum" | "_count" | "_created"),
                "info" => suffix == "_info",
                _ => false,
            };
            if fits {
                return Some((base.to_string(), kind));
            }
        }
    }
    None
}

/// `name{a="x",b="y"} value` split into its parts (label values unescaped).
fn sample(line: &str) -> (String, BTreeMap<String, String>, &str) {
    let name_end = line.find(['{', ' ']).expect("a sample has a value");
    let name = line[..name_end].to_string();
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            if c == '}' {
                end = Some(i);
                break;
            }
            if c == ',' {
                continue;
            }
            let key_start = i;
            let mut key_end = i;
            for (j, c) in chars.by_ref() {
                if c == '=' {
                    key_end = j;
                    break;
                }
            }
            let key = inner[key_start..key_end].to_string();
            assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line:?}");
            let mut value = String::new();
            loop {
                match chars.next().map(|(_, c)| c) {
                    Some('\\') => match chars.next().map(|(_, c)| c) {
                        Some('n') => value.push('\n'),
                        Some(c) => value.push(c),
                        None => panic!("{line:?}: unfinished escape"),
                    },
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => panic!("{line:?}: unfinished label value"),
                }
            }
            assert!(labels.insert(key, value).is_none(), "{line:?}: label twice");
        }
        let end = end.unwrap_or_else(|| panic!("{line:?}: unclosed labels"));
        rest = &inner[end + 1..];
    }
    let value = rest
        .strip_prefix(' ')
        .unwrap_or_else(|| panic!("{line:?}: no value"));
    let value = value.split(' ').next().unwrap_or(value);
    (name, labels, value)
}

/// The series with ids that change per run replaced, and `le` bounds compared as numbers.
fn normalised(series: &BTreeSet<Series>, destination: &str) -> BTreeSet<String> {
    series
        .iter()
        .map(|(name, labels)| {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| {
                    let v = if v == destination {
                        "<destination>".to_string()
                    } else if k == "le" && v != "+Inf" {
                        v.parse::<f64>().expect("le is a number").to_string()
                    } else {
                        v.clone()
                    };
                    format!("{k}={v:?}")
                })
                .collect();
            format!("{name}{{{}}}", labels.join(","))
        })
        .collect()
}

/// Every series of the hand-written exposition after one accepted and one rejected order
/// webhook, one accepted source event and its delivery and the order's delivery.
const KEPT: &[&str] = &[
    r#"hookgate_database_size_bytes{}"#,
    r#"hookgate_deliveries_total{destination="<destination>",outcome="succeeded"}"#,
    r#"hookgate_delivery_attempt_seconds_bucket{le="+Inf"}"#,
    r#"hookgate_delivery_attempt_seconds_bucket{le="0.005"}"#,
    r#"hookgate_delivery_attempt_seconds_bucket{le="0.01"}"#,
    r#"hookgate_delivery_attempt_seconds_bucket{le="0.025"}"#,
    r#"hookgate_delivery_attempt_seconds_bucket{le="0.05"}"#,
    r#"hookgate_delivery_attempt_seconds_bucket{le="0.1"}"#,
    r#"hookgate_delivery_attempt_seconds_bucket{le="0.25"}"#,
    r#"hookgate_delivery_attempt_seconds_bucket{le="0.5"}"#,
    r#"hookgate_delivery_attempt_seconds_bucket{le="1"}"#,
    r#"hookgate_delivery_attempt_seconds_bucket{le="10"}"#,
    r#"hookgate_delivery_attempt_seconds_bucket{le="15"}"#,
    r#"hookgate_delivery_attempt_seconds_bucket{le="2.5"}"#,
    r#"hookgate_delivery_attempt_seconds_bucket{le="30"}"#,
    r#"hookgate_delivery_attempt_seconds_bucket{le="5"}"#,
    r#"hookgate_delivery_attempt_seconds_bucket{le="60"}"#,
    r#"hookgate_delivery_attempt_seconds_count{}"#,
    r#"hookgate_delivery_attempt_seconds_sum{}"#,
    r#"hookgate_delivery_oldest_pending_seconds{}"#,
    r#"hookgate_delivery_queue_depth{}"#,
    r#"hookgate_destination_circuit_open{destination="<destination>"}"#,
    r#"hookgate_job_runs_total{job="retention"}"#,
    r#"hookgate_job_runs_total{job="rollup"}"#,
    r#"hookgate_log_lines_dropped_total{}"#,
    r#"hookgate_password_hashing_refused_total{}"#,
    r#"hookgate_retention_deleted_rows_total{table="events"}"#,
    r#"hookgate_retention_deleted_rows_total{table="outbox"}"#,
    r#"hookgate_source_requests_total{outcome="accepted",reason="accepted",source="gh"}"#,
    r#"hookgate_webhook_duplicates_total{}"#,
    r#"hookgate_webhook_rate_limited_total{}"#,
    r#"hookgate_webhook_requests_total{outcome="accepted",reason="created"}"#,
    r#"hookgate_webhook_requests_total{outcome="accepted",reason="duplicate"}"#,
    r#"hookgate_webhook_requests_total{outcome="accepted",reason="updated"}"#,
    r#"hookgate_webhook_requests_total{outcome="rejected",reason="invalid_signature"}"#,
    r#"hookgate_webhook_response_seconds_bucket{le="+Inf"}"#,
    r#"hookgate_webhook_response_seconds_bucket{le="0.00025"}"#,
    r#"hookgate_webhook_response_seconds_bucket{le="0.0005"}"#,
    r#"hookgate_webhook_response_seconds_bucket{le="0.001"}"#,
    r#"hookgate_webhook_response_seconds_bucket{le="0.002"}"#,
    r#"hookgate_webhook_response_seconds_bucket{le="0.005"}"#,
    r#"hookgate_webhook_response_seconds_bucket{le="0.01"}"#,
    r#"hookgate_webhook_response_seconds_bucket{le="0.025"}"#,
    r#"hookgate_webhook_response_seconds_bucket{le="0.05"}"#,
    r#"hookgate_webhook_response_seconds_bucket{le="0.1"}"#,
    r#"hookgate_webhook_response_seconds_bucket{le="0.25"}"#,
    r#"hookgate_webhook_response_seconds_bucket{le="0.5"}"#,
    r#"hookgate_webhook_response_seconds_bucket{le="1"}"#,
    r#"hookgate_webhook_response_seconds_bucket{le="10"}"#,
    r#"hookgate_webhook_response_seconds_bucket{le="5"}"#,
    r#"hookgate_webhook_response_seconds_count{}"#,
    r#"hookgate_webhook_response_seconds_sum{}"#,
    r#"hookgate_writer_batch_size{}"#,
    r#"hookgate_writer_batches_total{}"#,
    r#"hookgate_writer_commit_seconds_total{}"#,
    r#"hookgate_writer_failed_commits_total{}"#,
    r#"hookgate_writer_jobs_total{}"#,
    r#"hookgate_writer_last_commit_seconds{}"#,
    r#"hookgate_writer_queue_depth{}"#,
    r#"hookgate_writer_reruns_total{}"#,
];

#[tokio::test]
async fn metrics_keep_every_series_and_stay_a_valid_exposition() {
    let app = spawn().await;
    let (_sink, port) = Sink::start().await;
    let destination = destination(
        &app,
        json!({"name": "Everything", "url": format!("http://127.0.0.1:{port}/")}),
    )
    .await["destination_id"]
        .as_str()
        .unwrap()
        .to_string();
    let s = app.sender("exposition@acme.example").await;
    app.send_order(&s, "ok-1", &order_body(None, "PENDING"))
        .await;
    app.send_signed(
        &s,
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "bad-1",
        app.now(),
        &order_body(None, "PENDING"),
    )
    .await
    .assert_error(401, "invalid_signature");

    let created = app
        .admin_post(
            "/api/v1/admin/sources",
            json!({"slug": "gh", "kind": "github", "secret": "It's a Secret"}),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.body);
    let body = br#"{"action":"opened","number":1}"#;
    let signature = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, b"It's a Secret"), body);
    let res = app
        .client
        .post(app.url("/in/gh"))
        .header("Content-Type", "application/json")
        .header("X-GitHub-Delivery", "d-1")
        .header("X-GitHub-Event", "issues")
        .header(
            "X-Hub-Signature-256",
            format!("sha256={}", hex::encode(signature.as_ref())),
        )
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    eventually("both deliveries succeed", || async {
        let items = deliveries_of(&app, &destination).await;
        (items.len() == 2 && items.iter().all(|d| d["status"] == "succeeded")).then_some(())
    })
    .await;

    let text = eventually("both attempts are counted", || async {
        let text = app.metrics_text().await;
        text.contains("hookgate_delivery_attempt_seconds_count 2")
            .then_some(text)
    })
    .await;
    let exposition = parse(&text);
    let now = normalised(&exposition.series, &destination);
    let missing: Vec<&&str> = KEPT.iter().filter(|s| !now.contains(**s)).collect();
    assert!(missing.is_empty(), "series gone: {missing:#?}\n{text}");
    assert!(
        text.ends_with("# EOF\n"),
        "OpenMetrics ends in # EOF:\n{text}"
    );

    // The process's own figures (this test binary is the server's process) and the build.
    let build = format!(
        "hookgate_build_info{{version={:?}}}",
        env!("CARGO_PKG_VERSION")
    );
    assert!(now.contains(&build), "{build} missing in\n{text}");
    assert_eq!(metric_value(&text, &build), 1.0);
    for (family, kind) in [
        ("process_resident_memory_bytes", "gauge"),
        ("process_open_fds", "gauge"),
        ("process_max_fds", "gauge"),
        ("process_cpu_seconds", "counter"),
        ("process_start_time_seconds", "gauge"),
    ] {
        assert_eq!(
            exposition.types.get(family).map(String::as_str),
            Some(kind),
            "{text}"
        );
    }
    let value = |series: &str| metric_value(&text, &format!("{series} "));
    assert!(value("process_resident_memory_bytes") > 1e6);
    assert!(value("process_open_fds") >= 3.0);
    assert!(value("process_max_fds") >= value("process_open_fds"));
    assert!(value("process_cpu_seconds_total") > 0.0);
    let started = value("process_start_time_seconds");
    let real_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (real_now - 86_400.0..=real_now + 1.0).contains(&started),
        "started at {started}, now {real_now}"
    );

    for histogram in [
        "hookgate_webhook_response_seconds",
        "hookgate_delivery_attempt_seconds",
    ] {
        assert_eq!(exposition.types[histogram], "histogram", "{text}");
    }
}
