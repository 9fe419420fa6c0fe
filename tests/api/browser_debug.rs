//! The browser: a merchant debugging their integration in headless Chromium. A webhook refused
//! for its payload and one with a bad signature; the recent failures panel and the event page
//! show why, every violation, and never the unauthenticated body.

use crate::browser::{skip, wait_for_text};
use crate::helpers::*;
use crate::webdriver::Driver;
use serde_json::json;

#[tokio::test]
async fn a_merchant_sees_why_their_webhooks_fail_in_the_browser() {
    if skip() {
        return;
    }
    let app = spawn_app().await;
    let s = app.sender("debug@acme.example").await;
    let payload = json!({"customer_details": {"name": "", "email": "not-an-email", "phone": "12"},
        "item_summary": "Kettle", "tracking_status": "LOST"})
    .to_string();
    let refused = app.send_order(&s, "msg_schema", &payload).await;
    refused.assert_error(422, "validation_failed");
    let forged_body = order_body(Some("FORGED-SECRET-BODY"), "PENDING");
    app.send_signed(
        &s,
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "msg_forged",
        app.now(),
        &forged_body,
    )
    .await
    .assert_error(401, "invalid_signature");

    // The failure is written with the writer's next group, a moment after the answer.
    let http = app.merchant_browser("debug@acme.example").await;
    eventually("the failure is recorded", || async {
        http.page("/events")
            .await
            .contains("msg_forged")
            .then_some(())
    })
    .await;

    let driver = Driver::start().await;
    let shop = driver.browser().await;
    shop.goto(&app.url("/login")).await;
    shop.fill("input[name=email]", "debug@acme.example").await;
    shop.fill("input[name=password]", PASSWORD).await;
    shop.click("#login").await;
    wait_for_text(&shop, "#kyc-status", "Approved").await;

    // From the dashboard to the webhooks page and its recent failures panel.
    shop.click("#all-events").await;
    let panel = wait_for_text(&shop, "#failures", "msg_forged").await;
    assert!(panel.contains("Invalid signature"), "{panel}");
    assert!(panel.contains("127.0.0.1"));
    assert!(panel.contains(" UTC"));
    assert!(!shop.source().await.contains("FORGED-SECRET-BODY"));

    // The refused payload's event page: every violation, the body, the headers without the
    // signature.
    shop.goto(&app.url("/events?status=rejected")).await;
    wait_for_text(&shop, "#events", "msg_schema").await;
    shop.click("#events a[href^='/events/evt_']").await;
    wait_for_text(&shop, "#reason", "Validation failed").await;
    let violations = shop.text("#violations").await;
    for v in refused.body["violations"].as_array().unwrap() {
        assert!(
            violations.contains(v["field"].as_str().unwrap()),
            "{violations}"
        );
        assert!(
            violations.contains(v["message"].as_str().unwrap()),
            "{violations}"
        );
    }
    assert!(shop.text("#event-body").await.contains("not-an-email"));
    let headers = shop.text("#headers").await;
    assert!(headers.contains("webhook-id") && headers.contains("msg_schema"));
    assert!(!shop.source().await.contains("webhook-signature"));
    shop.quit().await;
}
