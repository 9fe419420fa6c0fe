//! Every console page at a phone's width (390 px) in Chromium: nothing scrolls the page sideways,
//! no content spills out of its card, table action columns and charts stay on screen, chart
//! labels stay readable, and every copy button has something to copy.

use crate::browser::shot;
use crate::helpers::*;
use crate::webdriver::{Browser, Driver, chromedriver_path};
use serde_json::{Value, json};

/// What is wrong with the page in the browser now, one line each (empty: nothing).
const PROBLEMS: &str = r#"
const w = window.innerWidth, out = [];
const name = (el) => el.id ? '#' + el.id : el.tagName.toLowerCase() + '.' + [...el.classList].join('.');
if (document.documentElement.scrollWidth > w + 1)
  out.push('the page scrolls sideways: ' + document.documentElement.scrollWidth + ' > ' + w);
for (const card of document.querySelectorAll('.card, .stat')) {
  if (card.scrollWidth > card.clientWidth + 1)
    out.push('content spills out of ' + name(card) + ': ' + card.scrollWidth + ' > ' + card.clientWidth);
}
for (const row of document.querySelectorAll('table tr')) {
  const last = row.lastElementChild;
  if (!last || !last.querySelector('a, form, button')) continue;
  const r = last.getBoundingClientRect();
  if (r.left < 0 || r.right > w + 1) out.push('an action cell is off screen: ' + last.textContent.trim().slice(0, 40) + ' at ' + Math.round(r.left) + '..' + Math.round(r.right));
}
for (const chart of document.querySelectorAll('svg.chart')) {
  const r = chart.getBoundingClientRect();
  if (r.left < 0 || r.right > w + 1) out.push('a chart is off screen: ' + Math.round(r.left) + '..' + Math.round(r.right));
  for (const t of chart.querySelectorAll('text')) {
    const h = t.getBoundingClientRect().height;
    if (t.textContent && h < 9) { out.push('chart labels are ' + h.toFixed(1) + ' px tall'); break; }
  }
}
for (const button of document.querySelectorAll('[data-copy]')) {
  if (!document.getElementById(button.dataset.copy)) out.push('a copy button copies nothing: ' + button.dataset.copy);
}
return out;
"#;

async fn problems(b: &Browser, url: &str) -> Vec<String> {
    b.goto(url).await;
    match b.execute(PROBLEMS).await {
        Value::Array(items) => items
            .into_iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect(),
        other => panic!("{url}: {other}"),
    }
}

#[tokio::test]
async fn every_console_page_is_usable_at_a_phones_width() {
    if std::env::var("HOOKGATE_SKIP_BROWSER_TESTS").is_ok_and(|v| v == "1") {
        return;
    }
    chromedriver_path().unwrap();
    let app = spawn_app_with(|o| {
        o.destination_allow = Some("127.0.0.1/32".into());
        o.merchant_rate = Some("1000/s".into());
    })
    .await;
    // Something on every page: a merchant with orders, a source, a destination with deliveries.
    let s = app.sender("phone@acme.example").await;
    for n in 0..3 {
        app.send_order(&s, &format!("w-{n}"), &order_body(Some("r"), "PENDING"))
            .await;
    }
    let waiting = app.verified_merchant("waiting@acme.example").await;
    let submitted = app.submit_kyc(&waiting, pdf()).await;
    assert_eq!(submitted.status, reqwest::StatusCode::CREATED);
    let (sink, port) = Sink::start().await;
    let created = app
        .admin_post(
            "/api/v1/admin/sources",
            json!({"slug": "github-main", "kind": "github", "secret": "s3cret"}),
        )
        .await;
    let source_id = created.body["source_id"].as_str().unwrap().to_string();
    let d = destination(
        &app,
        json!({"name": "Warehouse app with a rather long name",
               "url": format!("http://127.0.0.1:{port}/hooks/incoming/with/a/long/path/that/goes/on")}),
    )
    .await;
    let destination_id = d["destination_id"].as_str().unwrap().to_string();
    app.send_order(&s, "w-9", &order_body(Some("r"), "SHIPPED"))
        .await;
    eventually("a delivery arrives", || async {
        (!sink.received().is_empty()).then_some(())
    })
    .await;
    let event_id = app.admin_get("/api/v1/admin/events").await.body["items"][0]["event_id"]
        .as_str()
        .unwrap()
        .to_string();
    let delivery_id = deliveries_of(&app, &destination_id).await[0]["delivery_id"]
        .as_str()
        .unwrap()
        .to_string();

    let driver = Driver::start().await;
    let b = driver.browser().await;
    b.resize(390, 844).await;
    b.goto(&app.url("/admin/login")).await;
    b.fill("input[name=email]", "root@example.com").await;
    b.fill("input[name=password]", PASSWORD).await;
    b.click("button[type=submit]").await;
    let mut found = Vec::new();
    for path in [
        "/admin/".to_string(),
        "/admin/kyc".into(),
        "/admin/merchants".into(),
        format!("/admin/merchants/{}", s.merchant_id),
        "/admin/sources".into(),
        format!("/admin/sources/{source_id}"),
        "/admin/destinations".into(),
        format!("/admin/destinations/{destination_id}"),
        format!("/admin/destinations/{destination_id}/edit"),
        "/admin/deliveries".into(),
        format!("/admin/deliveries/{delivery_id}"),
        "/admin/events".into(),
        format!("/admin/events/{event_id}"),
        "/admin/audit".into(),
        "/admin/outbox".into(),
        "/admin/admins".into(),
        "/admin/tokens".into(),
        "/admin/password".into(),
    ] {
        for p in problems(&b, &app.url(&path)).await {
            found.push(format!("{path}: {p}"));
        }
        let name = match path.as_str() {
            "/admin/" => "admin-dashboard-phone",
            "/admin/events" => "admin-events-phone",
            _ => continue,
        };
        b.screenshot(shot(name)).await;
    }
    let shop = driver.browser().await;
    shop.resize(390, 844).await;
    shop.goto(&app.url("/login")).await;
    shop.fill("input[name=email]", "phone@acme.example").await;
    shop.fill("input[name=password]", PASSWORD).await;
    shop.click("button[type=submit]").await;
    let webhook = app.admin_get("/api/v1/admin/events?merchant_id=").await;
    let merchant_event = webhook.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["merchant_id"] == s.merchant_id.as_str())
        .map(|e| e["event_id"].as_str().unwrap().to_string())
        .unwrap();
    for path in [
        "/".to_string(),
        "/orders".into(),
        "/events".into(),
        format!("/events/{merchant_event}"),
    ] {
        for p in problems(&shop, &app.url(&path)).await {
            found.push(format!("merchant {path}: {p}"));
        }
        match path.as_str() {
            "/events" => shop.screenshot(shot("merchant-events-phone")).await,
            "/orders" => shop.screenshot(shot("merchant-orders-phone")).await,
            _ => {}
        }
    }
    // The same pages at a desktop's width, for the README.
    shop.resize(1280, 900).await;
    shop.goto(&app.url("/events")).await;
    shop.screenshot(shot("merchant-events")).await;
    b.resize(1280, 900).await;
    b.goto(&app.url("/admin/events")).await;
    b.screenshot(shot("admin-events")).await;
    b.quit().await;
    shop.quit().await;
    assert!(found.is_empty(), "at 390 px:\n{}", found.join("\n"));
}
