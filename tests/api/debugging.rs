//! What merchants and admins read to debug an integration: the merchant's orders and webhooks
//! paged both ways and searchable, an event with every violation, the failures refused before
//! authentication, and the admins' event list agreeing with their chart.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// Undo the HTML escaping of an attribute: named and numeric character references.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let (entity, after) = rest[at + 1..]
            .split_once(';')
            .expect("a terminated reference");
        out.push(match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            num => {
                let code = match num.strip_prefix("#x").or_else(|| num.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).unwrap(),
                    None => num.strip_prefix('#').unwrap().parse().unwrap(),
                };
                char::from_u32(code).unwrap()
            }
        });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The href of the link with this id, if the page has one.
fn link(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let tag_start = html[..at].rfind("<a ")?;
    let href = html[tag_start..]
        .split("href=\"")
        .nth(1)?
        .split('"')
        .next()?;
    Some(unescape(href))
}

/// The order ids of a page of the orders list, in order.
fn order_ids(html: &str) -> Vec<String> {
    html.split("<tr class=\"order\"><td><code>")
        .skip(1)
        .map(|row| row.split('<').next().unwrap().to_string())
        .collect()
}

/// A body whose reference and customer email are given.
fn order_with(reference: &str, email: &str) -> String {
    json!({
        "customer_details": {"name": "Jane Roe", "email": email, "phone": "+2348123456789"},
        "item_summary": "Kettle",
        "address": "1 Marina, Lagos",
        "tracking_status": "OUT_FOR_DELIVERY",
        "merchant_reference": reference,
    })
    .to_string()
}

#[tokio::test]
async fn a_merchant_pages_through_45_orders_older_and_newer() {
    let app = spawn_app().await;
    let s = app.sender("pages@acme.example").await;
    app.send_orders(&s, "msg_page", 45).await;
    let shop = app.merchant_browser("pages@acme.example").await;

    let first = shop.page("/orders").await;
    assert_eq!(order_ids(&first).len(), 20);
    assert!(
        link(&first, "newer").is_none(),
        "nothing is newer than the first page"
    );
    let second = shop
        .page(&link(&first, "older").expect("an older page"))
        .await;
    assert_eq!(order_ids(&second).len(), 20);
    let third = shop.page(&link(&second, "older").unwrap()).await;
    assert_eq!(order_ids(&third).len(), 5);
    assert!(link(&third, "older").is_none(), "the last page");

    let mut seen: Vec<String> = [&first, &second, &third]
        .iter()
        .flat_map(|p| order_ids(p))
        .collect();
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first across pages");
    seen.dedup();
    assert_eq!(seen.len(), 45, "every order exactly once");

    // Newer from the last page gives the middle page again, then the first.
    let back = shop
        .page(&link(&third, "newer").expect("a newer page"))
        .await;
    assert_eq!(order_ids(&back), order_ids(&second));
    let top = shop.page(&link(&back, "newer").unwrap()).await;
    assert_eq!(order_ids(&top), order_ids(&first));
    assert!(link(&top, "newer").is_none());

    // The webhooks list pages the same way (45 events, 20 a page).
    let events = shop.page("/events").await;
    assert_eq!(events.matches("<tr class=\"event\">").count(), 20);
    let older = shop.page(&link(&events, "older").unwrap()).await;
    let oldest = shop.page(&link(&older, "older").unwrap()).await;
    assert_eq!(oldest.matches("<tr class=\"event\">").count(), 5);
    let newer = shop.page(&link(&oldest, "newer").unwrap()).await;
    assert_eq!(newer, older);

    // A cursor the list never gave is refused on the page, not with a crash.
    let bad = shop.page("/orders?older=ord_'%3Bdrop").await;
    assert!(bad.contains("older is not a cursor this list gave"));
    let both = shop.page("/events?older=3&newer=4").await;
    assert!(both.contains("newer cannot be combined with older"));
}

#[tokio::test]
async fn orders_and_webhooks_are_found_by_reference_email_id_and_webhook_id() {
    let app = spawn_app().await;
    let s = app.sender("search@acme.example").await;
    app.send_orders(&s, "msg_noise", 3).await;
    let res = app
        .send_order(&s, "msg_jane", &order_with("SO-7", "jane@example.com"))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let order_id = res.body["order_id"].as_str().unwrap().to_string();
    // Another merchant's order with the same reference stays out of sight.
    let other = app.sender("other@acme.example").await;
    app.send_order(&other, "msg_other", &order_with("SO-7", "jane@example.com"))
        .await;
    let shop = app.merchant_browser("search@acme.example").await;

    for q in ["SO-7", "JANE@example.com", order_id.as_str()] {
        let html = shop.page(&format!("/orders?q={q}")).await;
        assert_eq!(order_ids(&html), vec![order_id.as_str()], "search {q}");
        assert!(html.contains("Out for delivery"), "statuses as words");
        assert!(!html.contains(">OUT_FOR_DELIVERY<"));
        assert!(html.contains(" UTC"), "times carry their zone");
    }
    let none = shop.page("/orders?q=SO-8").await;
    assert!(order_ids(&none).is_empty());
    let by_status = shop.page("/orders?status=out_for_delivery").await;
    assert_eq!(order_ids(&by_status), vec![order_id.as_str()]);

    let events = shop.page("/events?q=msg_jane").await;
    assert_eq!(events.matches("<tr class=\"event\">").count(), 1);
    assert!(events.contains("msg_jane") && events.contains("Accepted"));
    let details = link_to_event(&events);
    let event = shop.page(&details).await;
    assert!(event.contains(&order_id), "the event links its order");
    assert!(
        !event.contains("webhook-signature"),
        "signatures are never kept"
    );
    // Another merchant's event is not found.
    let theirs = app.merchant_browser("other@acme.example").await;
    assert_eq!(theirs.get(&details).await.status(), StatusCode::NOT_FOUND);
}

