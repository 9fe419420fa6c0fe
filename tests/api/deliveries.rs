//! Deliveries (CONTRACT section 10) to a sink on 127.0.0.1 that the test starts: every accepted
//! event reaches its matching destinations, signed; retries, 410 and the circuit follow the
//! contract.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn an_accepted_order_reaches_its_destination_signed_with_the_destinations_secret() {
    let app = spawn().await;
    let (sink, port) = Sink::start().await;
    let d = destination(
        &app,
        json!({"name": "Fulfilment", "url": format!("http://127.0.0.1:{port}/hooks"), "topics": ["order.*"]}),
    )
    .await;
    let secret = d["signing_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let listed = app.admin_get("/api/v1/admin/destinations").await;
    assert!(
        !listed.body.to_string().contains(&secret),
        "the secret is shown once"
    );

    let s = app.sender("deliver@acme.example").await;
    let body = order_body(Some("ref-1"), "PENDING");
    let sent = app.send_order(&s, "w-1", &body).await;
    let event_id = sent.body["event_id"].as_str().unwrap().to_string();

    let got = eventually("the sink receives the event", || async {
        sink.received().first().cloned()
    })
    .await;
    assert_eq!(got.path, "/hooks");
    assert_eq!(got.body, body.as_bytes(), "the event's raw body");
    assert_eq!(got.header("webhook-id"), Some(event_id.as_str()));
    assert_eq!(got.header("hookgate-source"), Some("orders"));
    assert_eq!(got.header("hookgate-topic"), Some("order.created"));
    assert_eq!(got.header("hookgate-attempt"), Some("1"));
    assert!(got.header("user-agent").unwrap().starts_with("hookgate/"));
    // Verified with a verifier written here, from the Standard Webhooks scheme.
    let ts: i64 = got.header("webhook-timestamp").unwrap().parse().unwrap();
    let expected = sign(&secret, &event_id, ts, &got.body);
    assert!(
        got.header("webhook-signature")
            .unwrap()
            .split(' ')
            .any(|s| s == expected),
        "{got:?}"
    );
    let id = d["destination_id"].as_str().unwrap();
    let delivered = eventually("the delivery is recorded as succeeded", || async {
        let items = deliveries_of(&app, id).await;
        (items.first()?["status"] == "succeeded").then(|| items[0].clone())
    })
    .await;
    assert_eq!(delivered["attempts"], 1);
    assert_eq!(delivered["event_id"], event_id.as_str());
}

#[tokio::test]
async fn only_matching_topics_are_delivered() {
    let app = spawn().await;
    let (sink, port) = Sink::start().await;
    let d = destination(
        &app,
        json!({"name": "Updates only", "url": format!("http://127.0.0.1:{port}/"), "topics": ["order.updated"]}),
    )
    .await;
    let s = app.sender("topics@acme.example").await;
    app.send_order(&s, "w-1", &order_body(Some("r"), "PENDING"))
        .await;
    app.send_order(&s, "w-2", &order_body(Some("r"), "SHIPPED"))
        .await;
    let got = eventually("the update arrives", || async {
        sink.received().first().cloned()
    })
    .await;
    assert_eq!(got.header("hookgate-topic"), Some("order.updated"));
    let items = deliveries_of(&app, d["destination_id"].as_str().unwrap()).await;
    assert_eq!(items.len(), 1, "order.created matched nothing: {items:?}");
}

