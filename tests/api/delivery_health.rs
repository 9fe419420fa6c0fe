//! How deliveries are doing (CONTRACT section 10): a destination's `stats_24h`, the alerts its
//! admins get (circuit opened, disabled, dead letter; at most once an hour), the delivery part of
//! the health verdict and the delivery series of `/metrics`. Destinations are a sink on 127.0.0.1
//! that the test starts.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// A sink on 127.0.0.1 (the shared test helper); the URL of its root.
async fn sink() -> (Sink, String) {
    let (sink, port) = Sink::start().await;
    (sink, format!("http://127.0.0.1:{port}/"))
}

/// Create a destination; its id.
async fn destination_id(app: &TestApp, body: Value) -> String {
    destination(app, body).await["destination_id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn shown(app: &TestApp, id: &str) -> Value {
    let res = app
        .admin_get(&format!("/api/v1/admin/destinations/{id}"))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

/// Wait until `check` holds for a destination's deliveries (newest first, at least one).
async fn wait_for(app: &TestApp, id: &str, what: &str, check: impl Fn(&[Value]) -> bool) {
    eventually(what, || async {
        let items = deliveries_of(app, id).await;
        (!items.is_empty() && check(&items)).then_some(())
    })
    .await;
}

/// The alerts emailed to `to`, newest first.
async fn alerts_to(app: &TestApp, to: &str) -> Vec<Value> {
    let res = app
        .admin_get(&format!("/api/v1/admin/outbox?to={to}"))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["subject"].as_str().unwrap().starts_with("hookgate alert"))
        .cloned()
        .collect()
}

async fn health(app: &TestApp) -> Value {
    let res = app.admin_get("/api/v1/health").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

fn has_issue(health: &Value, part: &str) -> bool {
    health["issues"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i.as_str().unwrap().contains(part))
}

fn order() -> String {
    order_body(None, "PENDING")
}

#[tokio::test]
async fn stats_24h_count_the_days_attempts_failures_and_recoveries() {
    let app = spawn().await;
    let (sink, url) = sink().await;
    let id = destination_id(
        &app,
        json!({"name": "Stats", "url": url,
               "retry": {"strategy": "fixed", "max_attempts": 2, "base_delay": "60s"}}),
    )
    .await;
    assert_eq!(
        shown(&app, &id).await["stats_24h"],
        json!({"attempts": 0, "succeeded": 0, "failed": 0, "recovered": 0,
               "success_rate": null, "p95_ms": null})
    );
    let s = app.sender("stats24@acme.example").await;

    // A delivery that fails once, then recovers.
    sink.answer(&[500]);
    app.send_order(&s, "w-1", &order()).await;
    wait_for(&app, &id, "the first attempt fails", |d| {
        d[0]["attempts"] == 1
    })
    .await;
    app.advance(Duration::from_secs(67));
    wait_for(&app, &id, "the retry succeeds", |d| {
        d[0]["status"] == "succeeded"
    })
    .await;
    // One that succeeds at once.
    app.send_order(&s, "w-2", &order()).await;
    wait_for(&app, &id, "the second succeeds", |d| {
        d.len() == 2 && d[0]["status"] == "succeeded"
    })
    .await;
    // One that fails twice: a dead letter.
    sink.answer(&[500, 500]);
    app.send_order(&s, "w-3", &order()).await;
    wait_for(&app, &id, "the third fails once", |d| {
        d.len() == 3 && d[0]["attempts"] == 1
    })
    .await;
    app.advance(Duration::from_secs(67));
    wait_for(&app, &id, "the third is a dead letter", |d| {
        d[0]["status"] == "failed"
    })
    .await;

    let stats = shown(&app, &id).await["stats_24h"].clone();
    assert_eq!(stats["attempts"], 5, "{stats}");
    assert_eq!(stats["succeeded"], 2, "{stats}");
    assert_eq!(stats["failed"], 3, "{stats}");
    assert_eq!(stats["recovered"], 1, "{stats}");
    assert_eq!(stats["success_rate"], 40.0, "{stats}");
    // The 95th percentile of 5 attempts by nearest rank is the slowest one.
    let mut slowest = 0;
    for d in deliveries_of(&app, &id).await {
        let detail = app
            .admin_get(&format!(
                "/api/v1/admin/deliveries/{}",
                d["delivery_id"].as_str().unwrap()
            ))
            .await;
        for a in detail.body["attempt_log"].as_array().unwrap() {
            slowest = slowest.max(a["duration_ms"].as_i64().unwrap());
        }
    }
    assert_eq!(stats["p95_ms"], slowest, "{stats}");
    let listed = app.admin_get("/api/v1/admin/destinations").await;
    assert_eq!(
        listed.body["items"][0]["stats_24h"], stats,
        "the list shows them too"
    );

    app.advance(hours(25));
    assert_eq!(
        shown(&app, &id).await["stats_24h"],
        json!({"attempts": 0, "succeeded": 0, "failed": 0, "recovered": 0,
               "success_rate": null, "p95_ms": null}),
        "a day later the window is empty"
    );
}

#[tokio::test]
async fn an_opening_circuit_emails_every_admin_at_most_once_an_hour() {
    let app = spawn().await;
    create_admin(&app.data_dir, "second@example.com");
    let admins = ["root@example.com", "second@example.com"];
    let (sink, url) = sink().await;
    sink.answer(&[500; 10]);
    let id = destination_id(
        &app,
        json!({"name": "Flaky CRM", "url": url,
               "retry": {"strategy": "fixed", "max_attempts": 10, "base_delay": "1s"},
               "circuit": {"failure_threshold": 1, "cooldown": "60s"}}),
    )
    .await;
    let s = app.sender("alerts@acme.example").await;
    app.send_order(&s, "w-1", &order()).await;

    let counts = || async {
        let mut n = Vec::new();
        for to in admins {
            n.push(alerts_to(&app, to).await.len());
        }
        n
    };
    eventually("every admin is alerted", || async {
        (counts().await == [1, 1]).then_some(())
    })
    .await;
    let alert = alerts_to(&app, "second@example.com").await[0].clone();
    let subject = alert["subject"].as_str().unwrap();
    assert!(
        subject.contains("Flaky CRM has its circuit open"),
        "{subject}"
    );
    let body = alert["body"].as_str().unwrap();
    assert!(
        body.contains(&format!("/api/v1/admin/destinations/{id}")),
        "{body}"
    );
    assert!(body.contains("Nothing is sent to it until"), "{body}");

    // The probe after the cool-down fails: the circuit opens again, within the hour.
    app.advance(Duration::from_secs(61));
    wait_for(&app, &id, "the probe fails", |d| d[0]["attempts"] == 2).await;
    assert_eq!(shown(&app, &id).await["state"]["circuit"], "open");
    assert_eq!(counts().await, [1, 1], "no second alert within the hour");

    // An hour later the next opening is emailed again.
    app.advance(minutes(61));
    wait_for(&app, &id, "the next probe fails", |d| d[0]["attempts"] == 3).await;
    eventually("every admin is alerted again", || async {
        (counts().await == [2, 2]).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_dead_letter_warns_and_a_gone_destination_is_critical_each_alerting_the_admins() {
    let app = spawn().await;
    let (ledger_sink, ledger_url) = sink().await;
    ledger_sink.answer(&[500]);
    let ledger = destination_id(
        &app,
        json!({"name": "Ledger", "url": ledger_url,
               "retry": {"strategy": "fixed", "max_attempts": 1, "base_delay": "1s"}}),
    )
    .await;
    let s = app.sender("dead@acme.example").await;
    app.send_order(&s, "w-1", &order()).await;
    wait_for(&app, &ledger, "the delivery is a dead letter", |d| {
        d[0]["status"] == "failed"
    })
    .await;
    let alert = eventually("the admin is alerted", || async {
        alerts_to(&app, "root@example.com").await.first().cloned()
    })
    .await;
    let subject = alert["subject"].as_str().unwrap();
    assert!(
        subject.contains("Ledger has 1 failed delivery"),
        "{subject}"
    );
    assert!(alert["body"].as_str().unwrap().contains("/replay"));
    let h = health(&app).await;
    assert_eq!(h["status"], "warning", "{h}");
    assert!(
        has_issue(&h, "1 delivery to Ledger failed in the last 24 hours"),
        "{h}"
    );

    // A destination that answers 410 is disabled: critical, and its own alert.
    let (gone_sink, gone_url) = sink().await;
    gone_sink.answer(&[410]);
    let gone = destination_id(&app, json!({"name": "Old CRM", "url": gone_url})).await;
    app.send_order(&s, "w-2", &order()).await;
    eventually("the destination is disabled", || async {
        (shown(&app, &gone).await["enabled"] == false).then_some(())
    })
    .await;
    let alerts = eventually("the admin is alerted about it", || async {
        let alerts = alerts_to(&app, "root@example.com").await;
        (alerts.len() == 2).then_some(alerts)
    })
    .await;
    let subject = alerts[0]["subject"].as_str().unwrap();
    assert!(subject.contains("Old CRM was disabled (gone)"), "{subject}");
    assert!(alerts[0]["body"].as_str().unwrap().contains("410 Gone"));
    let h = health(&app).await;
    assert_eq!(h["status"], "critical", "{h}");
    assert!(has_issue(&h, "Old CRM is disabled (gone)"), "{h}");
    assert!(has_issue(&h, "to Ledger failed"), "{h}");
    wait_for(&app, &ledger, "the ledger got the second order", |d| {
        d.len() == 2 && d[0]["status"] == "succeeded"
    })
    .await;
    assert_eq!(
        alerts_to(&app, "root@example.com").await.len(),
        2,
        "a success alerts nobody"
    );
}

#[tokio::test]
async fn health_warns_while_a_circuit_is_open_and_is_critical_once_a_delivery_waited_an_hour() {
    let app = spawn().await;
    let (sink, url) = sink().await;
    sink.answer(&[500]);
    let id = destination_id(
        &app,
        json!({"name": "Warehouse", "url": url,
               "retry": {"strategy": "fixed", "max_attempts": 5, "base_delay": "10h"},
               "circuit": {"failure_threshold": 1, "cooldown": "60s"}}),
    )
    .await;
    let s = app.sender("waits@acme.example").await;
    app.send_order(&s, "w-1", &order()).await;
    eventually("the circuit opens", || async {
        (shown(&app, &id).await["state"]["circuit"] == "open").then_some(())
    })
    .await;
    let h = health(&app).await;
    assert_eq!(h["status"], "warning", "{h}");
    assert!(has_issue(&h, "Warehouse has its circuit open"), "{h}");
    assert!(
        h["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains(&id)),
        "{h}"
    );

    app.advance(minutes(61));
    let h = health(&app).await;
    assert_eq!(h["status"], "critical", "{h}");
    assert!(
        has_issue(
            &h,
            "The oldest pending delivery (to Warehouse) has waited 61 minutes"
        ),
        "{h}"
    );
}

#[tokio::test]
async fn metrics_count_deliveries_by_outcome_and_read_the_queue_and_circuits() {
    let app = spawn().await;
    let s = app.sender("prom-deliveries@acme.example").await;
    let (main_sink, main_url) = sink().await;
    main_sink.answer(&[500]);
    let main = destination_id(
        &app,
        json!({"name": "Main", "url": main_url,
               "retry": {"strategy": "fixed", "max_attempts": 1, "base_delay": "1s"}}),
    )
    .await;
    app.send_order(&s, "w-1", &order()).await;
    wait_for(&app, &main, "a dead letter", |d| d[0]["status"] == "failed").await;
    app.send_order(&s, "w-2", &order()).await;
    wait_for(&app, &main, "a success", |d| {
        d.len() == 2 && d[0]["status"] == "succeeded"
    })
    .await;

    // From here on every order also goes to a destination that fails once and opens its circuit.
    let (retry_sink, retry_url) = sink().await;
    retry_sink.answer(&[500]);
    let retrying = destination_id(
        &app,
        json!({"name": "Retrying", "url": retry_url,
               "retry": {"strategy": "fixed", "max_attempts": 3, "base_delay": "1h"},
               "circuit": {"failure_threshold": 1, "cooldown": "1h"}}),
    )
    .await;
    app.send_order(&s, "w-3", &order()).await;
    wait_for(&app, &retrying, "a retry is scheduled", |d| {
        d[0]["attempts"] == 1
    })
    .await;
    wait_for(&app, &main, "a success", |d| {
        d.len() == 3 && d[0]["status"] == "succeeded"
    })
    .await;

    // And to one that answers 410.
    let (gone_sink, gone_url) = sink().await;
    gone_sink.answer(&[410]);
    let gone = destination_id(&app, json!({"name": "Gone", "url": gone_url})).await;
    app.send_order(&s, "w-4", &order()).await;
    eventually("the destination is disabled", || async {
        (shown(&app, &gone).await["enabled"] == false).then_some(())
    })
    .await;
    wait_for(&app, &main, "a success", |d| {
        d.len() == 4 && d[0]["status"] == "succeeded"
    })
    .await;

    app.advance(minutes(2));
    let text = eventually("every attempt is counted", || async {
        let text = app.metrics_text().await;
        (text.contains("hookgate_delivery_attempt_seconds_count 6\n")).then_some(text)
    })
    .await;
    let value = |series: &str| metric_value(&text, series);
    let outcome = |id: &str, outcome: &str| {
        value(&format!(
            "hookgate_deliveries_total{{destination=\"{id}\",outcome=\"{outcome}\"}}"
        ))
    };
    assert_eq!(outcome(&main, "failed"), 1.0);
    assert_eq!(outcome(&main, "succeeded"), 3.0);
    assert_eq!(outcome(&retrying, "retried"), 1.0);
    assert_eq!(outcome(&gone, "gone"), 1.0);
    assert_eq!(
        value("hookgate_delivery_attempt_seconds_bucket{le=\"+Inf\"}"),
        6.0
    );
    assert!(text.contains("# TYPE hookgate_delivery_attempt_seconds histogram"));
    // Waiting: the retry of w-3 and w-4 behind the open circuit, and w-4 to the gone one.
    assert_eq!(value("hookgate_delivery_queue_depth"), 3.0);
    let oldest = value("hookgate_delivery_oldest_pending_seconds");
    assert!((120.0..200.0).contains(&oldest), "{oldest}");
    let circuit = |id: &str| {
        value(&format!(
            "hookgate_destination_circuit_open{{destination=\"{id}\"}}"
        ))
    };
    assert_eq!(circuit(&retrying), 1.0);
    assert_eq!(circuit(&main), 0.0);
    assert_eq!(circuit(&gone), 0.0);
}