/// The first event detail link of a webhooks page.
fn link_to_event(html: &str) -> String {
    let at = html.find("href=\"/events/evt_").expect("an event link") + 6;
    html[at..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn a_refused_payload_shows_every_violation_and_bad_signatures_show_without_body() {
    let app = spawn_app().await;
    let s = app.sender("debug@acme.example").await;
    let bad_payload = json!({"customer_details": {"name": "", "email": "not-an-email"},
        "tracking_status": "LOST", "item_summary": "Kettle"})
    .to_string();
    let res = app.send_order(&s, "msg_422", &bad_payload).await;
    res.assert_error(422, "validation_failed");
    let fields = res.violation_fields();
    assert!(fields.len() >= 4, "{}", res.body);

    let forged_body = order_body(Some("FORGED-BODY"), "PENDING");
    let res = app
        .send_signed(
            &s,
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "msg_forged",
            app.now(),
            &forged_body,
        )
        .await;
    res.assert_error(401, "invalid_signature");

    let shop = app.merchant_browser("debug@acme.example").await;
    let list = shop.page("/events?status=rejected").await;
    assert!(list.contains("Validation failed"));
    let event = shop.page(&link_to_event(&list)).await;
    for field in &fields {
        assert!(
            event.contains(&format!("<code>{field}</code>")),
            "{field} listed"
        );
    }
    for v in res_violations(&app, &s, &bad_payload).await {
        assert!(event.contains(&v), "message {v:?} shown");
    }
    assert!(event.contains("not-an-email"), "the body is shown");

    // The forged request is a recent failure: reason, time, address and id, never its body.
    let failures = eventually("the failure is written", || async {
        let html = shop.page("/events").await;
        html.contains("msg_forged").then_some(html)
    })
    .await;
    assert!(failures.contains("Invalid signature"));
    assert!(failures.contains("127.0.0.1"));
    assert!(!failures.contains("FORGED-BODY"));
    assert!(
        !contains(&app.database_bytes(), b"FORGED-BODY"),
        "never stored"
    );
}

/// The violation messages a payload is refused with (sent again under a fresh id).
async fn res_violations(app: &TestApp, s: &Sender, body: &str) -> Vec<String> {
    let res = app.send_order(s, "msg_422_again", body).await;
    res.body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["message"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn repeated_bad_signatures_are_one_line_with_a_count() {
    let app = spawn_app_with(|o| o.ip_rate = Some("1000/s".into())).await;
    let s = app.sender("spray@acme.example").await;
    let body = order_body(None, "PENDING");
    for i in 0..30 {
        app.send_signed(
            &s,
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            &format!("msg_spray_{i}"),
            app.now(),
            &body,
        )
        .await
        .assert_error(401, "invalid_signature");
    }
    let shop = app.merchant_browser("spray@acme.example").await;
    let html = eventually("all 30 are counted", || async {
        let html = shop.page("/events").await;
        html.contains("<td>30</td>").then_some(html)
    })
    .await;
    assert_eq!(html.matches("<tr class=\"failure\">").count(), 1);
}

/// Rejections by reason in the admins' event list: stored events and refusals before
/// authentication (each with its count).
fn listed_rejections(html: &str) -> BTreeMap<String, u64> {
    let mut by_reason = BTreeMap::new();
    for row in html.split("data-outcome=\"rejected\">").skip(1) {
        let reason = row.split("<td>").nth(1).unwrap().split('<').next().unwrap();
        *by_reason.entry(reason.to_string()).or_default() += 1;
    }
    for row in html.split("<tr class=\"failure\">").skip(1) {
        let reason = row
            .split("class=\"reason\"><code>")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap();
        let count: u64 = row
            .split("data-count=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        *by_reason.entry(reason.to_string()).or_default() += count;
    }
    by_reason
}

/// The rejections of the admin dashboard's chart, summed over its hours.
fn charted_rejections(html: &str) -> u64 {
    html.split("h rejected: ")
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

#[tokio::test]
async fn the_admins_list_shows_every_rejection_their_chart_counts() {
    const N: usize = 3;
    let app = spawn_app_with(|o| o.max_body = Some("2KiB".into())).await;
    let s = app.sender("chart@acme.example").await;
    let revoked = app.sender("revoked@acme.example").await;
    let res = app
        .admin_post(
            &format!("/api/v1/admin/merchants/{}/revoke", revoked.merchant_id),
            json!({"reason": "test"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let good = order_body(None, "PENDING");
    let forged = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    for i in 0..N {
        let id = |kind: &str| format!("msg_{kind}_{i}");
        // Authenticated, stored as events with their bodies.
        app.send_order(&s, &id("schema"), "{\"tracking_status\": \"LOST\"}")
            .await
            .assert_error(422, "validation_failed");
        app.send_order(&s, &id("json"), "{not json")
            .await
            .assert_error(400, "invalid_json");
        let conflict = id("conflict");
        app.send_order(&s, &conflict, &good).await;
        app.send_order(&s, &conflict, &order_body(None, "SHIPPED"))
            .await
            .assert_error(409, "idempotency_conflict");
        let text = [
            ("X-API-Key", s.key_id.clone()),
            ("webhook-id", id("text")),
            ("webhook-timestamp", app.now().to_string()),
            (
                "webhook-signature",
                sign(&s.secret, &id("text"), app.now(), good.as_bytes()),
            ),
            ("Content-Type", "text/plain".to_string()),
        ];
        app.post_webhook("/api/v1/webhooks/orders/", &text, good.clone())
            .await
            .assert_error(415, "unsupported_media_type");
        // Refused before authentication.
        app.send_signed(&s, forged, &id("forged"), app.now(), &good)
            .await
            .assert_error(401, "invalid_signature");
        app.send_signed(&s, &s.secret, &id("stale"), app.now() - 3600, &good)
            .await
            .assert_error(401, "timestamp_out_of_tolerance");
        app.post_webhook(
            "/api/v1/webhooks/orders/",
            &[("X-API-Key", s.key_id.clone())],
            good.clone(),
        )
        .await
        .assert_error(401, "missing_signature");
        app.send_order(
            &s,
            &id("big"),
            &format!("{{\"pad\": \"{}\"}}", "x".repeat(3000)),
        )
        .await
        .assert_error(413, "payload_too_large");
        app.send_order(&revoked, &id("revoked"), &good)
            .await
            .assert_error(403, "kyc_not_approved");
        let unknown = Sender {
            key_id: format!("hgk_guessed{i}"),
            ..app_sender_clone(&s)
        };
        app.send_order(&unknown, &id("unknown"), &good)
            .await
            .assert_error(401, "invalid_api_key");
    }
    let kinds = [
        "validation_failed",
        "invalid_json",
        "idempotency_conflict",
        "unsupported_media_type",
        "invalid_signature",
        "timestamp_out_of_tolerance",
        "missing_signature",
        "payload_too_large",
        "kyc_not_approved",
        "invalid_api_key",
    ];
    let expected: BTreeMap<String, u64> = kinds.iter().map(|k| (k.to_string(), N as u64)).collect();

    let admin = app.admin_browser().await;
    let chart = charted_rejections(&admin.page("/admin/").await);
    assert_eq!(chart, (N * kinds.len()) as u64);
    let stats = app.admin_get("/api/v1/stats?hours=24").await;
    let mut counted: BTreeMap<String, u64> = BTreeMap::new();
    for hour in stats.body["buckets"].as_array().expect("hourly buckets") {
        for (reason, n) in hour["rejected"].as_object().into_iter().flatten() {
            *counted.entry(reason.clone()).or_default() += n.as_u64().unwrap();
        }
    }
    assert_eq!(counted, expected, "the metrics count each kind N times");

    let listed = eventually("the list shows every rejection", || async {
        let html = admin
            .page("/admin/events?status=rejected&source=orders")
            .await;
        let listed = listed_rejections(&html);
        (listed == expected).then_some(listed)
    })
    .await;
    assert_eq!(listed.values().sum::<u64>(), chart);
    // The unknown key ids are the admins' alone: no merchant sees them.
    let shop = app.merchant_browser("chart@acme.example").await;
    let mine = shop.page("/events").await;
    assert!(!mine.contains("Invalid api key") && !mine.contains("hgk_guessed"));
    let reasons: BTreeSet<&str> = ["Invalid signature", "Timestamp out of tolerance"].into();
    for r in reasons {
        assert!(mine.contains(r), "{r} in the merchant's failures");
    }
}

fn app_sender_clone(s: &Sender) -> Sender {
    Sender {
        token: s.token.clone(),
        merchant_id: s.merchant_id.clone(),
        key_id: s.key_id.clone(),
        secret: s.secret.clone(),
    }
}
