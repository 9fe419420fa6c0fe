//! Signing secrets: format, sealing, isolation, expiry, grace and automatic rotation.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn the_database_file_does_not_reveal_secrets() {
    use base64::Engine;
    let app = spawn_app().await;
    let (token, _, _) = app.approved_merchant("vault@acme.example").await;
    let rotated = app
        .post_as("/api/v1/webhook/secret/", &token, json!({}))
        .await;
    let secret = rotated.body["secret_key"].as_str().unwrap().to_string();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&secret[6..])
        .unwrap();
    let bytes = app.database_bytes();
    assert!(
        !contains(&bytes, secret.as_bytes()),
        "whsec_ form found in the database"
    );
    assert!(
        !contains(&bytes, &secret.as_bytes()[6..]),
        "base64 key found in the database"
    );
    assert!(
        !contains(&bytes, &raw),
        "raw key bytes found in the database"
    );
}

#[tokio::test]
async fn one_merchant_never_sees_another_merchants_secret() {
    let app = spawn_app().await;
    let (a, _, key_a) = app.approved_merchant("a@acme.example").await;
    let (b, _, key_b) = app.approved_merchant("b@other.example").await;
    assert_ne!(key_a, key_b);
    let sa = app.get_as("/api/v1/webhook/secret/", &a).await;
    let sb = app.get_as("/api/v1/webhook/secret/", &b).await;
    assert_eq!(sa.body["key_id"], key_a.as_str());
    assert_eq!(sb.body["key_id"], key_b.as_str());
    assert_ne!(sa.body["secret_key"], sb.body["secret_key"]);
}

#[tokio::test]
async fn the_previous_secret_is_listed_only_during_its_grace() {
    let app = spawn_app_with(|o| {
        o.secret_grace = Some("24h".into());
        o.jobs_interval = Some("1h".into());
    })
    .await;
    let email = "grace@acme.example";
    let (token, _, _) = app.approved_merchant(email).await;
    let first = app.get_as("/api/v1/webhook/secret/", &token).await.body["secret_key"].clone();
    let res = app
        .post_as("/api/v1/webhook/secret/", &token, json!({}))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let listed = app.get_as("/api/v1/webhook/secret/", &token).await;
    assert_eq!(listed.body["previous"]["secret_key"], first);

    app.advance(hours(24) - minutes(1));
    let token = app.token_for(email).await; // the first token lived 12 h
    let almost = app.get_as("/api/v1/webhook/secret/", &token).await;
    assert_eq!(
        almost.body["previous"]["secret_key"], first,
        "still within the grace"
    );
    app.advance(minutes(1) + Duration::from_secs(1));
    let later = app.get_as("/api/v1/webhook/secret/", &token).await;
    assert_eq!(
        later.body["previous"],
        serde_json::Value::Null,
        "grace is over"
    );
}

#[tokio::test]
async fn secrets_rotate_automatically_before_expiry_and_the_merchant_is_emailed() {
    let app = spawn_app_with(|o| {
        o.secret_ttl = Some("90d".into());
        o.rotate_before = Some("14d".into());
        o.jobs_interval = Some("100ms".into());
    })
    .await;
    let email = "auto@acme.example";
    let (token, _, key_id) = app.approved_merchant(email).await;
    let first = app.get_as("/api/v1/webhook/secret/", &token).await;
    let first_secret = first.body["secret_key"].as_str().unwrap().to_string();
    assert_eq!(first.body["is_active"], true);
    assert_eq!(first.body["previous"], serde_json::Value::Null);

    // 76 days on, the secret enters the last 14 days of its life: the job issues a successor;
    // the first stays valid until its own expiry.
    app.advance(days(90) - days(14) + Duration::from_secs(1));
    let token = app.token_for(email).await;
    let rotated = eventually("the rotation job issued a new secret", || async {
        let now = app.get_as("/api/v1/webhook/secret/", &token).await;
        (now.body["secret_key"] != first_secret.as_str()).then_some(now)
    })
    .await;
    assert_eq!(rotated.body["key_id"], key_id.as_str());
    assert_eq!(rotated.body["is_active"], true);
    assert_eq!(
        rotated.body["previous"]["secret_key"],
        first_secret.as_str()
    );
    assert_eq!(
        rotated.body["previous"]["valid_until"], first.body["expires_at"],
        "an automatically superseded secret verifies until its own expiry"
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
        subjects.iter().any(|s| s.contains("rotated")),
        "{subjects:?}"
    );
    let audit = app.admin_get("/api/v1/admin/audit?limit=200").await;
    assert!(
        audit.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "secret.rotated" && e["actor"] == "system")
    );
}

#[tokio::test]
async fn a_secret_past_its_ttl_is_inactive_until_replaced() {
    // With the rotation job effectively off, an expired secret is reported inactive, and a manual
    // regeneration gives a fresh, active one.
    let app = spawn_app_with(|o| {
        o.secret_ttl = Some("90d".into());
        o.rotate_before = Some("14d".into());
        o.jobs_interval = Some("1h".into());
    })
    .await;
    let email = "exp@acme.example";
    let (token, _, _) = app.approved_merchant(email).await;
    assert_eq!(
        app.get_as("/api/v1/webhook/secret/", &token).await.body["is_active"],
        true
    );
    app.advance(days(90) + Duration::from_secs(1));
    let token = app.token_for(email).await;
    let res = app.get_as("/api/v1/webhook/secret/", &token).await;
    assert_eq!(res.body["is_active"], false);
    let res = app
        .post_as("/api/v1/webhook/secret/", &token, json!({}))
        .await;
    assert_eq!(res.body["status"], "regenerated");
    assert_eq!(
        app.get_as("/api/v1/webhook/secret/", &token).await.body["is_active"],
        true
    );
}
