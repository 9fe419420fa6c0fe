//! Health status, hourly stats, Prometheus metrics and the event log.

use crate::helpers::*;
use reqwest::StatusCode;
use std::time::Duration;

async fn bad_signature(app: &TestApp, s: &Sender, id: &str) {
    let res = app
        .send_signed(
            s,
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            id,
            app.now(),
            &order_body(None, "PENDING"),
        )
        .await;
    res.assert_error(401, "invalid_signature");
}

#[tokio::test]
async fn health_moves_from_warning_to_healthy_to_warning_to_critical() {
    let app = spawn_app_with(|o| o.ip_rate = Some("1000/s".into())).await;
    let idle = app.admin_get("/api/v1/health").await;
    assert_eq!(idle.status, StatusCode::OK);
    assert_eq!(
        idle.body["status"], "warning",
        "no webhooks in 24 h: {}",
        idle.body
    );
    assert!(
        idle.body["issues"][0]
            .as_str()
            .unwrap()
            .contains("No webhooks")
    );
    assert!(!idle.body["recommendations"].as_array().unwrap().is_empty());

    let s = app.sender("health@acme.example").await;
    for i in 0..19 {
        assert_eq!(
            app.send_order(&s, &format!("ok{i}"), &order_body(None, "PENDING"))
                .await
                .status,
            StatusCode::CREATED
        );
    }
    bad_signature(&app, &s, "bad0").await; // 19/20 = 95 %: still healthy
    let h = app.admin_get("/api/v1/health").await;
    assert_eq!(h.body["status"], "healthy", "{}", h.body);
    assert_eq!(h.body["metrics"]["total"], 20);
    assert_eq!(h.body["metrics"]["success_rate"], 95.0);
    assert!(h.body["metrics"]["p95_response_ms"].as_f64().unwrap() > 0.0);
    assert!(h.body["metrics"]["avg_response_ms"].as_f64().is_some());
    assert!(h.body["metrics"]["last_received_at"].as_str().is_some());

    bad_signature(&app, &s, "bad1").await; // 19/21 ≈ 90.5 %
    let h = app.admin_get("/api/v1/health").await;
    assert_eq!(h.body["status"], "warning", "{}", h.body);
    assert!(
        h.body["recommendations"][0]
            .as_str()
            .unwrap()
            .contains("invalid_signature")
    );

    for i in 2..6 {
        bad_signature(&app, &s, &format!("bad{i}")).await; // 19/25 = 76 %
    }
    let h = app.admin_get("/api/v1/health").await;
    assert_eq!(h.body["status"], "critical", "{}", h.body);
    assert!(h.body["issues"][0].as_str().unwrap().contains("76.0%"));
}

#[tokio::test]
async fn metrics_expose_the_counters_in_prometheus_format() {
    let app = spawn_app_with(|o| o.merchant_rate = Some("3/s".into())).await;
    let s = app.sender("prom@acme.example").await;
    let body = order_body(None, "PENDING");
    app.send_order(&s, "p1", &body).await;
    app.send_order(&s, "p1", &body).await; // duplicate
    bad_signature(&app, &s, "p2").await;
    // The limit (burst 3) runs before idempotency, so the duplicate spent a cell too: one more
    // order fits, the next three are limited.
    for i in 0..4 {
        app.send_order(&s, &format!("burst{i}"), &body).await;
    }

    let unauthenticated =
        Res::from(app.client.get(app.url("/metrics")).send().await.unwrap()).await;
    unauthenticated.assert_error(401, "unauthorized");
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        "the content type of the format that ends in # EOF, which Prometheus scrapes"
    );
    let text = app.metrics_text().await;
    let value = |series: &str| metric_value(&text, series);
    assert_eq!(
        value("hookgate_webhook_requests_total{outcome=\"accepted\",reason=\"created\"}"),
        2.0
    );
    assert_eq!(
        value("hookgate_webhook_requests_total{outcome=\"accepted\",reason=\"duplicate\"}"),
        1.0
    );
    assert_eq!(
        value("hookgate_webhook_requests_total{outcome=\"rejected\",reason=\"invalid_signature\"}"),
        1.0
    );
    assert_eq!(value("hookgate_webhook_duplicates_total"), 1.0);
    assert_eq!(value("hookgate_webhook_rate_limited_total"), 3.0);
    assert_eq!(value("hookgate_webhook_response_seconds_count"), 7.0);
    assert_eq!(
        value("hookgate_webhook_response_seconds_bucket{le=\"+Inf\"}"),
        7.0
    );
    assert!(value("hookgate_writer_batches_total") >= 1.0);
    assert!(value("hookgate_writer_jobs_total") >= value("hookgate_writer_batches_total"));
    assert!(value("hookgate_writer_batch_size") >= 1.0);
    assert!(value("hookgate_writer_commit_seconds_total") > 0.0);
    assert_eq!(value("hookgate_writer_queue_depth"), 0.0);
    assert_eq!(
        value("hookgate_writer_reruns_total"),
        0.0,
        "no write failed, so no group was run twice"
    );
    assert!(value("hookgate_database_size_bytes") > 0.0);
}

