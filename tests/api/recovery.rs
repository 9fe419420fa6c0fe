//! Sending deliveries again (CONTRACT section 10): retry one delivery, replay a destination's
//! deliveries, redeliver an event; each an audit entry. The destination is the test's `Sink`.

use crate::helpers::*;
use hookgate::clock::rfc3339;
use serde_json::{Value, json};
use std::time::Duration;

/// A destination that gives every delivery one attempt, so a failure is final at once, and whose
/// circuit stays closed however many fail.
async fn one_attempt_destination(app: &TestApp, port: u16, path: &str) -> String {
    let d = destination(
        app,
        json!({"name": "One shot", "url": format!("http://127.0.0.1:{port}{path}"),
               "retry": {"strategy": "fixed", "max_attempts": 1, "base_delay": "1s"},
               "circuit": {"failure_threshold": 50, "cooldown": "60s"}}),
    )
    .await;
    d["destination_id"].as_str().unwrap().to_string()
}

/// Wait until the destination has `n` deliveries, all in `status`; returns them.
async fn all_in(app: &TestApp, destination_id: &str, n: usize, status: &str) -> Vec<Value> {
    eventually(&format!("{n} deliveries {status}"), || async {
        let items = deliveries_of(app, destination_id).await;
        (items.len() == n && items.iter().all(|d| d["status"] == status)).then_some(items)
    })
    .await
}

/// The audit entries with `action`, newest first.
async fn audited(app: &TestApp, action: &str) -> Vec<Value> {
    let res = app.admin_get("/api/v1/admin/audit?limit=100").await;
    assert_eq!(res.status, reqwest::StatusCode::OK, "{}", res.body);
    res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == action)
        .cloned()
        .collect()
}

fn id_of(delivery: &Value) -> &str {
    delivery["delivery_id"].as_str().unwrap()
}

#[tokio::test]
async fn recovery_retry_sends_a_dead_letter_again_now_with_fresh_attempts() {
    let app = spawn().await;
    let (sink, port) = Sink::start().await;
    sink.answer(&[500]);
    let dst = one_attempt_destination(&app, port, "/").await;
    let s = app.sender("retry@acme.example").await;
    let sent = app
        .send_order(&s, "w-1", &order_body(None, "PENDING"))
        .await;
    let event_id = sent.body["event_id"].as_str().unwrap().to_string();
    let dead = all_in(&app, &dst, 1, "failed").await;
    let delivery_id = id_of(&dead[0]).to_string();
    assert_eq!(dead[0]["attempts"], 1);
    assert_eq!(dead[0]["last_status_code"], 500);

    let res = app
        .admin_post(
            &format!("/api/v1/admin/deliveries/{delivery_id}/retry"),
            json!({}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 202, "{}", res.body);
    assert_eq!(res.body["status"], "pending");

    let done = all_in(&app, &dst, 1, "succeeded").await;
    assert_eq!(done[0]["attempts"], 1, "a fresh set of attempts");
    let received = sink.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].header("webhook-id"), Some(event_id.as_str()));
    assert_eq!(received[1].header("hookgate-attempt"), Some("1"));
    let detail = app
        .admin_get(&format!("/api/v1/admin/deliveries/{delivery_id}"))
        .await;
    let log = detail.body["attempt_log"].as_array().unwrap();
    assert_eq!(log.len(), 2, "the log keeps both attempts: {}", detail.body);
    assert_eq!(log[0]["status_code"], 500);
    assert_eq!(log[1]["status_code"], 200);

    let entries = audited(&app, "delivery.retried").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["actor"], "admin:root@example.com");
    assert_eq!(entries[0]["target"], delivery_id.as_str());
    assert_eq!(entries[0]["details"]["previous_status"], "failed");
}

