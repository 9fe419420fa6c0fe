//! The admin API: authentication, the KYC queue, documents, outbox and audit pagination.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn admin_endpoints_require_an_admin_token() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/admin/kyc",
        "/api/v1/admin/outbox",
        "/api/v1/admin/audit",
    ] {
        let res = Res::from(app.client.get(app.url(path)).send().await.unwrap()).await;
        res.assert_error(401, "unauthorized");
        app.get_as(path, "hga_not-a-real-token")
            .await
            .assert_error(401, "unauthorized");
    }
}

#[tokio::test]
async fn the_queue_lists_pending_submissions_oldest_first() {
    let app = spawn_app().await;
    let a = app.verified_merchant("first@acme.example").await;
    let b = app.verified_merchant("second@acme.example").await;
    let ka = app.submit_kyc(&a, pdf()).await.body["kyc_id"]
        .as_str()
        .unwrap()
        .to_string();
    let kb = app.submit_kyc(&b, pdf()).await.body["kyc_id"]
        .as_str()
        .unwrap()
        .to_string();
    let list = app.admin_get("/api/v1/admin/kyc?status=pending").await;
    assert_eq!(list.status, StatusCode::OK);
    let ids: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kyc_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [ka.as_str(), kb.as_str()]);
    let item = &list.body[0];
    for field in [
        "merchant_id",
        "business_name",
        "legal_name",
        "country",
        "status",
        "submitted_at",
    ] {
        assert!(!item[field].is_null(), "{field} missing in {item}");
    }
    app.admin_post(&format!("/api/v1/admin/kyc/{ka}/approve"), json!({}))
        .await;
    let pending = app.admin_get("/api/v1/admin/kyc?status=pending").await;
    assert_eq!(pending.body.as_array().unwrap().len(), 1);
    app.admin_get("/api/v1/admin/kyc?status=bogus")
        .await
        .assert_error(422, "validation_failed");
    app.admin_get("/api/v1/admin/kyc/kyc_missing")
        .await
        .assert_error(404, "kyc_not_found");
}

