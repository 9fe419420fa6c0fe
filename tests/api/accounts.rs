//! Sign-up, verification, login, and the whole onboarding walk of a merchant.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn merchant_walks_from_sign_up_to_revocation() {
    let app = spawn_app().await;
    let email = "owner@acme.example";

    // Register: unverified until the emailed code is entered.
    let res = app.register(email).await;
    assert_eq!(res.status, StatusCode::CREATED);
    assert_eq!(res.body["status"], "email_unverified");
    assert!(
        res.body["merchant_id"]
            .as_str()
            .unwrap()
            .starts_with("mer_")
    );
    app.login(email, PASSWORD)
        .await
        .assert_error(403, "email_unverified");

    // Wrong code, then the right one.
    let code = app.latest_code(email).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    app.verify(email, wrong)
        .await
        .assert_error(400, "invalid_code");
    let res = app.verify(email, &code).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["status"], "active");

    // Login.
    let res = app.login(email, PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["token_type"], "Bearer");
    assert!(res.body["expires_at"].as_str().is_some());
    let token = res.body["access_token"].as_str().unwrap().to_string();
    let me = app.get_as("/api/v1/me", &token).await;
    assert_eq!(me.body["kyc_status"], "none");
    assert_eq!(me.body["key_id"], serde_json::Value::Null);

    // No secret before KYC approval.
    app.get_as("/api/v1/webhook/secret/", &token)
        .await
        .assert_error(403, "kyc_required");
    app.post_as("/api/v1/webhook/secret/", &token, json!({}))
        .await
        .assert_error(403, "kyc_required");

    // KYC submitted; a second submission is refused while pending.
    let res = app.submit_kyc(&token, pdf()).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["status"], "pending");
    let kyc_id = res.body["kyc_id"].as_str().unwrap().to_string();
    app.submit_kyc(&token, pdf())
        .await
        .assert_error(409, "kyc_already_pending");
    let status = app.get_as("/api/v1/kyc", &token).await;
    assert_eq!(status.body["status"], "pending");
    assert_eq!(status.body["kyc_id"], kyc_id.as_str());

    // Admin approves: a key id and the first secret are issued at once.
    let res = app
        .admin_post(
            &format!("/api/v1/admin/kyc/{kyc_id}/approve"),
            json!({"note": "ok"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["status"], "approved");
    let key_id = res.body["key_id"].as_str().unwrap().to_string();
    app.submit_kyc(&token, pdf())
        .await
        .assert_error(409, "kyc_already_approved");

    let res = app.get_as("/api/v1/webhook/secret/", &token).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.headers["cache-control"], "no-store");
    assert_eq!(res.body["key_id"], key_id.as_str());
    assert_eq!(res.body["is_active"], true);
    assert_eq!(res.body["previous"], serde_json::Value::Null);
    let first = res.body["secret_key"].as_str().unwrap().to_string();
    assert_is_whsec_of_32_bytes(&first);

    // Rotate: a new secret, the old one listed with the end of its grace.
    let res = app
        .post_as("/api/v1/webhook/secret", &token, json!({}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["status"], "regenerated");
    assert_eq!(
        res.body["key_id"],
        key_id.as_str(),
        "the key id survives rotation"
    );
    assert_eq!(
        res.body["message"],
        "Store this secret safely. Do not share it."
    );
    let second = res.body["secret_key"].as_str().unwrap().to_string();
    assert_is_whsec_of_32_bytes(&second);
    assert_ne!(first, second);
    assert!(res.body["previous_valid_until"].as_str().is_some());
    let res = app.get_as("/api/v1/webhook/secret", &token).await;
    assert_eq!(res.body["secret_key"], second.as_str());
    assert_eq!(res.body["previous"]["secret_key"], first.as_str());
    assert!(res.body["previous"]["valid_until"].as_str().is_some());

    // Revocation: every secret stops at once.
    let merchant_id = app.get_as("/api/v1/me", &token).await.body["merchant_id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .admin_post(
            &format!("/api/v1/admin/merchants/{merchant_id}/revoke"),
            json!({"reason": "fraud"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["status"], "revoked");
    app.get_as("/api/v1/webhook/secret/", &token)
        .await
        .assert_error(403, "kyc_required");
    app.post_as("/api/v1/webhook/secret/", &token, json!({}))
        .await
        .assert_error(403, "kyc_required");
    assert_eq!(
        app.get_as("/api/v1/me", &token).await.body["kyc_status"],
        "revoked"
    );
    app.submit_kyc(&token, pdf())
        .await
        .assert_error(409, "kyc_revoked");

    // Every step left its audit entry.
    let audit = app.admin_get("/api/v1/admin/audit?limit=100").await;
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "merchant.registered",
        "kyc.submitted",
        "kyc.approved",
        "secret.issued",
        "secret.revealed",
        "secret.rotated",
        "kyc.revoked",
        "secret.revoked",
        "admin.created",
        "admin.token_minted",
    ] {
        assert!(
            actions.contains(&expected),
            "missing audit action {expected} in {actions:?}"
        );
    }
}

fn assert_is_whsec_of_32_bytes(secret: &str) {
    use base64::Engine;
    let b64 = secret.strip_prefix("whsec_").expect("whsec_ prefix");
    let key = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    assert_eq!(key.len(), 32);
}

#[tokio::test]
async fn registration_reports_every_invalid_field() {
    let app = spawn_app().await;
    let res = app
        .post_json(
            "/api/v1/auth/register",
            json!({"email": "nope", "password": "short", "business_name": ""}),
        )
        .await;
    res.assert_error(422, "validation_failed");
    let fields = res.violation_fields();
    assert_eq!(fields, ["email", "password", "business_name"]);
}

#[tokio::test]
async fn a_taken_email_is_refused_whatever_its_case() {
    let app = spawn_app().await;
    assert_eq!(
        app.register("dup@acme.example").await.status,
        StatusCode::CREATED
    );
    app.register("DUP@acme.example")
        .await
        .assert_error(409, "email_taken");
}

#[tokio::test]
async fn malformed_bodies_get_contract_errors() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    Res::from(res).await.assert_error(400, "invalid_json");
    let res = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    Res::from(res)
        .await
        .assert_error(415, "unsupported_media_type");
    let res = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body(r#"{"email": 5}"#)
        .send()
        .await
        .unwrap();
    let res = Res::from(res).await;
    res.assert_error(422, "validation_failed");
    assert_eq!(
        res.body["violations"],
        json!([{"field": "email", "message": "must be a string"}]),
        "the field in the user's words, not the parser's"
    );
    for (body, field, message) in [
        ("[1, 2]", "body", "must be a JSON object"),
        (
            r#"{"email": "a@b.example", "password": ["x"]}"#,
            "password",
            "must be a string",
        ),
    ] {
        let res = app
            .client
            .post(app.url("/api/v1/auth/register"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let res = Res::from(res).await;
        res.assert_error(422, "validation_failed");
        assert_eq!(res.body["violations"][0]["field"], field, "{body}");
        assert_eq!(res.body["violations"][0]["message"], message, "{body}");
        for internal in ["line 1", "RegisterBody", "expected"] {
            assert!(!res.body.to_string().contains(internal), "{}", res.body);
        }
    }
    Res::from(
        app.client
            .get(app.url("/api/v1/no/such/thing"))
            .send()
            .await
            .unwrap(),
    )
    .await
    .assert_error(404, "not_found");
    // Pages get the rendered error page instead of JSON.
    let page = app
        .client
        .get(app.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("There is no page at /no/such/page")
    );
}

#[tokio::test]
async fn five_wrong_codes_burn_the_code_and_resend_issues_a_new_one() {
    let app = spawn_app().await;
    let email = "burn@acme.example";
    app.register(email).await;
    let code = app.latest_code(email).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        app.verify(email, wrong)
            .await
            .assert_error(400, "invalid_code");
    }
    // Burned: even the right code no longer works.
    app.verify(email, &code)
        .await
        .assert_error(400, "invalid_code");

    let res = app
        .post_json("/api/v1/auth/resend-code", json!({"email": email}))
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let fresh = app.latest_code(email).await;
    assert_eq!(app.verify(email, &fresh).await.status, StatusCode::OK);
}

#[tokio::test]
async fn resend_does_not_reveal_unknown_emails() {
    let app = spawn_app().await;
    let res = app
        .post_json(
            "/api/v1/auth/resend-code",
            json!({"email": "ghost@acme.example"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let outbox = app
        .admin_get("/api/v1/admin/outbox?to=ghost@acme.example")
        .await;
    assert_eq!(outbox.body.as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn codes_are_never_stored_in_clear() {
    let app = spawn_app().await;
    let email = "clear@acme.example";
    app.register(email).await;
    let code = app.latest_code(email).await;
    // The code appears in the outbox email (by design) but not in the email_codes table.
    let conn = rusqlite::Connection::open(app.data_dir.join("hookgate.db")).unwrap();
    let mac: Vec<u8> = conn
        .query_row("SELECT code_mac FROM email_codes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mac.len(), 32);
    assert!(!contains(&mac, code.as_bytes()));
}

#[tokio::test]
async fn wrong_password_and_unknown_email_answer_alike() {
    let app = spawn_app().await;
    app.verified_merchant("known@acme.example").await;
    let a = app.login("known@acme.example", "wrong password here").await;
    let b = app
        .login("unknown@acme.example", "wrong password here")
        .await;
    a.assert_error(401, "invalid_credentials");
    b.assert_error(401, "invalid_credentials");
    assert_eq!(a.body, b.body);
    let audit = app.admin_get("/api/v1/admin/audit").await;
    let failed = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "auth.login_failed")
        .count();
    assert_eq!(failed, 2);
}

#[tokio::test]
async fn repeated_logins_are_throttled_with_retry_after() {
    let app = spawn_app().await;
    let mut last = None;
    for _ in 0..12 {
        let res = app.login("target@acme.example", "not the password").await;
        if res.status == StatusCode::TOO_MANY_REQUESTS {
            last = Some(res);
            break;
        }
    }
    let res = last.expect("the account limiter kicks in within 12 attempts");
    res.assert_error(429, "rate_limited");
    let retry: u64 = res.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=10).contains(&retry),
        "a lock-out lasts seconds, not long: {retry}"
    );
}

#[tokio::test]
async fn bearer_tokens_are_required_and_checked() {
    let app = spawn_app().await;
    Res::from(app.client.get(app.url("/api/v1/me")).send().await.unwrap())
        .await
        .assert_error(401, "unauthorized");
    app.get_as("/api/v1/me", "hgm_forged")
        .await
        .assert_error(401, "unauthorized");
    // An admin token is not a merchant token, and the other way round.
    app.get_as("/api/v1/me", &app.admin_token.clone())
        .await
        .assert_error(401, "unauthorized");
    let token = app.verified_merchant("m@acme.example").await;
    app.get_as("/api/v1/admin/kyc", &token)
        .await
        .assert_error(401, "unauthorized");
}
