//! CSV downloads of orders and events, and the admin event filter by merchant name or email and
//! by date.

use crate::helpers::*;
use reqwest::StatusCode;

/// The records of a CSV download: (status, content type, records without the header).
async fn csv(b: &BrowserSession, path: &str) -> (StatusCode, String, Vec<String>) {
    let res = b.get(path).await;
    let status = res.status();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = res.text().await.unwrap();
    let mut records: Vec<String> = text.split_terminator("\r\n").map(str::to_string).collect();
    if status == StatusCode::OK {
        records.remove(0);
    }
    (status, kind, records)
}

#[tokio::test]
async fn orders_and_events_download_whole_as_csv_with_the_pages_filters() {
    let app = spawn().await;
    let a = app.sender("first@acme.example").await;
    let b = app.sender("second@acme.example").await;
    // More than one read of the download (500 rows), and one refused webhook.
    app.send_orders(&a, "bulk", 503).await;
    app.send_order(&a, "w-ref", &order_body(Some("=REF-1"), "SHIPPED"))
        .await;
    let refused = app.send_order(&a, "w-bad", "{\"nope\": 1}").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    app.send_order(&b, "w-b", &order_body(Some("B-1"), "PENDING"))
        .await;

    let shop = app.merchant_browser("first@acme.example").await;
    let (status, kind, orders) = csv(&shop, "/orders.csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("text/csv"), "{kind}");
    assert_eq!(orders.len(), 504, "every order of this merchant, once");
    assert!(
        orders.iter().all(|r| !r.contains("B-1")),
        "no other merchant's order"
    );
    assert!(
        orders.iter().any(|r| r.contains(",\"'=REF-1\",")),
        "a formula-like reference is defused"
    );
    let (_, _, found) = csv(&shop, "/orders.csv?q=%3DREF-1&status=SHIPPED").await;
    assert_eq!(found.len(), 1, "the page's filters apply");
    let (_, _, webhooks) = csv(&shop, "/events.csv").await;
    assert_eq!(webhooks.len(), 505);
    let (_, _, rejected) = csv(&shop, "/events.csv?status=rejected").await;
    assert_eq!(rejected.len(), 1);
    assert!(rejected[0].contains("w-bad") && rejected[0].contains("validation_failed"));
    let page = shop.page("/orders?q=B-1").await;
    assert!(
        page.contains(r#"href="/orders.csv?q=B-1&#38;status=""#),
        "the link keeps filters: {}",
        &page[page.find("Download").unwrap_or(0).saturating_sub(120)..][..160]
    );

    let admin = app.admin_browser().await;
    let (_, _, by_email) = csv(&admin, "/admin/events.csv?merchant=first%40acme.example").await;
    assert_eq!(by_email.len(), 505, "the merchant picked by email");
    // Both merchants are "Acme Stores": the name alone is ambiguous, and says so.
    let (status, _, _) = csv(&admin, "/admin/events.csv?merchant=Acme+Stores").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let listed = admin.page("/admin/events?merchant=Acme+Stores").await;
    assert!(listed.contains("several merchants match"), "{listed}");
    assert!(listed.contains(r#"<option value="second@acme.example">Acme Stores</option>"#));
    let (status, _, _) = csv(&admin, "/admin/events.csv?merchant=nobody").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let anonymous = app.browser().get("/admin/events.csv").await;
    assert_ne!(anonymous.status(), StatusCode::OK);
    let other = app.merchant_browser("second@acme.example").await;
    let (_, _, theirs) = csv(&other, "/events.csv").await;
    assert_eq!(theirs.len(), 1, "a merchant downloads only their own");
}

#[tokio::test]
async fn the_admin_event_filter_takes_a_date_from_the_date_picker() {
    let app = spawn().await;
    let s = app.sender("dates@acme.example").await;
    app.send_order(&s, "w-old", &order_body(None, "PENDING"))
        .await;
    app.advance(days(2));
    app.send_order(&s, "w-new", &order_body(None, "PENDING"))
        .await;
    let today = &hookgate::clock::rfc3339(app.now())[..10];
    let admin = app.admin_browser().await;
    let page = admin
        .page(&format!(
            "/admin/events?merchant=dates%40acme.example&since={today}"
        ))
        .await;
    assert!(page.contains("w-new") && !page.contains("w-old"), "{page}");
    assert!(page.contains(&format!(r#"type="date" name="since" value="{today}""#)));
    // An RFC 3339 time from an older link still works.
    let page = admin
        .page(&format!(
            "/admin/events?merchant_id={}&since={today}T00:00:00Z",
            s.merchant_id
        ))
        .await;
    assert!(page.contains("w-new") && !page.contains("w-old"));
}
