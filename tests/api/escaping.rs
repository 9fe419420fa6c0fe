//! Text that merchants, their senders and people typing URLs provide is escaped on every page
//! that shows it, and no page allows inline scripts.

use crate::helpers::*;
use reqwest::{StatusCode, multipart};
use serde_json::json;

// Each field gets its own markup, so a page showing the wrong field (or none) is caught.
const NAME: &str = "<script>alert(1)</script> & \"Co\"";
const LEGAL_NAME: &str = "<script>alert(2)</script> Ltd";
const REGISTRATION: &str = "<script>alert(3)</script>";
const ADDRESS: &str = "<img src=x onerror=alert(4)>\nLagos";
const CHANGES: &str = "<script>alert(5)</script> please";
const APPROVAL: &str = "<script>alert(6)</script> fine";
const WEBHOOK_ID: &str = "<script>alert(7)</script>";
const CUSTOMER: &str = "<script>alert(8)</script>";
const ITEMS: &str = "<img src=x onerror=alert(9)>";
const TYPED: &str = "<script>alert(10)</script>";

/// Markup that must never reach a page unescaped, in any context (text, attribute, JSON).
const LIVE: [&str; 2] = ["<script>alert(", "<img src=x"];

/// `text` as the templates escape it.
fn escaped(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '<' => out.push_str("&#60;"),
            '>' => out.push_str("&#62;"),
            '&' => out.push_str("&#38;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `path?key=value` with the value percent-encoded.
fn with_query(path: &str, key: &str, value: &str) -> String {
    let encoded: String = value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{path}?{key}={encoded}")
}

/// GET a page (200, no inline scripts allowed) and check that no user markup is live in it and
/// that each of `shown` is there, escaped.
async fn visit(b: &BrowserSession, path: &str, shown: &[&str]) {
    let res = b.get(path).await;
    assert_eq!(res.status(), StatusCode::OK, "GET {path}");
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{path}: {csp}"
    );
    assert_escaped(path, &res.text().await.unwrap(), shown);
}

#[track_caller]
fn assert_escaped(page: &str, html: &str, shown: &[&str]) {
    for live in LIVE {
        assert!(!html.contains(live), "{page} has live {live:?}:\n{html}");
    }
    for text in shown {
        assert!(
            html.contains(&escaped(text)),
            "{page} does not show {text:?} escaped:\n{html}"
        );
    }
}

fn kyc_fields(country: &str) -> multipart::Form {
    multipart::Form::new()
        .text("legal_name", LEGAL_NAME)
        .text("registration_number", REGISTRATION)
        .text("country", country.to_string())
        .text("address", ADDRESS)
        .text("contact_phone", "+2348123456789")
        .part(
            "document",
            multipart::Part::bytes(pdf())
                .file_name("registration.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        )
}

#[tokio::test]
async fn user_text_is_escaped_on_every_page() {
    let app = spawn_app().await;
    let email = "xss@acme.example";
    let res = app
        .post_json(
            "/api/v1/auth/register",
            json!({"email": email, "password": PASSWORD, "business_name": NAME}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let code = app.latest_code(email).await;
    assert_eq!(app.verify(email, &code).await.status, StatusCode::OK);
    let token = app.token_for(email).await;
    let shop = app.merchant_browser(email).await;
    let admin = app.admin_browser().await;

    // A KYC form refused for its country comes back with what was typed, escaped.
    let csrf = csrf_in(&shop.page("/").await);
    let refused = shop
        .post_multipart("/kyc", kyc_fields("ZZ").text("csrf", csrf))
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_escaped(
        "the refused KYC form",
        &refused.text().await.unwrap(),
        &[NAME, LEGAL_NAME, REGISTRATION, ADDRESS],
    );

    // Submitted, sent back for changes with a note, submitted again and approved with a note.
    let submit = || async {
        let res = app.submit_kyc_form(&token, kyc_fields("NG")).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        res.body["kyc_id"].as_str().unwrap().to_string()
    };
    let first = submit().await;
    let res = app
        .admin_post(
            &format!("/api/v1/admin/kyc/{first}/request-changes"),
            json!({"reason": CHANGES}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    visit(&shop, "/", &[NAME, CHANGES]).await;
    let second = submit().await;
    let res = app
        .admin_post(
            &format!("/api/v1/admin/kyc/{second}/approve"),
            json!({"note": APPROVAL}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);

    // A webhook whose id and body carry markup.
    let me = app.get_as("/api/v1/me", &token).await;
    let merchant_id = me.body["merchant_id"].as_str().unwrap().to_string();
    let sender = Sender {
        key_id: me.body["key_id"].as_str().unwrap().to_string(),
        secret: app.get_as("/api/v1/webhook/secret/", &token).await.body["secret_key"]
            .as_str()
            .unwrap()
            .to_string(),
        token: token.clone(),
        merchant_id: merchant_id.clone(),
    };
    let body = json!({
        "customer_details": {"name": CUSTOMER, "email": "john@example.com", "phone": "+2348123456789"},
        "item_summary": ITEMS,
        "address": "123 Main St, Lagos",
        "tracking_status": "PENDING",
    })
    .to_string();
    let res = app.send_order(&sender, WEBHOOK_ID, &body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let event_id = res.body["event_id"].as_str().unwrap().to_string();

    // The merchant's pages.
    visit(&shop, "/", &[NAME, CUSTOMER, WEBHOOK_ID]).await;

    // Every admin page.
    visit(&admin, "/admin/", &[]).await;
    visit(&admin, "/admin/kyc?status=all", &[NAME, LEGAL_NAME]).await;
    let review = [NAME, LEGAL_NAME, REGISTRATION, ADDRESS];
    visit(
        &admin,
        &format!("/admin/kyc/{first}"),
        &[&review[..], &[CHANGES]].concat(),
    )
    .await;
    visit(
        &admin,
        &format!("/admin/kyc/{second}"),
        &[&review[..], &[APPROVAL, CHANGES]].concat(),
    )
    .await;
    visit(&admin, "/admin/merchants", &[NAME]).await;
    visit(
        &admin,
        &format!("/admin/merchants/{merchant_id}"),
        &[NAME, WEBHOOK_ID],
    )
    .await;
    visit(
        &admin,
        &format!("/admin/merchants/{merchant_id}?confirm=revoke"),
        &[NAME],
    )
    .await;
    visit(&admin, "/admin/events", &[WEBHOOK_ID]).await;
    visit(
        &admin,
        &format!("/admin/events/{event_id}"),
        &[WEBHOOK_ID, CUSTOMER, ITEMS],
    )
    .await;
    visit(&admin, "/admin/audit", &[CHANGES, APPROVAL]).await;
    visit(&admin, "/admin/outbox", &[NAME, CHANGES]).await;

    // What an admin types into a filter is shown back escaped too.
    visit(
        &admin,
        &with_query("/admin/merchants", "q", TYPED),
        &[TYPED],
    )
    .await;
    visit(
        &admin,
        &with_query("/admin/events", "merchant", TYPED),
        &[TYPED],
    )
    .await;
    visit(&admin, &with_query("/admin/outbox", "to", TYPED), &[TYPED]).await;
    let refused = admin.get(&with_query("/admin/kyc", "status", TYPED)).await;
    assert_escaped("a refused KYC filter", &refused.text().await.unwrap(), &[]);
}
