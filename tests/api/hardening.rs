//! Gaps closed after an attacker's and a bad day's review: what a refused merchant's key id
//! reveals, duplicates under the rate limit, rejections recorded before the answer, empty ids,
//! slow bodies.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

/// A forged signature on a revoked merchant's key id, and a valid one.
#[tokio::test]
async fn a_refused_merchant_is_named_only_to_a_holder_of_its_secret() {
    let app = spawn_app().await;
    let s = app.sender("refused@acme.example").await;
    app.admin_post(
        &format!("/api/v1/admin/merchants/{}/revoke", s.merchant_id),
        json!({"reason": "fraud"}),
    )
    .await;
    let body = order_body(None, "PENDING");
    let forger = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    app.send_signed(&s, forger, "f1", app.now(), &body)
        .await
        .assert_error(401, "invalid_signature");
    app.send_order(&s, "f2", &body)
        .await
        .assert_error(403, "kyc_not_approved");
}

#[tokio::test]
async fn a_redelivered_duplicate_is_answered_as_one_under_the_rate_limit() {
    // One webhook an hour: the second distinct webhook is refused, a redelivery is not.
    let app = spawn_app_with(|o| o.merchant_rate = Some("1/h".into())).await;
    let s = app.sender("retry@acme.example").await;
    let body = order_body(None, "PENDING");
    let first = app.send_order(&s, "d1", &body).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    app.send_order(&s, "d2", &body)
        .await
        .assert_error(429, "rate_limited");
    let again = app.send_order(&s, "d1", &body).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["status"], "duplicate");
    assert_eq!(again.body["event_id"], first.body["event_id"]);
    assert_eq!(again.body["order_id"], first.body["order_id"]);
    // The same id with another body is no duplicate: still over the limit.
    app.send_order(&s, "d1", &order_body(None, "SHIPPED"))
        .await
        .assert_error(429, "rate_limited");
}

#[tokio::test]
async fn an_authenticated_rejection_is_stored_before_it_is_answered() {
    let app = spawn_app().await;
    let s = app.sender("early@acme.example").await;
    app.send_order(&s, "bad-1", r#"{"item_summary": 5}"#)
        .await
        .assert_error(422, "validation_failed");
    // No waiting: the event exists when the answer arrives.
    let events = app
        .admin_get(&format!(
            "/api/v1/admin/events?merchant_id={}&status=rejected",
            s.merchant_id
        ))
        .await;
    let items = events.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", events.body);
    assert_eq!(items[0]["webhook_id"], "bad-1");
    assert_eq!(items[0]["reason"], "validation_failed");
}

#[tokio::test]
async fn an_empty_webhook_id_is_a_missing_signature() {
    let app = spawn_app().await;
    let s = app.sender("blank@acme.example").await;
    let body = order_body(None, "PENDING");
    for blank in ["", "   "] {
        let res = app
            .send_signed(&s, &s.secret, blank, app.now(), &body)
            .await;
        res.assert_error(401, "missing_signature");
        assert!(res.body["message"].as_str().unwrap().contains("webhook-id"));
    }
}

#[tokio::test]
async fn an_unsent_verification_code_is_redacted_from_the_outbox_when_it_expires() {
    let app = spawn_app_with(|o| o.jobs_interval = Some("100ms".into())).await;
    let email = "expiring@acme.example";
    app.register(email).await;
    let code = app.latest_code(email).await;
    let outbox = format!("/api/v1/admin/outbox?to={email}");
    app.advance(minutes(14));
    let still = app.admin_get(&outbox).await;
    assert!(
        still.body.to_string().contains(&code),
        "readable until it expires"
    );
    app.advance(minutes(1) + std::time::Duration::from_secs(1));
    let redacted = eventually("the expired code was redacted", || async {
        let res = app.admin_get(&outbox).await;
        (!res.body.to_string().contains(&code)).then_some(res.body)
    })
    .await;
    assert_eq!(redacted.as_array().unwrap().len(), 1, "the record stays");
    assert!(
        redacted[0]["subject"]
            .as_str()
            .unwrap()
            .contains("redacted")
    );
}

/// Send a request head and part of its body, then nothing; returns everything the server sent
/// until it closed the connection.
async fn trickle(app: &TestApp, path: &str, extra_headers: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\n{extra_headers}Content-Length: 100\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"{\"partial\":").await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut response),
    )
    .await
    .unwrap_or_else(|_| panic!("{path}: the server neither answered nor closed"))
    .unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

/// Every route that reads a body gives up on one that stops arriving: the JSON API, the
/// webhook path, browser forms and the KYC upload.
#[tokio::test]
async fn a_body_that_stops_arriving_gets_408_and_the_connection_is_closed() {
    let app = spawn_app_with(|o| o.body_timeout = Some("300ms".into())).await;
    let token = app.verified_merchant("slow@acme.example").await;
    let cases = [
        (
            "/api/v1/auth/token",
            "Content-Type: application/json\r\n".to_string(),
        ),
        (
            "/api/v1/webhooks/orders/",
            "Content-Type: application/json\r\nX-API-Key: key_x\r\nwebhook-id: m1\r\n\
             webhook-timestamp: 1\r\nwebhook-signature: v1,AAAA\r\n"
                .to_string(),
        ),
        (
            "/login",
            "Content-Type: application/x-www-form-urlencoded\r\n".to_string(),
        ),
        (
            "/api/v1/kyc",
            format!(
                "Authorization: Bearer {token}\r\n\
                 Content-Type: multipart/form-data; boundary=b\r\n"
            ),
        ),
    ];
    for (path, headers) in cases {
        let response = trickle(&app, path, &headers).await;
        assert!(response.starts_with("HTTP/1.1 408"), "{path}: {response}");
        assert!(
            response.contains("\"request_timeout\""),
            "{path}: {response}"
        );
        assert!(
            response.to_ascii_lowercase().contains("connection: close"),
            "{path}: {response}"
        );
    }
    // The server is none the worse.
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}
