//! Inbound order webhooks: verification, idempotency, every rejection of the contract, orders.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

#[test]
fn the_test_signer_matches_the_specification_vector() {
    assert_eq!(
        sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#
        ),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
}

#[tokio::test]
async fn a_signed_order_is_accepted_with_and_without_the_trailing_slash() {
    let app = spawn_app().await;
    let s = app.sender("shop@acme.example").await;
    let res = app
        .send_order(&s, "msg_1", &order_body(None, "PENDING"))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["status"], "success");
    assert!(res.body["order_id"].as_str().unwrap().starts_with("ord_"));
    assert!(res.body["event_id"].as_str().unwrap().starts_with("evt_"));

    let body = order_body(None, "PROCESSING");
    let ts = unix_now();
    let headers = [
        ("X-API-Key", s.key_id.clone()),
        ("webhook-id", "msg_2".to_string()),
        ("webhook-timestamp", ts.to_string()),
        (
            "webhook-signature",
            sign(&s.secret, "msg_2", ts, body.as_bytes()),
        ),
        (
            "Content-Type",
            "application/json; charset=utf-8".to_string(),
        ),
    ];
    let res = app
        .post_webhook("/api/v1/webhooks/orders", &headers, body)
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);

    let orders = app.get_as("/api/v1/orders", &s.token).await;
    assert_eq!(orders.body["items"].as_array().unwrap().len(), 2);
}

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
    let ts = unix_now();
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
async fn missing_headers_unknown_keys_and_bad_signatures_are_refused() {
    let app = spawn_app_with(|o| o.ip_rate = Some("1000/s".into())).await;
    let s = app.sender("strict@acme.example").await;
    let body = order_body(None, "PENDING");
    let ts = unix_now();
    let good_sig = sign(&s.secret, "msg_x", ts, body.as_bytes());
    let full = |skip: &str| -> Vec<(&'static str, String)> {
        [
            ("X-API-Key", s.key_id.clone()),
            ("webhook-id", "msg_x".to_string()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", good_sig.clone()),
            ("Content-Type", "application/json".to_string()),
        ]
        .into_iter()
        .filter(|(n, _)| *n != skip)
        .collect()
    };
    for missing in [
        "X-API-Key",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    ] {
        let res = app
            .post_webhook("/api/v1/webhooks/orders/", &full(missing), body.clone())
            .await;
        res.assert_error(401, "missing_signature");
        assert!(res.body["message"].as_str().unwrap().contains(missing));
    }
    let mut unknown = full("");
    unknown[0].1 = "hgk_000000000000000000000000".into();
    app.post_webhook("/api/v1/webhooks/orders/", &unknown, body.clone())
        .await
        .assert_error(401, "invalid_api_key");

    // A flipped byte in the body, a signature made with another key, a garbage signature.
    let mut flipped = body.clone().into_bytes();
    flipped[10] ^= 1;
    app.post_webhook("/api/v1/webhooks/orders/", &full(""), flipped)
        .await
        .assert_error(401, "invalid_signature");
    let other = app.sender("other@acme.example").await;
    app.send_signed(&s, &other.secret, "msg_y", ts, &body)
        .await
        .assert_error(401, "invalid_signature");
    let mut garbage = full("");
    garbage[3].1 = "v1,not-base64!!".into();
    app.post_webhook("/api/v1/webhooks/orders/", &garbage, body.clone())
        .await
        .assert_error(401, "invalid_signature");
    // Unknown versions are ignored; one valid v1 among several suffices.
    let mut several = full("");
    several[3].1 = format!("v2,abc v1,bm9wZQ== {good_sig}");
    let res = app
        .post_webhook("/api/v1/webhooks/orders/", &several, body.clone())
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let mut only_v2 = full("");
    only_v2[1].1 = "msg_v2".into();
    only_v2[3].1 = sign(&s.secret, "msg_v2", ts, body.as_bytes()).replace("v1,", "v2,");
    app.post_webhook("/api/v1/webhooks/orders/", &only_v2, body)
        .await
        .assert_error(401, "invalid_signature");
}

#[tokio::test]
async fn timestamps_outside_the_tolerance_are_refused_both_ways() {
    let app = spawn_app_with(|o| o.timestamp_tolerance = Some("5m".into())).await;
    let s = app.sender("clock@acme.example").await;
    let body = order_body(None, "PENDING");
    let now = unix_now();
    app.send_signed(&s, &s.secret, "msg_old", now - 301, &body)
        .await
        .assert_error(401, "timestamp_out_of_tolerance");
    app.send_signed(&s, &s.secret, "msg_new", now + 301, &body)
        .await
        .assert_error(401, "timestamp_out_of_tolerance");
    let res = app
        .send_signed(&s, &s.secret, "msg_edge", now - 280, &body)
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let headers = [
        ("X-API-Key", s.key_id.clone()),
        ("webhook-id", "msg_nan".to_string()),
        ("webhook-timestamp", "yesterday".to_string()),
        (
            "webhook-signature",
            sign(&s.secret, "msg_nan", now, body.as_bytes()),
        ),
        ("Content-Type", "application/json".to_string()),
    ];
    app.post_webhook("/api/v1/webhooks/orders/", &headers, body)
        .await
        .assert_error(401, "timestamp_out_of_tolerance");
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
    let ts = unix_now();
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
    let fields: Vec<&str> = res.body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
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
            unix_now(),
            &order_body(None, "PENDING"),
        )
        .await;
    res.assert_error(401, "invalid_signature");
}