#[tokio::test]
async fn the_document_downloads_as_an_attachment_with_its_exact_bytes() {
    let app = spawn_app().await;
    let token = app.verified_merchant("docs@acme.example").await;
    let kyc_id = app.submit_kyc(&token, pdf()).await.body["kyc_id"]
        .as_str()
        .unwrap()
        .to_string();
    let detail = app.admin_get(&format!("/api/v1/admin/kyc/{kyc_id}")).await;
    assert_eq!(detail.body["legal_name"], "Acme Stores Limited");
    assert_eq!(detail.body["document"]["content_type"], "application/pdf");
    let res = app
        .client
        .get(app.url(&format!("/api/v1/admin/kyc/{kyc_id}/document")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert_eq!(res.bytes().await.unwrap().to_vec(), pdf());
}

#[tokio::test]
async fn approving_without_a_body_works_and_unknown_merchants_cannot_be_revoked() {
    let app = spawn_app().await;
    let token = app.verified_merchant("nobody@acme.example").await;
    let kyc_id = app.submit_kyc(&token, pdf()).await.body["kyc_id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = Res::from(
        app.client
            .post(app.url(&format!("/api/v1/admin/kyc/{kyc_id}/approve")))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    app.admin_post(
        "/api/v1/admin/merchants/mer_missing/revoke",
        json!({"reason": "x"}),
    )
    .await
    .assert_error(404, "merchant_not_found");
    let me = app.get_as("/api/v1/me", &token).await;
    let mid = me.body["merchant_id"].as_str().unwrap();
    app.admin_post(&format!("/api/v1/admin/merchants/{mid}/revoke"), json!({}))
        .await
        .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn the_audit_log_pages_with_a_cursor() {
    let app = spawn_app().await;
    for i in 0..3 {
        app.register(&format!("m{i}@acme.example")).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/admin/audit?limit=2&cursor={c}"),
            None => "/api/v1/admin/audit?limit=2".to_string(),
        };
        let page = app.admin_get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        for item in items {
            for field in ["at", "actor", "action", "target", "details"] {
                assert!(item.get(field).is_some(), "{field} missing");
            }
            seen.push(item.clone());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    // 3 registrations + admin created + token minted, newest first, none twice.
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert_eq!(seen[0]["action"], "merchant.registered");
    assert_eq!(seen[4]["action"], "admin.created");
    app.admin_get("/api/v1/admin/audit?cursor=garbage")
        .await
        .assert_error(422, "validation_failed");
    app.admin_get("/api/v1/admin/audit?limit=0")
        .await
        .assert_error(422, "validation_failed");
}

/// A fresh installation's dashboard lists the first steps; each is ticked as it is taken, and the
/// checklist goes away once all are done.
#[tokio::test]
async fn the_dashboard_checklist_ticks_each_first_step_and_then_goes_away() {
    let app = spawn_app_with(|o| o.destination_allow = Some("127.0.0.1/32".into())).await;
    let admin = app.admin_browser().await;
    // (steps, steps done) of the checklist on the dashboard; None when it is not shown.
    let checklist = || async {
        let html = admin.page("/admin/").await;
        let list = html.split(r#"<ol class="checklist">"#).nth(1)?;
        let list = list.split("</ol>").next()?;
        Some((
            list.matches("<li").count(),
            list.matches(r#"<li class="done">"#).count(),
        ))
    };
    assert_eq!(checklist().await, Some((4, 0)));
    assert!(
        admin.page("/admin/").await.contains("/signup"),
        "the sign-up link"
    );

    let created = app
        .admin_post(
            "/api/v1/admin/sources",
            json!({"slug": "gh", "kind": "github", "secret": "s3cret"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(checklist().await, Some((4, 1)));
    let created = app
        .admin_post(
            "/api/v1/admin/destinations",
            json!({"name": "App", "url": "http://127.0.0.1:9/"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(checklist().await, Some((4, 2)));
    app.verified_merchant("first@acme.example").await;
    assert_eq!(checklist().await, Some((4, 3)));
    app.approved_merchant("second@acme.example").await;
    assert_eq!(checklist().await, None, "all done");
}

/// The audit page names what each entry is about and shows times as dates; the CSV download
/// streams every entry, across pages, with spreadsheet formulas defused.
#[tokio::test]
async fn the_audit_log_reads_as_words_and_downloads_whole_as_csv() {
    let app = spawn_app_with(|o| o.destination_allow = Some("127.0.0.1/32".into())).await;
    app.approved_merchant("audited@acme.example").await;
    let admin = app.admin_browser().await;
    let html = admin.page("/admin/audit").await;
    assert!(html.contains("Kyc approved"), "actions as words");
    assert!(
        html.contains("Acme Stores (audited@acme.example)"),
        "the merchant's name"
    );
    assert!(html.contains(" UTC"), "times as dates");
    assert!(!html.contains("{&quot;"), "no raw JSON objects");

    // More entries than one page of the download (500), one with a name a spreadsheet would run.
    for n in 0..520 {
        let name = if n == 0 {
            "=HYPERLINK(\"x\")".to_string()
        } else {
            format!("App {n}")
        };
        let created = app
            .admin_post(
                "/api/v1/admin/destinations",
                json!({"name": name, "url": format!("http://127.0.0.1:9/{n}")}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
    }
    let html = admin.page("/admin/audit").await;
    assert!(
        html.contains(">App 519</a>"),
        "the destination's name, linked"
    );

    let all = app.admin_get("/api/v1/admin/audit?limit=100").await;
    let mut count = all.body["items"].as_array().unwrap().len();
    let mut cursor = all.body["next_cursor"].as_str().map(str::to_string);
    while let Some(c) = cursor {
        let page = app
            .admin_get(&format!("/api/v1/admin/audit?limit=100&cursor={c}"))
            .await;
        count += page.body["items"].as_array().unwrap().len();
        cursor = page.body["next_cursor"].as_str().map(str::to_string);
    }
    assert!(count > 520, "{count}");
    let csv = admin.get("/admin/audit.csv").await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let text = csv.text().await.unwrap();
    let records: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(records[0], "at,actor,action,target,details");
    assert_eq!(
        records.len(),
        count + 1,
        "every entry once, after the header"
    );
    assert!(records.iter().any(|r| r.contains("kyc.approved")));
    // The formula stays inside the details JSON, so the cell starts with `{`, not `=`; none of
    // the cells starts with a formula character unguarded.
    for r in &records[1..] {
        for cell in r.split(',') {
            assert!(!cell.starts_with(['=', '+', '@']), "{r}");
        }
    }
    assert!(admin.get("/admin/audit.csv").await.status().is_success());
    let anonymous = app.browser().get("/admin/audit.csv").await;
    assert_ne!(anonymous.status(), StatusCode::OK, "admins only");
}

/// The sum of a chart series' values, read from the bars' titles ("<label> <series>: <n>").
fn series_total(html: &str, series: &str) -> u64 {
    html.split("<title>")
        .filter_map(|t| t.split("</title>").next())
        .filter_map(|t| t.split_once(&format!(" {series}: ")))
        .map(|(_, n)| n.parse::<u64>().unwrap())
        .sum()
}

/// The dashboard's charts cover 24 hours, 7 days or 30 days, in bars of an hour, six hours or a
/// day.
#[tokio::test]
async fn the_dashboard_charts_span_a_day_a_week_or_a_month() {
    let app = spawn_app().await;
    let s = app.sender("charts@acme.example").await;
    app.send_order(&s, "w-1", &order_body(Some("a"), "PENDING"))
        .await;
    app.send_order(&s, "w-2", &order_body(Some("b"), "PENDING"))
        .await;
    app.advance(days(3));
    app.send_order(&s, "w-3", &order_body(Some("c"), "PENDING"))
        .await;
    let admin = app.admin_browser().await;
    let day = admin.page("/admin/").await;
    assert!(day.contains("Webhooks per hour"));
    assert_eq!(series_total(&day, "accepted"), 1, "the last 24 hours");
    let week = admin.page("/admin/?range=7d").await;
    assert!(week.contains("Webhooks per 6 hours"));
    assert!(week.contains(r#"href="/admin/?range=7d" aria-current="true""#));
    assert_eq!(series_total(&week, "accepted"), 3, "the last 7 days");
    let month = admin.page("/admin/?range=30d").await;
    assert!(month.contains("Webhooks per day"));
    assert_eq!(series_total(&month, "accepted"), 3);
    // An unknown span falls back to 24 hours.
    assert_eq!(
        series_total(&admin.page("/admin/?range=1y").await, "accepted"),
        1
    );
}

/// KYC statuses read as words in the console, never as their stored codes.
#[tokio::test]
async fn the_console_shows_kyc_statuses_as_words() {
    let app = spawn_app().await;
    let token = app.verified_merchant("words@acme.example").await;
    let submitted = app.submit_kyc(&token, pdf()).await;
    assert_eq!(submitted.status, StatusCode::CREATED);
    let admin = app.admin_browser().await;
    let queue = admin.page("/admin/kyc").await;
    assert!(queue.contains(">Waiting for review</span>"), "{queue}");
    assert!(
        queue.contains(">Changes requested</option>"),
        "the filter in words"
    );
    let merchants = admin.page("/admin/merchants").await;
    assert!(merchants.contains(">Waiting for review</span>"));
    for page in [&queue, &merchants] {
        assert!(!page.contains(">changes_requested<") && !page.contains(">pending</span>"));
    }
}

/// The deliveries list is filtered by picking a destination by name, and states read as words.
#[tokio::test]
async fn deliveries_are_filtered_by_a_destination_picked_by_name() {
    let app = spawn_app_with(|o| o.destination_allow = Some("127.0.0.1/32".into())).await;
    let created = app
        .admin_post(
            "/api/v1/admin/destinations",
            json!({"name": "Warehouse", "url": "http://127.0.0.1:9/"}),
        )
        .await;
    let id = created.body["destination_id"].as_str().unwrap().to_string();
    let admin = app.admin_browser().await;
    let html = admin.page("/admin/deliveries").await;
    assert!(
        html.contains(&format!(r#"<option value="{id}" >Warehouse</option>"#)),
        "{html}"
    );
    let html = admin
        .page(&format!("/admin/deliveries?destination_id={id}"))
        .await;
    assert!(html.contains(&format!(
        r#"<option value="{id}" selected>Warehouse</option>"#
    )));
    let list = admin.page("/admin/destinations").await;
    assert!(list.contains(">Closed</span>"), "the circuit in words");
}