#[tokio::test]
async fn a_failed_attempt_is_retried_on_schedule_and_its_log_kept() {
    let app = spawn().await;
    let (sink, port) = Sink::start().await;
    sink.answer(&[500]);
    let d = destination(
        &app,
        json!({"name": "Flaky", "url": format!("http://127.0.0.1:{port}/"),
               "retry": {"strategy": "fixed", "max_attempts": 3, "base_delay": "60s"}}),
    )
    .await;
    let id = d["destination_id"].as_str().unwrap().to_string();
    let s = app.sender("retry@acme.example").await;
    app.send_order(&s, "w-1", &order_body(None, "PENDING"))
        .await;
    let first = eventually("the first attempt fails", || async {
        let items = deliveries_of(&app, &id).await;
        (items.first()?["attempts"] == 1).then(|| items[0].clone())
    })
    .await;
    assert_eq!(first["status"], "pending");
    assert_eq!(first["last_status_code"], 500);
    assert_eq!(sink.received().len(), 1, "nothing more before the delay");

    app.advance(Duration::from_secs(67));
    let done = eventually("the retry succeeds", || async {
        let items = deliveries_of(&app, &id).await;
        (items.first()?["status"] == "succeeded").then(|| items[0].clone())
    })
    .await;
    assert_eq!(done["attempts"], 2);
    let received = sink.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].header("hookgate-attempt"), Some("2"));
    assert_eq!(
        received[0].header("webhook-id"),
        received[1].header("webhook-id"),
        "the same webhook-id on every attempt"
    );
    let detail = app
        .admin_get(&format!(
            "/api/v1/admin/deliveries/{}",
            done["delivery_id"].as_str().unwrap()
        ))
        .await;
    let log = detail.body["attempt_log"].as_array().unwrap();
    assert_eq!(log.len(), 2, "{}", detail.body);
    assert_eq!(log[0]["status_code"], 500);
    assert_eq!(log[0]["response_excerpt"], "ok");
    assert_eq!(log[1]["status_code"], 200);
}

#[tokio::test]
async fn a_gone_destination_is_disabled_and_its_deliveries_wait() {
    let app = spawn().await;
    let (sink, port) = Sink::start().await;
    sink.answer(&[410]);
    let d = destination(
        &app,
        json!({"name": "Retired", "url": format!("http://127.0.0.1:{port}/")}),
    )
    .await;
    let id = d["destination_id"].as_str().unwrap().to_string();
    let s = app.sender("gone@acme.example").await;
    app.send_order(&s, "w-1", &order_body(None, "PENDING"))
        .await;
    let shown = eventually("the destination is disabled", || async {
        let d = app
            .admin_get(&format!("/api/v1/admin/destinations/{id}"))
            .await;
        (d.body["enabled"] == false).then_some(d.body)
    })
    .await;
    assert_eq!(shown["state"]["disabled_reason"], "gone");
    assert_eq!(shown["state"]["pending"], 1, "{shown}");
    let items = deliveries_of(&app, &id).await;
    assert_eq!(items[0]["attempts"], 0, "410 uses no attempt");
    app.send_order(&s, "w-2", &order_body(None, "PENDING"))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sink.received().len(),
        1,
        "nothing is sent to a disabled destination"
    );

    // Enabling it again clears the reason and the waiting deliveries go.
    let enabled = app
        .admin_patch(
            &format!("/api/v1/admin/destinations/{id}"),
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(enabled.status, StatusCode::OK);
    eventually("both deliveries succeed", || async {
        let items = deliveries_of(&app, &id).await;
        (items.len() == 2 && items.iter().all(|i| i["status"] == "succeeded")).then_some(())
    })
    .await;
    let shown = app
        .admin_get(&format!("/api/v1/admin/destinations/{id}"))
        .await;
    assert_eq!(shown.body["state"]["disabled_reason"], Value::Null);
}

#[tokio::test]
async fn consecutive_failures_open_the_circuit_and_nothing_is_sent_while_open() {
    let app = spawn().await;
    let (sink, port) = Sink::start().await;
    sink.answer(&[500, 500, 500, 500]);
    let d = destination(
        &app,
        json!({"name": "Down", "url": format!("http://127.0.0.1:{port}/"),
               "retry": {"strategy": "fixed", "max_attempts": 10, "base_delay": "1s"},
               "circuit": {"failure_threshold": 2, "cooldown": "60s"}}),
    )
    .await;
    let id = d["destination_id"].as_str().unwrap().to_string();
    let s = app.sender("circuit@acme.example").await;
    app.send_order(&s, "w-1", &order_body(None, "PENDING"))
        .await;
    app.send_order(&s, "w-2", &order_body(None, "PENDING"))
        .await;
    let shown = eventually("the circuit opens", || async {
        let d = app
            .admin_get(&format!("/api/v1/admin/destinations/{id}"))
            .await;
        (d.body["state"]["circuit"] == "open").then_some(d.body)
    })
    .await;
    assert!(shown["state"]["circuit_until"].as_str().is_some());
    let sent = sink.received().len();
    app.advance(Duration::from_secs(5));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sink.received().len(),
        sent,
        "nothing is sent while the circuit is open"
    );
    // After the cool-down one probe goes; its success closes the circuit and the rest flow.
    sink.clear_answers();
    app.advance(Duration::from_secs(61));
    eventually("both deliveries succeed", || async {
        let items = deliveries_of(&app, &id).await;
        items
            .iter()
            .all(|i| i["status"] == "succeeded")
            .then_some(())
    })
    .await;
    let shown = app
        .admin_get(&format!("/api/v1/admin/destinations/{id}"))
        .await;
    assert_eq!(shown.body["state"]["circuit"], "closed");
}

