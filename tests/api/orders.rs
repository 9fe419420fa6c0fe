//! Inbound order webhooks, what they do: idempotency of webhook-ids, payload errors, orders and
//! their history, and storage that cannot commit.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_repeated_webhook_id_is_a_duplicate_or_a_conflict() {
    let app = spawn_app().await;
    let s = app.sender("dupe@acme.example").await;
    let body = order_body(None, "PENDING");
    let first = app.send_order(&s, "msg_same", &body).await;
    assert_eq!(first.status, StatusCode::CREATED);
    // The same delivery again, even re-signed later: answered from the first, nothing new.
    let again = app.send_order(&s, "msg_same", &body).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["status"], "duplicate");
    assert_eq!(again.body["order_id"], first.body["order_id"]);
    assert_eq!(again.body["event_id"], first.body["event_id"]);
    // Same id, other body.
    app.send_order(&s, "msg_same", &order_body(None, "SHIPPED"))
        .await
        .assert_error(409, "idempotency_conflict");
    let orders = app.get_as("/api/v1/orders", &s.token).await;
    assert_eq!(orders.body["items"].as_array().unwrap().len(), 1);
    let customer_mails = app
        .admin_get("/api/v1/admin/outbox?to=john@example.com")
        .await;
    assert_eq!(
        customer_mails.body.as_array().unwrap().len(),
        1,
        "one confirmation, not two"
    );
}

#[tokio::test]
async fn concurrent_duplicates_create_exactly_one_order() {
    let app = spawn_app().await;
    let s = app.sender("race@acme.example").await;
    let body = order_body(None, "PENDING");
    let ts = app.now();
    let headers = vec![
        ("X-API-Key", s.key_id.clone()),
        ("webhook-id", "msg_race".to_string()),
        ("webhook-timestamp", ts.to_string()),
        (
            "webhook-signature",
            sign(&s.secret, "msg_race", ts, body.as_bytes()),
        ),
        ("Content-Type", "application/json".to_string()),
    ];
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let client = app.client.clone();
        let url = app.url("/api/v1/webhooks/orders/");
        let headers = headers.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut req = client.post(url).body(body);
            for (n, v) in headers {
                req = req.header(n, v);
            }
            let res = req.send().await.unwrap();
            let status = res.status();
            (status, res.json::<serde_json::Value>().await.unwrap())
        }));
    }
    let mut created = 0;
    let mut order_ids = std::collections::HashSet::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::OK => assert_eq!(body["status"], "duplicate"),
            other => panic!("unexpected {other}: {body}"),
        }
        order_ids.insert(body["order_id"].as_str().unwrap().to_string());
    }
    assert_eq!(created, 1);
    assert_eq!(order_ids.len(), 1);
    let orders = app.get_as("/api/v1/orders", &s.token).await;
    assert_eq!(orders.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn body_type_json_and_schema_errors_have_their_own_codes() {
    let app = spawn_app_with(|o| o.max_body = Some("2KiB".into())).await;
    let s = app.sender("body@acme.example").await;

    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(3000));
    app.send_order(&s, "msg_big", &big)
        .await
        .assert_error(413, "payload_too_large");

    let body = order_body(None, "PENDING");
    let ts = app.now();
    let headers = [
        ("X-API-Key", s.key_id.clone()),
        ("webhook-id", "msg_text".to_string()),
        ("webhook-timestamp", ts.to_string()),
        (
            "webhook-signature",
            sign(&s.secret, "msg_text", ts, body.as_bytes()),
        ),
        ("Content-Type", "text/plain".to_string()),
    ];
    app.post_webhook("/api/v1/webhooks/orders/", &headers, body)
        .await
        .assert_error(415, "unsupported_media_type");

    app.send_order(&s, "msg_broken", "{\"customer_details\": ")
        .await
        .assert_error(400, "invalid_json");

    let invalid = json!({"customer_details": {"name": "", "email": "nope", "phone": "+234"},
        "item_summary": "Phone", "tracking_status": "LOST"})
    .to_string();
    let res = app.send_order(&s, "msg_invalid", &invalid).await;
    res.assert_error(422, "validation_failed");
    let fields = res.violation_fields();
    assert_eq!(
        fields,
        [
            "customer_details.name",
            "customer_details.email",
            "customer_details.phone",
            "address",
            "tracking_status"
        ]
    );

    // The sender fixes the payload and retries with the same webhook-id: accepted.
    let res = app
        .send_order(&s, "msg_invalid", &order_body(None, "PENDING"))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
}

