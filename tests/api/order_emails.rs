//! Emails to the merchant's customers (shoppers): on by default, off per merchant on the
//! dashboard, off for everyone with `--order-emails off`.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::Value;
use std::process::Command;

/// The shopper of `order_body`.
const SHOPPER: &str = "john@example.com";

/// Subjects of the emails to the shopper, from the admin outbox.
async fn shopper_mail(app: &TestApp) -> Vec<String> {
    let res = app
        .admin_get(&format!("/api/v1/admin/outbox?to={SHOPPER}"))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap().to_string())
        .collect()
}

/// Audit actions about `target`, oldest first.
async fn audit_actions(app: &TestApp, target: &str) -> Vec<(String, String, Value)> {
    let res = app.admin_get("/api/v1/admin/audit?limit=200").await;
    let mut rows: Vec<_> = res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == target)
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
                e["details"].clone(),
            )
        })
        .collect();
    rows.reverse();
    rows
}

/// The part of `html` inside the element with `id` (up to its section's end).
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the page"));
    let rest = &html[start..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}

/// Order SO-1 created as PENDING, then moved to SHIPPED: both accepted.
async fn create_and_ship(app: &TestApp, s: &Sender) {
    let created = app
        .send_order(s, "msg_1", &order_body(Some("SO-1"), "PENDING"))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let updated = app
        .send_order(s, "msg_2", &order_body(Some("SO-1"), "SHIPPED"))
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
}

#[tokio::test]
async fn by_default_a_new_order_and_a_status_change_email_the_shopper() {
    let app = spawn_app().await;
    let s = app.sender("default-on@acme.example").await;
    create_and_ship(&app, &s).await;
    let subjects = shopper_mail(&app).await;
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(subjects.iter().any(|s| s.contains("is confirmed")));
    assert!(subjects.iter().any(|s| s.contains("shipped")));

    // The dashboard says so, next to the snippets that use an example.com shopper.
    let page = app
        .merchant_browser("default-on@acme.example")
        .await
        .page("/")
        .await;
    assert!(section(&page, "order-emails-state").contains(">On<"));
    let note = section(&page, "snippet-email-note");
    assert!(
        note.contains("Order emails are on") && note.contains("john@example.com"),
        "{note}"
    );
}

#[tokio::test]
async fn a_merchant_who_turns_order_emails_off_emails_no_shopper_and_it_is_audited() {
    let app = spawn_app().await;
    let s = app.sender("quiet@acme.example").await;
    let shop = app.merchant_browser("quiet@acme.example").await;
    let page = shop.page("/").await;
    assert!(
        page.contains("id=\"order-emails-off\""),
        "a switch to turn them off"
    );
    let csrf = csrf_in(&page);

    // A form without its token changes nothing.
    let forged = shop
        .post_form("/settings/order-emails", &[("order_emails", "off")])
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let nonsense = shop
        .post_form(
            "/settings/order-emails",
            &[("csrf", csrf.as_str()), ("order_emails", "maybe")],
        )
        .await;
    assert_eq!(nonsense.status(), StatusCode::BAD_REQUEST);

    let off = shop
        .post_form(
            "/settings/order-emails",
            &[("csrf", csrf.as_str()), ("order_emails", "off")],
        )
        .await;
    assert_eq!(off.status(), StatusCode::SEE_OTHER);
    let page = shop.page(off.headers()["location"].to_str().unwrap()).await;
    assert!(page.contains("Order emails are off: hookgate no longer emails your customers."));
    assert!(section(&page, "order-emails-state").contains(">Off<"));
    assert!(
        page.contains("id=\"order-emails-on\""),
        "a switch to turn them back on"
    );
    assert!(section(&page, "snippet-email-note").contains("these examples email nobody"));

    // A new order and a status change: accepted, stored, and no email to the shopper.
    create_and_ship(&app, &s).await;
    assert_eq!(shopper_mail(&app).await, Vec::<String>::new());
    let orders = app.get_as("/api/v1/orders", &s.token).await;
    assert_eq!(orders.body["items"][0]["tracking_status"], "SHIPPED");

    // Turning it on again counts from the next order on.
    let on = shop
        .post_form(
            "/settings/order-emails",
            &[("csrf", csrf.as_str()), ("order_emails", "on")],
        )
        .await;
    assert_eq!(on.status(), StatusCode::SEE_OTHER);
    let next = app
        .send_order(&s, "msg_3", &order_body(Some("SO-2"), "PENDING"))
        .await;
    assert_eq!(next.status, StatusCode::CREATED, "{}", next.body);
    let subjects = shopper_mail(&app).await;
    assert_eq!(subjects.len(), 1, "{subjects:?}");
    assert!(subjects[0].contains("is confirmed"));

    // Each change is audited as the merchant's own action; repeating a setting is not a change.
    let again = shop
        .post_form(
            "/settings/order-emails",
            &[("csrf", csrf.as_str()), ("order_emails", "on")],
        )
        .await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let actor = format!("merchant:{}", s.merchant_id);
    let changes: Vec<_> = audit_actions(&app, &s.merchant_id)
        .await
        .into_iter()
        .filter(|(_, action, _)| action.starts_with("merchant.order_emails"))
        .collect();
    assert_eq!(
        changes,
        [
            (
                actor.clone(),
                "merchant.order_emails_off".to_string(),
                serde_json::json!({"order_emails": false})
            ),
            (
                actor,
                "merchant.order_emails_on".to_string(),
                serde_json::json!({"order_emails": true})
            ),
        ]
    );
}

#[tokio::test]
async fn with_order_emails_off_for_the_installation_no_shopper_is_emailed() {
    let app = spawn_app_with(|o| o.order_emails = Some("off".into())).await;
    let s = app.sender("operator-off@acme.example").await;
    create_and_ship(&app, &s).await;
    assert_eq!(shopper_mail(&app).await, Vec::<String>::new());

    // The merchant's own "on" does not override the operator; the dashboard says why.
    let page = app
        .merchant_browser("operator-off@acme.example")
        .await
        .page("/")
        .await;
    assert!(page.contains("id=\"order-emails-operator-off\""));
    assert!(section(&page, "order-emails-state").contains(">Off<"));
    assert!(section(&page, "snippet-email-note").contains("these examples email nobody"));

    // Emails to merchants (the verification code of the sign-up above) are not affected.
    let res = app
        .admin_get("/api/v1/admin/outbox?to=operator-off@acme.example")
        .await;
    assert!(!res.body.as_array().unwrap().is_empty());
}

#[test]
fn a_bad_order_emails_value_is_named_from_the_environment_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data)
        .arg("check")
        .env("HOOKGATE_ORDER_EMAILS", "sometimes")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--order-emails (HOOKGATE_ORDER_EMAILS): 'sometimes' must be on or off"),
        "{err}"
    );

    let file = dir.path().join("hookgate.toml");
    std::fs::write(&file, "order_emails = \"never\"\n").unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&file)
        .arg("--data-dir")
        .arg(&data)
        .arg("check")
        .env_remove("HOOKGATE_ORDER_EMAILS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'never' must be on or off"));

    // A flag beats the file's value.
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&file)
        .arg("--data-dir")
        .arg(&data)
        .args(["--order-emails", "off", "check"])
        .env_remove("HOOKGATE_ORDER_EMAILS")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("order-emails"), "{err}");
}