/// The worker claims more than it sends at once; when the circuit opens, what it claimed and did
/// not send is given back, so it goes right after the cool-down and not after its lease.
#[tokio::test]
async fn claimed_deliveries_not_sent_when_the_circuit_opens_go_after_the_cool_down() {
    let app = spawn().await;
    let (sink, port) = Sink::start().await;
    sink.answer(&[500; 8]);
    let d = destination(
        &app,
        json!({"name": "Flaky", "url": format!("http://127.0.0.1:{port}/"), "enabled": false,
               "retry": {"strategy": "fixed", "max_attempts": 10, "base_delay": "1s"},
               "circuit": {"failure_threshold": 1, "cooldown": "10s"}}),
    )
    .await;
    let id = d["destination_id"].as_str().unwrap().to_string();
    let s = app.sender("ahead@acme.example").await;
    for n in 0..12 {
        app.send_order(&s, &format!("w-{n}"), &order_body(None, "PENDING"))
            .await;
    }
    // Enabled with all 12 waiting: one claim takes them, 8 go at once (the bound) and fail.
    let res = app
        .admin_patch(
            &format!("/api/v1/admin/destinations/{id}"),
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    eventually("the circuit opens", || async {
        let d = app
            .admin_get(&format!("/api/v1/admin/destinations/{id}"))
            .await;
        (d.body["state"]["circuit"] == "open").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.received().len(), 8, "only the first 8 were sent");
    sink.clear_answers();
    // Past the cool-down, well inside a claim's lease (twice the 15 s timeout and more).
    app.advance(Duration::from_secs(11));
    eventually("all 12 succeed", || async {
        let items = deliveries_of(&app, &id).await;
        (items.len() == 12 && items.iter().all(|i| i["status"] == "succeeded")).then_some(())
    })
    .await;
}

/// A destination that never answers costs one attempt of its `timeout`: the attempt is recorded
/// as a timeout and the delivery is retried on schedule.
#[tokio::test]
async fn an_attempt_that_gets_no_answer_times_out_and_is_retried() {
    let app = spawn().await;
    let (sink, port) = Sink::start().await;
    sink.answer(&[NO_ANSWER]);
    let d = destination(
        &app,
        json!({"name": "Silent", "url": format!("http://127.0.0.1:{port}/"), "timeout": "1s",
               "retry": {"strategy": "fixed", "max_attempts": 3, "base_delay": "30s"}}),
    )
    .await;
    let id = d["destination_id"].as_str().unwrap().to_string();
    let s = app.sender("silent@acme.example").await;
    app.send_order(&s, "w-1", &order_body(None, "PENDING"))
        .await;
    let waiting = eventually("the attempt times out", || async {
        let items = deliveries_of(&app, &id).await;
        let first = items.first()?;
        (first["attempts"] == 1).then(|| first.clone())
    })
    .await;
    assert_eq!(waiting["status"], "pending", "{waiting}");
    assert_eq!(waiting["last_error"], "timeout", "{waiting}");
    assert_eq!(sink.received().len(), 1);
    // Retried after its delay, not before.
    app.advance(Duration::from_secs(31));
    eventually("the retry succeeds", || async {
        let items = deliveries_of(&app, &id).await;
        (items.first()?["status"] == "succeeded").then_some(())
    })
    .await;
    assert_eq!(sink.received().len(), 2);
}

#[tokio::test]
async fn destinations_at_refused_addresses_and_bad_settings_are_422_with_every_field() {
    let app = spawn_app().await;
    let res = app
        .admin_post(
            "/api/v1/admin/destinations",
            json!({"name": "", "url": "http://10.0.0.5/hook", "retry": {"strategy": "sometimes"},
                   "circuit": {"failure_threshold": 0}, "colour": "blue"}),
        )
        .await;
    res.assert_error(422, "validation_failed");
    let fields = res.violation_fields();
    for field in [
        "name",
        "url",
        "retry.strategy",
        "circuit.failure_threshold",
        "colour",
    ] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    let loopback = app
        .admin_post(
            "/api/v1/admin/destinations",
            json!({"name": "Local", "url": "http://127.0.0.1:9/"}),
        )
        .await;
    loopback.assert_error(422, "validation_failed");
    assert!(
        loopback.body.to_string().contains("--destination-allow"),
        "{}",
        loopback.body
    );
}

#[tokio::test]
async fn after_a_rotation_attempts_carry_both_signatures_until_the_overlap_ends() {
    let app = spawn().await;
    let (sink, port) = Sink::start().await;
    let d = destination(
        &app,
        json!({"name": "Rotating", "url": format!("http://127.0.0.1:{port}/")}),
    )
    .await;
    let id = d["destination_id"].as_str().unwrap().to_string();
    let old = d["signing_secret"].as_str().unwrap().to_string();
    let rotated = app
        .admin_post(
            &format!("/api/v1/admin/destinations/{id}/secret"),
            json!({}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new = rotated.body["signing_secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);

    let s = app.sender("rotate-dst@acme.example").await;
    app.send_order(&s, "w-1", &order_body(None, "PENDING"))
        .await;
    let got = eventually("the first delivery arrives", || async {
        sink.received().first().cloned()
    })
    .await;
    let verifies = |r: &Received, secret: &str| {
        let ts: i64 = r.header("webhook-timestamp").unwrap().parse().unwrap();
        let expected = sign(secret, r.header("webhook-id").unwrap(), ts, &r.body);
        r.header("webhook-signature")
            .unwrap()
            .split(' ')
            .any(|s| s == expected)
    };
    assert!(verifies(&got, &old) && verifies(&got, &new), "{got:?}");

    app.advance(hours(24) + Duration::from_secs(1));
    app.send_order(&s, "w-2", &order_body(None, "PENDING"))
        .await;
    let got = eventually("the second delivery arrives", || async {
        sink.received().get(1).cloned()
    })
    .await;
    assert!(verifies(&got, &new) && !verifies(&got, &old), "{got:?}");
}

#[tokio::test]
async fn a_test_send_reports_what_the_destination_answered() {
    let app = spawn().await;
    let (sink, port) = Sink::start().await;
    let d = destination(
        &app,
        json!({"name": "Test me", "url": format!("http://127.0.0.1:{port}/t")}),
    )
    .await;
    let id = d["destination_id"].as_str().unwrap().to_string();
    let secret = d["signing_secret"].as_str().unwrap().to_string();
    let ok = app
        .admin_post(&format!("/api/v1/admin/destinations/{id}/test"), json!({}))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["delivered"], true);
    assert_eq!(ok.body["status_code"], 200);
    let got = sink.received()[0].clone();
    assert_eq!(got.header("hookgate-topic"), Some("hookgate.test"));
    let ts: i64 = got.header("webhook-timestamp").unwrap().parse().unwrap();
    let expected = sign(&secret, got.header("webhook-id").unwrap(), ts, &got.body);
    assert_eq!(got.header("webhook-signature"), Some(expected.as_str()));

    sink.answer(&[500]);
    let failed = app
        .admin_post(&format!("/api/v1/admin/destinations/{id}/test"), json!({}))
        .await;
    assert_eq!(failed.body["delivered"], false);
    assert_eq!(failed.body["status_code"], 500);
    assert!(failed.body["error"].as_str().is_some());
    let audit = app.admin_get("/api/v1/admin/audit").await.body.to_string();
    assert!(audit.contains("destination.created"), "{audit}");
}

#[tokio::test]
async fn the_console_creates_a_destination_and_shows_its_deliveries_and_attempts() {
    let app = spawn().await;
    let (sink, port) = Sink::start().await;
    sink.answer(&[503]);
    let admin = app.admin_browser().await;
    let list = admin.page("/admin/destinations").await;
    assert!(list.contains("No destinations yet."), "{list}");
    let csrf = csrf_in(&list);
    let refused = admin
        .post_form(
            "/admin/destinations",
            &[
                ("csrf", &csrf),
                ("name", "Typed name"),
                ("url", "http://10.1.2.3/x"),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("Typed name") && html.contains("private address"),
        "{html}"
    );

    let url = format!("http://127.0.0.1:{port}/in");
    let created = admin
        .post_form(
            "/admin/destinations",
            &[
                ("csrf", &csrf),
                ("name", "Warehouse"),
                ("url", &url),
                ("topics", "order.*"),
            ],
        )
        .await;
    assert_eq!(created.status(), StatusCode::OK);
    let html = created.text().await.unwrap();
    assert!(
        html.contains(r#"<code id="destination-secret">whsec_"#),
        "shown once: {html}"
    );

    let s = app.sender("console-dst@acme.example").await;
    app.send_order(&s, "w-1", &order_body(None, "PENDING"))
        .await;
    eventually("the first attempt is made", || async {
        (!sink.received().is_empty()).then_some(())
    })
    .await;
    let listed = app.admin_get("/api/v1/admin/destinations").await;
    let id = listed.body["items"][0]["destination_id"]
        .as_str()
        .unwrap()
        .to_string();
    let item = eventually("the failed attempt is recorded", || async {
        let items = deliveries_of(&app, &id).await;
        (items.first()?["attempts"] == 1).then(|| items[0].clone())
    })
    .await;
    let page = admin.page(&format!("/admin/destinations/{id}")).await;
    assert!(page.contains("Warehouse") && page.contains("503"), "{page}");
    assert!(
        page.contains(r#"aria-label="Attempts per hour""#),
        "the chart: {page}"
    );
    assert!(
        !page.contains("destination-secret"),
        "the secret is not shown again"
    );
    let delivery = admin
        .page(&format!(
            "/admin/deliveries/{}",
            item["delivery_id"].as_str().unwrap()
        ))
        .await;
    assert!(
        delivery.contains("503") && delivery.contains("ok"),
        "{delivery}"
    );
    let event = admin
        .page(&format!(
            "/admin/events/{}",
            item["event_id"].as_str().unwrap()
        ))
        .await;
    assert!(
        event.contains(item["delivery_id"].as_str().unwrap()),
        "the event lists its deliveries"
    );
    let pending = admin.page("/admin/deliveries?status=pending").await;
    assert!(
        pending.contains(item["event_id"].as_str().unwrap()),
        "{pending}"
    );

    let disabled = admin
        .post_form(
            &format!("/admin/destinations/{id}/disable"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(disabled.status(), StatusCode::SEE_OTHER);
    assert!(
        admin
            .page(&format!("/admin/destinations/{id}"))
            .await
            .contains(r#"id="destination-state">disabled"#)
    );
}

/// The real binary, killed with SIGKILL when dropped.
struct Process(std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_binary(data_dir: &std::path::Path) -> (Process, u16) {
    let child = std::process::Command::new(BIN)
        .arg("--data-dir")
        .arg(data_dir)
        .args([
            "--bind",
            "127.0.0.1:0",
            "--destination-allow",
            "127.0.0.1/32",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let process = Process(child);
    for _ in 0..400 {
        if let Some(port) = crate::logging::listening_port(process.0.id()) {
            return (process, port);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("the server did not listen");
}

/// Events acknowledged before a kill -9 are all delivered after the restart, each once: the
/// delivery rows were committed with the events.
#[tokio::test]
async fn acknowledged_events_are_delivered_after_a_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let token = create_admin(dir.path(), "ops@example.com");
    let (sink, sink_port) = Sink::start().await;
    let client = reqwest::Client::new();
    let (server, port) = start_binary(dir.path());
    let base = format!("http://127.0.0.1:{port}");
    let admin = |path: &str| format!("{base}/api/v1/admin{path}");
    let created = client
        .post(admin("/sources"))
        .bearer_auth(&token)
        .json(&json!({"slug": "gh", "kind": "github", "secret": "s3cret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    // Disabled, so that every delivery is still waiting when the server is killed.
    let destination: Value = client
        .post(admin("/destinations"))
        .bearer_auth(&token)
        .json(&json!({"name": "Later", "url": format!("http://127.0.0.1:{sink_port}/"), "enabled": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = destination["destination_id"].as_str().unwrap().to_string();
    for n in 0..20 {
        let body = format!(r#"{{"n":{n}}}"#);
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"s3cret");
        let sig = hex::encode(ring::hmac::sign(&key, body.as_bytes()));
        let res = client
            .post(format!("{base}/in/gh"))
            .header("X-GitHub-Event", "push")
            .header("X-GitHub-Delivery", format!("d-{n}"))
            .header("X-Hub-Signature-256", format!("sha256={sig}"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "acknowledged");
    }
    // SIGKILL: no shutdown, no flush.
    drop(server);

    let (_server, port) = start_binary(dir.path());
    let base = format!("http://127.0.0.1:{port}");
    let enabled = client
        .patch(format!("{base}/api/v1/admin/destinations/{id}"))
        .bearer_auth(&token)
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), StatusCode::OK);
    eventually("all 20 acknowledged events arrive", || async {
        (sink.received().len() >= 20).then_some(())
    })
    .await;
    let ids: std::collections::BTreeSet<String> = sink
        .received()
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 20, "each event once");
}

#[tokio::test]
async fn retention_keeps_events_with_pending_or_failed_deliveries_and_drops_finished_ones() {
    let app = spawn_app_with(|o| {
        o.destination_allow = Some("127.0.0.1/32".into());
        o.jobs_interval = Some("100ms".into());
    })
    .await;
    let (sink, port) = Sink::start().await;
    let live = destination(
        &app,
        json!({"name": "Live", "url": format!("http://127.0.0.1:{port}/"), "topics": ["order.created"]}),
    )
    .await;
    let paused = destination(
        &app,
        json!({"name": "Paused", "url": format!("http://127.0.0.1:{port}/"),
               "topics": ["order.updated"], "enabled": false}),
    )
    .await;
    let (live, paused) = (
        live["destination_id"].as_str().unwrap().to_string(),
        paused["destination_id"].as_str().unwrap().to_string(),
    );
    let s = app.sender("retained@acme.example").await;
    // order.created goes to Live and succeeds; order.updated waits for Paused.
    app.send_order(&s, "w-1", &order_body(Some("r"), "PENDING"))
        .await;
    app.send_order(&s, "w-2", &order_body(Some("r"), "SHIPPED"))
        .await;
    eventually("the created event is delivered", || async {
        let items = deliveries_of(&app, &live).await;
        (items.first()?["status"] == "succeeded").then_some(())
    })
    .await;

    app.advance(days(31));
    eventually(
        "retention drops the delivered event with its delivery",
        || async {
            let events = app.admin_get("/api/v1/admin/events").await;
            let items = events.body["items"].as_array()?.clone();
            (items.len() == 1 && deliveries_of(&app, &live).await.is_empty()).then_some(items)
        },
    )
    .await;
    let kept = deliveries_of(&app, &paused).await;
    assert_eq!(kept.len(), 1);
    assert_eq!(
        kept[0]["status"], "pending",
        "a waiting delivery is never dropped"
    );

    // Once enabled it is delivered with its body, a month late but whole.
    let enabled = app
        .admin_patch(
            &format!("/api/v1/admin/destinations/{paused}"),
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(enabled.status, StatusCode::OK);
    let last = eventually("the kept event is delivered", || async {
        sink.received()
            .into_iter()
            .find(|r| r.header("hookgate-topic") == Some("order.updated"))
    })
    .await;
    assert_eq!(last.header("hookgate-topic"), Some("order.updated"));
    assert!(!last.body.is_empty());
    // Now finished, it goes at the next run, with its delivery.
    eventually("the event goes once its delivery finished", || async {
        let events = app.admin_get("/api/v1/admin/events").await;
        let gone = events.body["items"].as_array()?.is_empty()
            && deliveries_of(&app, &paused).await.is_empty();
        gone.then_some(())
    })
    .await;
}

#[tokio::test]
async fn the_console_replays_dead_letters_after_showing_their_count_retries_and_redelivers() {
    let app = spawn().await;
    let (sink, port) = Sink::start().await;
    sink.answer(&[500, 500]);
    let d = destination(
        &app,
        json!({"name": "Dead end", "url": format!("http://127.0.0.1:{port}/"),
               "retry": {"strategy": "fixed", "max_attempts": 1, "base_delay": "1s"}}),
    )
    .await;
    let id = d["destination_id"].as_str().unwrap().to_string();
    let s = app.sender("console-recover@acme.example").await;
    app.send_order(&s, "w-1", &order_body(None, "PENDING"))
        .await;
    app.send_order(&s, "w-2", &order_body(None, "PENDING"))
        .await;
    eventually("both become dead letters", || async {
        let items = deliveries_of(&app, &id).await;
        (items.len() == 2 && items.iter().all(|i| i["status"] == "failed")).then_some(())
    })
    .await;

    let admin = app.admin_browser().await;
    let page = admin.page(&format!("/admin/destinations/{id}")).await;
    assert!(page.contains("Replay the 2 dead letters"), "{page}");
    let csrf = csrf_in(&page);
    let counted = admin
        .post_form(
            &format!("/admin/destinations/{id}/replay"),
            &[("csrf", &csrf)],
        )
        .await;
    let html = counted.text().await.unwrap();
    assert!(
        html.contains("<strong>2</strong> failed deliveries"),
        "{html}"
    );
    assert_eq!(sink.received().len(), 2, "counting sends nothing");
    let replayed = admin
        .post_form(
            &format!("/admin/destinations/{id}/replay"),
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(replayed.status(), StatusCode::SEE_OTHER);
    eventually("the replay delivers both", || async {
        let items = deliveries_of(&app, &id).await;
        items
            .iter()
            .all(|i| i["status"] == "succeeded")
            .then_some(())
    })
    .await;

    // Redeliver an event from its page: a new delivery, the same webhook-id.
    let items = deliveries_of(&app, &id).await;
    let event_id = items[0]["event_id"].as_str().unwrap().to_string();
    let redelivered = admin
        .post_form(
            &format!("/admin/events/{event_id}/redeliver"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(redelivered.status(), StatusCode::SEE_OTHER);
    eventually("the redelivery arrives", || async {
        let n = sink
            .received()
            .iter()
            .filter(|r| r.header("webhook-id") == Some(event_id.as_str()))
            .count();
        (n >= 3).then_some(())
    })
    .await;

    // Retry from a delivery's page.
    sink.answer(&[500]);
    app.send_order(&s, "w-3", &order_body(None, "PENDING"))
        .await;
    let dead = eventually("a new dead letter", || async {
        let items = deliveries_of(&app, &id).await;
        items
            .iter()
            .find(|i| i["status"] == "failed")
            .map(|i| i["delivery_id"].as_str().unwrap().to_string())
    })
    .await;
    let page = admin.page(&format!("/admin/deliveries/{dead}")).await;
    assert!(page.contains("retry-delivery"), "{page}");
    let retried = admin
        .post_form(
            &format!("/admin/deliveries/{dead}/retry"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(retried.status(), StatusCode::SEE_OTHER);
    eventually("the retry succeeds", || async {
        let items = deliveries_of(&app, &id).await;
        items
            .iter()
            .all(|i| i["status"] == "succeeded")
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn the_console_edits_a_destinations_settings_and_shows_every_error_at_once() {
    let app = spawn().await;
    let (_sink, port) = Sink::start().await;
    let d = destination(
        &app,
        json!({"name": "Editable", "url": format!("http://127.0.0.1:{port}/")}),
    )
    .await;
    let id = d["destination_id"].as_str().unwrap().to_string();
    let admin = app.admin_browser().await;
    let form = admin.page(&format!("/admin/destinations/{id}/edit")).await;
    assert!(form.contains(r#"value="standard" selected"#), "{form}");
    let csrf = csrf_in(&form);
    let url = format!("http://127.0.0.1:{port}/v2");
    let fields = |strategy: &'static str, attempts: &'static str, threshold: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "Edited".to_string()),
            ("url", url.clone()),
            ("sources", "orders".to_string()),
            ("topics", "order.*".to_string()),
            ("timeout", "5s".to_string()),
            ("strategy", strategy.to_string()),
            ("max_attempts", attempts.to_string()),
            ("base_delay", "10s".to_string()),
            ("max_delay", "1h".to_string()),
            ("failure_threshold", threshold.to_string()),
            ("cooldown", "2m".to_string()),
        ]
    };
    let bad = fields("fixed", "many", "0");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = admin
        .post_form(&format!("/admin/destinations/{id}/edit"), &bad)
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("Edited") && html.contains("many"),
        "typed values kept: {html}"
    );
    assert_eq!(html.matches(r#"class="field-error""#).count(), 2, "{html}");

    let good = fields("exponential", "4", "3");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let saved = admin
        .post_form(&format!("/admin/destinations/{id}/edit"), &good)
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let shown = app
        .admin_get(&format!("/api/v1/admin/destinations/{id}"))
        .await;
    assert_eq!(shown.body["name"], "Edited");
    assert_eq!(shown.body["url"], url.as_str());
    assert_eq!(shown.body["topics"], json!(["order.*"]));
    assert_eq!(shown.body["retry"]["strategy"], "exponential");
    assert_eq!(shown.body["retry"]["max_attempts"], 4);
    assert_eq!(shown.body["circuit"]["failure_threshold"], 3);
    assert_eq!(shown.body["timeout"], "5s");
}

#[tokio::test]
async fn retry_after_on_503_delays_the_next_attempt_and_redirects_are_not_followed() {
    let app = spawn().await;
    let (sink, port) = Sink::start().await;
    sink.answer(&[503, 302]);
    let d = destination(
        &app,
        json!({"name": "Busy", "url": format!("http://127.0.0.1:{port}/"),
               "retry": {"strategy": "fixed", "max_attempts": 5, "base_delay": "1s"}}),
    )
    .await;
    let id = d["destination_id"].as_str().unwrap().to_string();
    let s = app.sender("busy@acme.example").await;
    app.send_order(&s, "w-1", &order_body(None, "PENDING"))
        .await;
    eventually("the 503 is recorded", || async {
        let items = deliveries_of(&app, &id).await;
        (items.first()?["last_status_code"] == 503).then_some(())
    })
    .await;
    // The policy would retry after 1 s; Retry-After asked for 120.
    app.advance(Duration::from_secs(30));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.received().len(), 1, "Retry-After is honoured");
    app.advance(Duration::from_secs(100));
    eventually("the 302 is recorded as a failed attempt", || async {
        let items = deliveries_of(&app, &id).await;
        (items.first()?["last_status_code"] == 302).then_some(())
    })
    .await;
    let paths: Vec<String> = sink.received().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/", "/"], "the redirect to /moved is not followed");
    app.advance(Duration::from_secs(5));
    eventually("then it succeeds", || async {
        let items = deliveries_of(&app, &id).await;
        (items.first()?["status"] == "succeeded").then_some(())
    })
    .await;
}

/// The whole dead-letter path: exhaustion, the admins' alert, a replay, delivered; and a
/// destination filtered by source sees only its source's events.
#[tokio::test]
async fn exhausted_attempts_alert_the_admins_and_a_replay_delivers() {
    let app = spawn().await;
    let (sink, port) = Sink::start().await;
    sink.answer(&[500, 500]);
    let d = destination(
        &app,
        json!({"name": "Ledger", "url": format!("http://127.0.0.1:{port}/"), "sources": ["orders"],
               "retry": {"strategy": "fixed", "max_attempts": 2, "base_delay": "10s"}}),
    )
    .await;
    let id = d["destination_id"].as_str().unwrap().to_string();
    app.admin_post(
        "/api/v1/admin/sources",
        json!({"slug": "gh", "kind": "github", "secret": "x"}),
    )
    .await;
    let s = app.sender("ledger@acme.example").await;
    app.send_order(&s, "w-1", &order_body(None, "PENDING"))
        .await;
    eventually("the first attempt fails", || async {
        let items = deliveries_of(&app, &id).await;
        (items.first()?["attempts"] == 1).then_some(())
    })
    .await;
    app.advance(Duration::from_secs(12));
    eventually("the last attempt fails: a dead letter", || async {
        let items = deliveries_of(&app, &id).await;
        (items.first()?["status"] == "failed").then_some(())
    })
    .await;
    let alert = eventually("the admin is emailed", || async {
        let outbox = app
            .admin_get("/api/v1/admin/outbox?to=root@example.com")
            .await;
        outbox
            .body
            .as_array()?
            .iter()
            .find(|e| {
                e["subject"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("hookgate alert"))
            })
            .cloned()
    })
    .await;
    assert!(
        alert["subject"].as_str().unwrap().contains("Ledger"),
        "{alert}"
    );

    let replayed = app
        .admin_post(
            &format!("/api/v1/admin/destinations/{id}/replay"),
            json!({"status": "failed"}),
        )
        .await;
    assert_eq!(replayed.status, StatusCode::ACCEPTED, "{}", replayed.body);
    assert_eq!(replayed.body["matched"], 1);
    eventually("the replay delivers", || async {
        let items = deliveries_of(&app, &id).await;
        (items.first()?["status"] == "succeeded").then_some(())
    })
    .await;
    assert_eq!(
        sink.received().len(),
        3,
        "two attempts and the replay, no github event"
    );
    assert_eq!(deliveries_of(&app, &id).await.len(), 1);
    assert!(
        sink.received()
            .iter()
            .all(|r| r.header("hookgate-source") == Some("orders")),
        "the github source's events do not match this destination"
    );
}