#[tokio::test]
async fn stats_give_hourly_buckets_with_reasons() {
    let app = spawn_app().await;
    let s = app.sender("stats@acme.example").await;
    let body = order_body(None, "PENDING");
    app.send_order(&s, "s1", &body).await;
    app.send_order(&s, "s1", &body).await;
    bad_signature(&app, &s, "s2").await;
    let res = app.admin_get("/api/v1/stats?hours=3").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let buckets = res.body["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 3);
    let now = &buckets[2];
    assert_eq!(now["received"], 3);
    assert_eq!(now["accepted"], 1);
    assert_eq!(now["duplicates"], 1);
    assert_eq!(now["rejected"]["invalid_signature"], 1);
    assert!(now["p95_response_ms"].as_f64().is_some());
    assert_eq!(buckets[0]["received"], 0);
    app.admin_get("/api/v1/stats?hours=0")
        .await
        .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn metrics_are_rolled_up_and_survive_a_restart() {
    let app = spawn_app_with(|o| o.jobs_interval = Some("100ms".into())).await;
    let s = app.sender("restart@acme.example").await;
    for i in 0..3 {
        app.send_order(&s, &format!("r{i}"), &order_body(None, "PENDING"))
            .await;
    }
    // The roll-up job (every 100 ms) writes the hour's counts to the database.
    let db = app.data_dir.join("hookgate.db");
    eventually("the hour's counts are rolled up", || async {
        let conn = rusqlite::Connection::open(&db).ok()?;
        let rows: Vec<String> = conn
            .prepare("SELECT data FROM metrics_hourly")
            .ok()?
            .query_map([], |r| r.get(0))
            .ok()?
            .collect::<Result<_, _>>()
            .ok()?;
        let received: u64 = rows
            .iter()
            .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .filter_map(|v| v["received"].as_u64())
            .sum();
        (received == 3).then_some(())
    })
    .await;
    // A second server on the same data dir (as after a restart) resumes the hour's counts.
    let config = hookgate::config::Config::resolve(&hookgate::cli::GlobalOptions {
        data_dir: Some(app.data_dir.clone()),
        bind: Some("127.0.0.1:0".into()),
        ..Default::default()
    })
    .unwrap();
    let second =
        hookgate::startup::Application::build_with_clock(config, app.clock.clone()).unwrap();
    let address = format!("http://127.0.0.1:{}", second.port());
    tokio::spawn(second.run());
    let total = eventually("the restarted server answers", || async {
        let res = app
            .client
            .get(format!("{address}/api/v1/health"))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .ok()?;
        Some(res.json::<serde_json::Value>().await.unwrap()["metrics"]["total"].clone())
    })
    .await;
    assert_eq!(total, 3);
}

#[tokio::test]
async fn events_record_accepted_and_authenticated_rejected_webhooks() {
    let app = spawn_app().await;
    let a = app.sender("events@acme.example").await;
    let b = app.sender("quiet@other.example").await;
    let accepted = app
        .send_order(&a, "ev1", &order_body(None, "PENDING"))
        .await;
    app.send_order(&a, "ev2", "{\"customer_details\": {}}")
        .await
        .assert_error(422, "validation_failed");
    bad_signature(&app, &a, "ev3").await; // unauthenticated: counted, not stored
    app.send_order(&b, "evb", &order_body(None, "PENDING"))
        .await;

    // The rejected event is written without delaying the answer.
    let all = eventually("both events of the merchant are listed", || async {
        let all = app
            .admin_get(&format!(
                "/api/v1/admin/events?merchant_id={}",
                a.merchant_id
            ))
            .await
            .body;
        (all["items"].as_array().unwrap().len() == 2).then_some(all)
    })
    .await;
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{all}");
    assert_eq!(items[0]["outcome"], "rejected");
    assert_eq!(items[0]["reason"], "validation_failed");
    assert_eq!(items[1]["outcome"], "accepted");
    assert_eq!(items[1]["event_id"], accepted.body["event_id"]);
    assert_eq!(items[1]["order_id"], accepted.body["order_id"]);
    assert_eq!(items[1]["client_ip"], "127.0.0.1");
    assert!(items[1]["response_ms"].as_f64().is_some());

    let rejected = app
        .admin_get(&format!(
            "/api/v1/admin/events?merchant_id={}&status=rejected",
            a.merchant_id
        ))
        .await;
    assert_eq!(rejected.body["items"].as_array().unwrap().len(), 1);
    let detail = app
        .admin_get(&format!(
            "/api/v1/admin/events/{}",
            items[1]["event_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(detail.body["body"]["customer_details"]["name"], "John Doe");
    let everyone = app.admin_get("/api/v1/admin/events?limit=2").await;
    assert_eq!(everyone.body["items"].as_array().unwrap().len(), 2);
    let next = everyone.body["next_cursor"]
        .as_str()
        .expect("a second page");
    let page2 = app
        .admin_get(&format!("/api/v1/admin/events?limit=2&cursor={next}"))
        .await;
    assert_eq!(page2.body["items"].as_array().unwrap().len(), 1);
    let future = app
        .admin_get("/api/v1/admin/events?since=2999-01-01T00:00:00Z")
        .await;
    assert_eq!(future.body["items"].as_array().unwrap().len(), 0);
    app.admin_get("/api/v1/admin/events?status=maybe")
        .await
        .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn readiness_and_liveness_answer() {
    let app = spawn_app().await;
    let live = Res::from(app.client.get(app.url("/healthz")).send().await.unwrap()).await;
    assert_eq!(live.body, serde_json::json!({"status": "ok"}));
    let ready = Res::from(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(ready.status, StatusCode::OK);
    // Security headers on every response.
    assert_eq!(live.headers["x-content-type-options"], "nosniff");
    assert_eq!(live.headers["x-frame-options"], "DENY");
    assert!(
        live.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(live.headers.contains_key("referrer-policy"));
    assert!(
        !live.headers.contains_key("strict-transport-security"),
        "no HSTS over plain http"
    );
}

#[tokio::test]
async fn an_https_public_url_turns_on_hsts() {
    let app = spawn_app_with(|o| o.public_url = Some("https://hooks.example.com".into())).await;
    let res = Res::from(app.client.get(app.url("/healthz")).send().await.unwrap()).await;
    assert!(
        res.headers["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
}

#[tokio::test]
async fn events_and_emails_older_than_the_retention_are_deleted_but_orders_stay() {
    let app = spawn_app_with(|o| {
        o.retention = Some("30d".into());
        o.jobs_interval = Some("100ms".into());
    })
    .await;
    let email = "retain@acme.example";
    let s = app.sender(email).await;
    let created = app
        .send_order(&s, "old", &order_body(None, "PENDING"))
        .await;
    let order_id = created.body["order_id"].as_str().unwrap().to_string();
    let events = |n: usize| {
        let app = &app;
        move || async move {
            let events = app.admin_get("/api/v1/admin/events").await;
            (events.body["items"].as_array().unwrap().len() == n).then_some(())
        }
    };
    let mails = |n: usize| {
        let app = &app;
        move || async move {
            let outbox = app
                .admin_get("/api/v1/admin/outbox?to=john@example.com")
                .await;
            (outbox.body.as_array().unwrap().len() == n).then_some(())
        }
    };
    eventually("the event is recorded", events(1)).await;
    eventually("the confirmation email is queued", mails(1)).await;

    app.advance(days(30) + Duration::from_secs(1));
    eventually(
        "the event and its body are gone after the retention",
        events(0),
    )
    .await;
    // The customer's confirmation email went with it: the outbox does not grow without bound.
    eventually("old outbox emails are deleted too", mails(0)).await;
    let token = app.token_for(email).await;
    let order = app
        .get_as(&format!("/api/v1/orders/{order_id}"), &token)
        .await;
    assert_eq!(
        order.status,
        StatusCode::OK,
        "the order and its history stay"
    );
    assert_eq!(order.body["history"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn retention_deletes_a_backlog_in_many_batches_and_keeps_what_is_newer() {
    let app = spawn_app_with(|o| {
        o.retention = Some("30d".into());
        o.jobs_interval = Some("100ms".into());
        o.merchant_rate = Some("10000/s".into());
    })
    .await;
    let s = app.sender("backlog@acme.example").await;
    // More than several first batches (256 rows each), so retention must loop to finish.
    app.send_orders(&s, "old", 700).await;
    app.advance(days(15));
    app.send_orders(&s, "new", 5).await;
    app.advance(days(15) + Duration::from_secs(1));

    let deleted = |table: &'static str| {
        let app = &app;
        move || async move {
            let text = app.metrics_text().await;
            let series = format!("hookgate_retention_deleted_rows_total{{table=\"{table}\"}}");
            let n = metric_value(&text, &series);
            (n >= 700.0).then_some(n)
        }
    };
    let events = eventually("the 700 old events are deleted", deleted("events")).await;
    assert_eq!(events, 700.0, "only the old events go");
    // The outbox also held the merchant's onboarding emails, as old as the orders.
    eventually(
        "the 700 old confirmation emails are deleted",
        deleted("outbox"),
    )
    .await;

    let kept = app.admin_get("/api/v1/admin/events?limit=100").await;
    let items = kept.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 5, "the newer events stay: {}", kept.body);
    let mails = app
        .admin_get("/api/v1/admin/outbox?to=john@example.com")
        .await;
    assert_eq!(
        mails.body.as_array().unwrap().len(),
        5,
        "the newer emails stay"
    );
    let runs = metric_value(
        &app.metrics_text().await,
        "hookgate_job_runs_total{job=\"retention\"}",
    );
    assert!(runs >= 1.0);
}