#[tokio::test]
async fn a_merchant_reference_updates_the_existing_order_and_its_history() {
    let app = spawn_app().await;
    let s = app.sender("track@acme.example").await;
    let created = app
        .send_order(&s, "msg_a", &order_body(Some("SO-1"), "PENDING"))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let order_id = created.body["order_id"].as_str().unwrap().to_string();
    let updated = app
        .send_order(&s, "msg_b", &order_body(Some("SO-1"), "SHIPPED"))
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["status"], "updated");
    assert_eq!(updated.body["order_id"], order_id.as_str());
    app.send_order(&s, "msg_c", &order_body(Some("SO-1"), "DELIVERED"))
        .await;

    let order = app
        .get_as(&format!("/api/v1/orders/{order_id}"), &s.token)
        .await;
    assert_eq!(order.status, StatusCode::OK);
    assert_eq!(order.body["tracking_status"], "DELIVERED");
    assert_eq!(order.body["merchant_reference"], "SO-1");
    let history: Vec<&str> = order.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["PENDING", "SHIPPED", "DELIVERED"]);

    // The customer got a confirmation and one email per status change.
    let subjects: Vec<String> = app
        .admin_get("/api/v1/admin/outbox?to=john@example.com")
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(subjects.len(), 3, "{subjects:?}");
    assert!(subjects.iter().any(|s| s.contains("confirmed")));
    assert!(subjects.iter().any(|s| s.contains("shipped")));
}

#[tokio::test]
async fn orders_are_filtered_paginated_and_private_to_their_merchant() {
    let app = spawn_app().await;
    let a = app.sender("a@acme.example").await;
    let b = app.sender("b@other.example").await;
    for i in 0..5 {
        let status = if i % 2 == 0 { "PENDING" } else { "SHIPPED" };
        assert_eq!(
            app.send_order(&a, &format!("a{i}"), &order_body(None, status))
                .await
                .status,
            StatusCode::CREATED
        );
    }
    let b_order = app
        .send_order(&b, "b0", &order_body(None, "PENDING"))
        .await
        .body["order_id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut seen = Vec::new();
    let mut path = "/api/v1/orders?limit=2".to_string();
    loop {
        let page = app.get_as(&path, &a.token).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for o in page.body["items"].as_array().unwrap() {
            seen.push(o["order_id"].as_str().unwrap().to_string());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/orders?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert!(!seen.contains(&b_order));
    let shipped = app.get_as("/api/v1/orders?status=SHIPPED", &a.token).await;
    assert_eq!(shipped.body["items"].as_array().unwrap().len(), 2);
    app.get_as("/api/v1/orders?status=LOST", &a.token)
        .await
        .assert_error(422, "validation_failed");
    // Another merchant's order id is simply not found.
    app.get_as(&format!("/api/v1/orders/{b_order}"), &a.token)
        .await
        .assert_error(404, "order_not_found");
    // B's key with A's secret does not verify.
    let res = app
        .send_signed(
            &b,
            &a.secret,
            "cross",
            app.now(),
            &order_body(None, "PENDING"),
        )
        .await;
    res.assert_error(401, "invalid_signature");
}

#[tokio::test]
async fn storage_that_cannot_commit_answers_503_and_recovers() {
    let app = spawn_app().await;
    let s = app.sender("disk@acme.example").await;
    let body = order_body(None, "PENDING");
    // Another process holds the write lock longer than the busy timeout.
    let blocker = rusqlite::Connection::open(app.data_dir.join("hookgate.db")).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let res = app.send_order(&s, "held", &body).await;
    res.assert_error(503, "storage_unavailable");
    assert!(res.headers.contains_key("retry-after"));
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);

    // Readiness tells the truth: not ready for a while after a failed commit, even though a
    // probe write would now fit, then ready again.
    let readyz =
        || async { Res::from(app.client.get(app.url("/readyz")).send().await.unwrap()).await };
    readyz().await.assert_error(503, "storage_unavailable");
    app.advance(std::time::Duration::from_secs(11));
    assert_eq!(readyz().await.status, StatusCode::OK);

    // Nothing was stored, so the sender's retry of the same webhook is a fresh success.
    let res = app.send_order(&s, "held", &body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let orders = app.get_as("/api/v1/orders", &s.token).await;
    assert_eq!(orders.body["items"].as_array().unwrap().len(), 1);
}
