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
        .client
        .patch(app.url(&format!("/api/v1/admin/destinations/{id}")))
        .bearer_auth(&app.admin_token)
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), StatusCode::OK);
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