#[tokio::test]
async fn recovery_retry_sends_a_delivery_waiting_for_its_next_attempt_now() {
    let app = spawn().await;
    let (sink, port) = Sink::start().await;
    sink.answer(&[500]);
    let d = destination(
        &app,
        json!({"name": "Slow retries", "url": format!("http://127.0.0.1:{port}/"),
               "retry": {"strategy": "fixed", "max_attempts": 3, "base_delay": "1h"}}),
    )
    .await;
    let dst = d["destination_id"].as_str().unwrap().to_string();
    let s = app.sender("waiting@acme.example").await;
    app.send_order(&s, "w-1", &order_body(None, "PENDING"))
        .await;
    let waiting = eventually("the first attempt fails", || async {
        let items = deliveries_of(&app, &dst).await;
        (items.first()?["attempts"] == 1).then(|| items[0].clone())
    })
    .await;
    assert_eq!(waiting["status"], "pending");

    let res = app
        .admin_post(
            &format!("/api/v1/admin/deliveries/{}/retry", id_of(&waiting)),
            json!({}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 202, "{}", res.body);
    let done = all_in(&app, &dst, 1, "succeeded").await;
    assert_eq!(done[0]["attempts"], 1, "counted afresh from the retry");
    assert_eq!(sink.received().len(), 2, "sent without waiting the hour");
}

#[tokio::test]
async fn recovery_retrying_a_succeeded_delivery_is_a_conflict() {
    let app = spawn().await;
    let (sink, port) = Sink::start().await;
    let dst = one_attempt_destination(&app, port, "/").await;
    let s = app.sender("twice@acme.example").await;
    app.send_order(&s, "w-1", &order_body(None, "PENDING"))
        .await;
    let done = all_in(&app, &dst, 1, "succeeded").await;
    app.admin_post(
        &format!("/api/v1/admin/deliveries/{}/retry", id_of(&done[0])),
        json!({}),
    )
    .await
    .assert_error(409, "delivery_not_retryable");
    assert_eq!(sink.received().len(), 1, "nothing is sent again");
    assert!(audited(&app, "delivery.retried").await.is_empty());
}

#[tokio::test]
async fn recovery_replay_dry_run_counts_a_window_then_the_replay_sends_them_again() {
    let app = spawn().await;
    let (sink, port) = Sink::start().await;
    sink.answer(&[500; 5]);
    let dst = one_attempt_destination(&app, port, "/").await;
    let s = app.sender("replay@acme.example").await;
    let body = order_body(None, "PENDING");
    app.send_order(&s, "early-1", &body).await;
    app.send_order(&s, "early-2", &body).await;
    all_in(&app, &dst, 2, "failed").await;
    app.advance(Duration::from_secs(3600));
    let since = app.now();
    for id in ["late-1", "late-2", "late-3"] {
        app.send_order(&s, id, &body).await;
    }
    all_in(&app, &dst, 5, "failed").await;
    let replay = format!("/api/v1/admin/destinations/{dst}/replay");

    // The window holds the three late dead letters; a dry run counts them and changes nothing.
    let window = json!({"since": rfc3339(since), "until": since + 600, "dry_run": true});
    let res = app.admin_post(&replay, window).await;
    assert_eq!(res.status.as_u16(), 202, "{}", res.body);
    assert_eq!(res.body["matched"], 3);
    assert_eq!(
        deliveries_of(&app, &dst)
            .await
            .iter()
            .filter(|d| d["status"] == "failed")
            .count(),
        5
    );
    assert_eq!(sink.received().len(), 5, "a dry run sends nothing");

    let res = app
        .admin_post(&replay, json!({"since": since, "until": since + 600}))
        .await;
    assert_eq!(res.status.as_u16(), 202, "{}", res.body);
    assert_eq!(res.body["matched"], 3);
    eventually(
        "the late three succeed, the early two stay failed",
        || async {
            let items = deliveries_of(&app, &dst).await;
            let succeeded = items.iter().filter(|d| d["status"] == "succeeded").count();
            let failed = items.iter().filter(|d| d["status"] == "failed").count();
            (succeeded == 3 && failed == 2).then_some(())
        },
    )
    .await;

    // Without a window (and with the default status, failed) the rest go too.
    let res = app.admin_post(&replay, json!({})).await;
    assert_eq!(res.body["matched"], 2, "{}", res.body);
    let done = all_in(&app, &dst, 5, "succeeded").await;
    assert!(done.iter().all(|d| d["attempts"] == 1), "{done:?}");
    assert_eq!(sink.received().len(), 10, "each dead letter sent once more");

    let entries = audited(&app, "destination.replayed").await;
    assert_eq!(
        entries.len(),
        2,
        "dry runs change nothing and are not audited"
    );
    assert_eq!(entries[1]["target"], dst.as_str());
    assert_eq!(entries[1]["details"]["status"], "failed");
    assert!(entries[1]["details"]["since"].as_str().is_some());
}

#[tokio::test]
async fn recovery_replay_reports_every_invalid_field_at_once() {
    let app = spawn().await;
    let (_sink, port) = Sink::start().await;
    let dst = one_attempt_destination(&app, port, "/").await;
    let replay = format!("/api/v1/admin/destinations/{dst}/replay");
    let res = app
        .admin_post(
            &replay,
            json!({"status": "sometimes", "since": "last tuesday", "dry_run": "yes",
                   "colour": "blue"}),
        )
        .await;
    res.assert_error(422, "validation_failed");
    let fields = res.violation_fields();
    for field in ["status", "since", "dry_run", "colour"] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    let res = app
        .admin_post(
            &replay,
            json!({"status": "cancelled", "since": "2025-03-01T00:00:00Z",
                   "until": "2025-02-01T00:00:00Z"}),
        )
        .await;
    res.assert_error(422, "validation_failed");
    assert_eq!(res.violation_fields(), ["status", "until"]);
}

#[tokio::test]
async fn recovery_redeliver_sends_an_event_to_every_destination_matching_it_now() {
    let app = spawn().await;
    let (sink, port) = Sink::start().await;
    let first = one_attempt_destination(&app, port, "/first").await;
    let s = app.sender("redeliver@acme.example").await;
    let sent = app
        .send_order(&s, "w-1", &order_body(None, "PENDING"))
        .await;
    let event_id = sent.body["event_id"].as_str().unwrap().to_string();
    let original = all_in(&app, &first, 1, "succeeded").await;
    // Created after the event: it matches it now. The third matches another topic.
    let second = one_attempt_destination(&app, port, "/second").await;
    destination(
        &app,
        json!({"name": "Payments", "url": format!("http://127.0.0.1:{port}/payments"),
               "topics": ["payment.*"]}),
    )
    .await;

    let res = app
        .admin_post(
            &format!("/api/v1/admin/events/{event_id}/redeliver"),
            json!({}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 202, "{}", res.body);
    let made = res.body["deliveries"].as_array().unwrap();
    let mut targets: Vec<&str> = made
        .iter()
        .map(|d| d["destination_id"].as_str().unwrap())
        .collect();
    targets.sort_unstable();
    let mut expected = [first.as_str(), second.as_str()];
    expected.sort_unstable();
    assert_eq!(targets, expected, "{}", res.body);

    assert!(
        made.iter()
            .all(|d| d["delivery_id"] != original[0]["delivery_id"]),
        "new deliveries, not the old one again"
    );
    all_in(&app, &first, 2, "succeeded").await;
    all_in(&app, &second, 1, "succeeded").await;
    let received = sink.received();
    assert_eq!(received.len(), 3);
    let mut paths: Vec<&str> = received.iter().map(|r| r.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["/first", "/first", "/second"]);
    assert!(
        received
            .iter()
            .all(|r| r.header("webhook-id") == Some(event_id.as_str())),
        "the same webhook-id on every delivery of the event"
    );

    let entries = audited(&app, "event.redelivered").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["target"], event_id.as_str());
    assert_eq!(entries[0]["actor"], "admin:root@example.com");
    assert_eq!(
        entries[0]["details"]["deliveries"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn recovery_a_rejected_event_is_not_redelivered() {
    let app = spawn().await;
    let s = app.sender("rejected@acme.example").await;
    app.send_order(&s, "bad-1", r#"{"item_summary": 5}"#)
        .await
        .assert_error(422, "validation_failed");
    let events = app
        .admin_get(&format!(
            "/api/v1/admin/events?merchant_id={}&status=rejected",
            s.merchant_id
        ))
        .await;
    let event_id = events.body["items"][0]["event_id"]
        .as_str()
        .unwrap()
        .to_string();
    app.admin_post(
        &format!("/api/v1/admin/events/{event_id}/redeliver"),
        json!({}),
    )
    .await
    .assert_error(409, "event_not_accepted");
}

#[tokio::test]
async fn recovery_unknown_ids_are_404() {
    let app = spawn_app().await;
    app.admin_post("/api/v1/admin/deliveries/dlv_nope/retry", json!({}))
        .await
        .assert_error(404, "delivery_not_found");
    app.admin_post("/api/v1/admin/destinations/dst_nope/replay", json!({}))
        .await
        .assert_error(404, "destination_not_found");
    app.admin_post("/api/v1/admin/events/evt_nope/redeliver", json!({}))
        .await
        .assert_error(404, "event_not_found");
    // Admins only.
    let res = app
        .post_as("/api/v1/admin/events/evt_nope/redeliver", "nope", json!({}))
        .await;
    res.assert_error(401, "unauthorized");
}