#[tokio::test]
async fn during_rotation_both_secrets_verify_until_the_grace_ends() {
    let app = spawn_app_with(|o| {
        o.secret_grace = Some("2s".into());
        o.jobs_interval = Some("1h".into());
    })
    .await;
    let s = app.sender("rotate@acme.example").await;
    let old = s.secret.clone();
    let rotated = app
        .post_as("/api/v1/webhook/secret/", &s.token, json!({}))
        .await;
    let new = rotated.body["secret_key"].as_str().unwrap().to_string();
    let body = order_body(None, "PENDING");

    // A sender mid-rotation signs with both; either alone also works during the grace.
    let ts = unix_now();
    let both = format!(
        "{} {}",
        sign(&old, "r1", ts, body.as_bytes()),
        sign(&new, "r1", ts, body.as_bytes())
    );
    let headers = [
        ("X-API-Key", s.key_id.clone()),
        ("webhook-id", "r1".to_string()),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", both),
        ("Content-Type", "application/json".to_string()),
    ];
    assert_eq!(
        app.post_webhook("/api/v1/webhooks/orders/", &headers, body.clone())
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.send_signed(&s, &old, "r2", unix_now(), &body)
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.send_signed(&s, &new, "r3", unix_now(), &body)
            .await
            .status,
        StatusCode::CREATED
    );

    tokio::time::sleep(Duration::from_millis(2300)).await;
    let res = app.send_signed(&s, &old, "r4", unix_now(), &body).await;
    res.assert_error(401, "secret_expired");
    assert_eq!(
        app.send_signed(&s, &new, "r5", unix_now(), &body)
            .await
            .status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_signature_under_an_expired_secret_is_answered_and_a_fresh_secret_issued() {
    let app = spawn_app_with(|o| {
        o.secret_ttl = Some("2s".into());
        o.rotate_before = Some("1s".into());
        o.jobs_interval = Some("1h".into()); // the rotation job stays out of the way
    })
    .await;
    let s = app.sender("expired@acme.example").await;
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let body = order_body(None, "PENDING");
    let res = app
        .send_signed(&s, &s.secret, "e1", unix_now(), &body)
        .await;
    res.assert_error(401, "secret_expired");
    assert!(
        res.body["message"]
            .as_str()
            .unwrap()
            .contains("a new secret has been generated")
    );

    let fresh = app.get_as("/api/v1/webhook/secret/", &s.token).await;
    assert_eq!(fresh.body["is_active"], true);
    let fresh_secret = fresh.body["secret_key"].as_str().unwrap().to_string();
    assert_ne!(fresh_secret, s.secret);
    assert_eq!(
        app.send_signed(&s, &fresh_secret, "e2", unix_now(), &body)
            .await
            .status,
        StatusCode::CREATED
    );
    let subjects: Vec<String> = app
        .admin_get("/api/v1/admin/outbox?to=expired@acme.example")
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap().to_string())
        .collect();
    assert!(
        subjects
            .iter()
            .any(|s| s.contains("expired and was replaced")),
        "{subjects:?}"
    );
}

#[tokio::test]
async fn a_revoked_merchant_is_refused_at_once() {
    let app = spawn_app().await;
    let s = app.sender("revoked@acme.example").await;
    let body = order_body(None, "PENDING");
    assert_eq!(
        app.send_order(&s, "v1", &body).await.status,
        StatusCode::CREATED
    );
    app.admin_post(
        &format!("/api/v1/admin/merchants/{}/revoke", s.merchant_id),
        json!({"reason": "fraud"}),
    )
    .await;
    app.send_order(&s, "v2", &body)
        .await
        .assert_error(403, "kyc_not_approved");
}

#[tokio::test]
async fn merchants_over_their_rate_get_429_with_retry_after() {
    let app = spawn_app_with(|o| o.merchant_rate = Some("3/s".into())).await;
    let s = app.sender("busy@acme.example").await;
    let body = order_body(None, "PENDING");
    let mut limited = None;
    for i in 0..10 {
        let res = app.send_order(&s, &format!("rl{i}"), &body).await;
        if res.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(res);
            break;
        }
        assert_eq!(res.status, StatusCode::CREATED);
    }
    let res = limited.expect("the 4th request within a second is limited");
    res.assert_error(429, "rate_limited");
    assert!(
        res.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    // Another merchant is not affected.
    let other = app.sender("calm@acme.example").await;
    assert_eq!(
        app.send_order(&other, "c1", &body).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn an_ip_sending_failing_requests_is_slowed_down() {
    let app = spawn_app_with(|o| o.ip_rate = Some("3/s".into())).await;
    let s = app.sender("victim@acme.example").await;
    let body = order_body(None, "PENDING");
    let mut statuses = Vec::new();
    for i in 0..6 {
        let res = app
            .send_signed(
                &s,
                "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                &format!("bad{i}"),
                unix_now(),
                &body,
            )
            .await;
        statuses.push(res.status.as_u16());
    }
    assert_eq!(&statuses[..3], [401, 401, 401], "{statuses:?}");
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    // While over the budget, even a valid request from that IP waits.
    let res = app.send_order(&s, "good", &body).await;
    res.assert_error(429, "rate_limited");
    assert!(res.headers.contains_key("retry-after"));
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

    // Nothing was stored, so the sender's retry of the same webhook is a fresh success.
    let res = app.send_order(&s, "held", &body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let orders = app.get_as("/api/v1/orders", &s.token).await;
    assert_eq!(orders.body["items"].as_array().unwrap().len(), 1);
}
