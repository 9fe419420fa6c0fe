//! Inbound order webhooks, who may send them: signatures, timestamps, secrets in rotation and
//! after expiry, revoked merchants, and rate limits.

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
    let ts = app.now();
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
async fn missing_headers_unknown_keys_and_bad_signatures_are_refused() {
    let app = spawn_app_with(|o| o.ip_rate = Some("1000/s".into())).await;
    let s = app.sender("strict@acme.example").await;
    let body = order_body(None, "PENDING");
    let ts = app.now();
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
    let now = app.now();
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
async fn during_rotation_both_secrets_verify_until_the_grace_ends() {
    let app = spawn_app_with(|o| {
        o.secret_grace = Some("24h".into());
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
    let ts = app.now();
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
        app.send_signed(&s, &old, "r2", app.now(), &body)
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.send_signed(&s, &new, "r3", app.now(), &body)
            .await
            .status,
        StatusCode::CREATED
    );

    // A minute before the 24 h grace ends the old secret still verifies; a second after, not.
    app.advance(hours(24) - minutes(1));
    assert_eq!(
        app.send_signed(&s, &old, "r4", app.now(), &body)
            .await
            .status,
        StatusCode::CREATED
    );
    app.advance(minutes(1) + Duration::from_secs(1));
    let res = app.send_signed(&s, &old, "r5", app.now(), &body).await;
    res.assert_error(401, "secret_expired");
    assert_eq!(
        app.send_signed(&s, &new, "r6", app.now(), &body)
            .await
            .status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_signature_under_an_expired_secret_is_answered_and_a_fresh_secret_issued() {
    let app = spawn_app_with(|o| {
        o.secret_ttl = Some("90d".into());
        o.rotate_before = Some("14d".into());
        o.jobs_interval = Some("1h".into()); // the rotation job stays out of the way
    })
    .await;
    let email = "expired@acme.example";
    let s = app.sender(email).await;
    app.advance(days(90) + Duration::from_secs(1));
    let body = order_body(None, "PENDING");
    let res = app.send_signed(&s, &s.secret, "e1", app.now(), &body).await;
    res.assert_error(401, "secret_expired");
    assert!(
        res.body["message"]
            .as_str()
            .unwrap()
            .contains("a new secret has been generated")
    );

    let token = app.token_for(email).await; // 90 days on, the old token has long expired
    let fresh = app.get_as("/api/v1/webhook/secret/", &token).await;
    assert_eq!(fresh.body["is_active"], true);
    let fresh_secret = fresh.body["secret_key"].as_str().unwrap().to_string();
    assert_ne!(fresh_secret, s.secret);
    assert_eq!(
        app.send_signed(&s, &fresh_secret, "e2", app.now(), &body)
            .await
            .status,
        StatusCode::CREATED
    );
    let subjects: Vec<String> = app
        .admin_get(&format!("/api/v1/admin/outbox?to={email}"))
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
                app.now(),
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
