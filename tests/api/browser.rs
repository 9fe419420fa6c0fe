//! The browser: the real server driven through headless Chromium, from first-run setup to a
//! webhook showing up in both dashboards. Screenshots of the main pages go to docs/screenshots/.

use crate::helpers::*;
use crate::webdriver::{Browser, Driver, chromedriver_path};
use hookgate::{
    cli::GlobalOptions,
    clock::{Clock, ShiftedClock},
    config::Config,
    startup::Application,
};
use reqwest::StatusCode;
use std::{path::PathBuf, sync::Arc};

pub(crate) fn skip() -> bool {
    if std::env::var("HOOKGATE_SKIP_BROWSER_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("browser tests skipped: HOOKGATE_SKIP_BROWSER_TESTS=1");
        return true;
    }
    if let Err(e) = chromedriver_path() {
        panic!("{e}");
    }
    false
}

/// Where to save a screenshot; only with HOOKGATE_SCREENSHOTS=1, so a plain test run does not
/// rewrite the committed images.
pub fn shot(name: &str) -> Option<PathBuf> {
    std::env::var("HOOKGATE_SCREENSHOTS")
        .is_ok_and(|v| v == "1")
        .then(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("docs/screenshots")
                .join(format!("{name}.png"))
        })
}

/// A server with no admin yet; returns its address, the setup link, its clock and the temp dir.
async fn fresh_server() -> (String, String, Arc<ShiftedClock>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let opts = GlobalOptions {
        data_dir: Some(dir.path().join("data")),
        bind: Some("127.0.0.1:0".into()),
        ..Default::default()
    };
    let mut config = Config::resolve(&opts).unwrap();
    let app_probe = Application::build(config.clone()).unwrap();
    let port = app_probe.port();
    drop(app_probe);
    // Build again with the public URL on the real port, as `--public-url` would be set.
    config.bind = format!("127.0.0.1:{port}").parse().unwrap();
    config.public_url = format!("http://127.0.0.1:{port}");
    let clock = Arc::new(ShiftedClock::default());
    let app = Application::build_with_clock(config, clock.clone()).unwrap();
    let hint = app
        .first_admin_hint()
        .await
        .unwrap()
        .expect("no admin exists yet");
    let link = hint
        .lines()
        .find(|l| l.contains("/admin/setup?token="))
        .unwrap()
        .trim()
        .to_string();
    tokio::spawn(app.run());
    (format!("http://127.0.0.1:{port}"), link, clock, dir)
}

pub(crate) async fn wait_for_text(b: &Browser, css: &str, needle: &str) -> String {
    let found = poll(|| async { b.try_text(css).await.filter(|t| t.contains(needle)) }).await;
    match found {
        Some(t) => t,
        None => panic!(
            "{css} never contained {needle:?}; page:\n{}",
            b.source().await
        ),
    }
}

#[tokio::test]
async fn a_merchant_goes_from_sign_up_to_an_accepted_webhook_in_the_browser() {
    if skip() {
        return;
    }
    let (base, setup_link, clock, _dir) = fresh_server().await;
    let driver = Driver::start().await;
    let admin = driver.browser().await;
    let shop = driver.browser().await;

    // First run: the one-time link creates the first admin and logs them in.
    admin.goto(&setup_link).await;
    admin.fill("input[name=email]", "root@acme.example").await;
    admin.fill("input[name=password]", PASSWORD).await;
    admin.click("button[type=submit]").await;
    wait_for_text(&admin, "h1", "Dashboard").await;
    assert!(admin.current_url().await.ends_with("/admin/"));
    // The link is single-use.
    let reused = reqwest::get(&setup_link).await.unwrap();
    assert_eq!(reused.status(), StatusCode::NOT_FOUND);

    // The merchant signs up; a weak password is refused next to the field, input kept.
    shop.goto(&format!("{base}/signup")).await;
    shop.fill("input[name=business_name]", "Acme Stores").await;
    shop.fill("input[name=email]", "owner@acme.example").await;
    shop.fill("input[name=password]", "short").await;
    shop.click("#signup").await;
    wait_for_text(&shop, ".field-error", "12 characters").await;
    assert_eq!(
        shop.execute("return document.querySelector('input[name=business_name]').value")
            .await,
        "Acme Stores"
    );
    shop.resize(390, 844).await;
    shop.screenshot(shot("merchant-signup-phone")).await;
    shop.resize(1280, 900).await;
    shop.fill("input[name=password]", PASSWORD).await;
    shop.click("#signup").await;
    wait_for_text(&shop, "h1", "Verify your email").await;

    // The admin reads the code in the outbox page; the merchant enters it.
    admin
        .goto(&format!("{base}/admin/outbox?to=owner@acme.example"))
        .await;
    let mail = wait_for_text(&admin, "article.mail", "verification code").await;
    let code: String = mail
        .split("verification code: ")
        .nth(1)
        .unwrap()
        .chars()
        .take(6)
        .collect();
    shop.fill("input[name=code]", &code).await;
    shop.click("#verify").await;
    wait_for_text(&shop, ".alert.ok", "verified").await;
    shop.fill("input[name=password]", PASSWORD).await;
    shop.click("#login").await;
    wait_for_text(&shop, "#kyc-status", "Not submitted").await;

    // KYC with a real file upload.
    let doc = _dir.path().join("registration.pdf");
    std::fs::write(&doc, pdf()).unwrap();
    shop.fill("input[name=legal_name]", "Acme Stores Limited")
        .await;
    shop.fill("input[name=registration_number]", "RC-1234567")
        .await;
    shop.fill("input[name=country]", "NG").await;
    shop.fill("textarea[name=address]", "123 Main St, Lagos")
        .await;
    shop.fill("input[name=contact_phone]", "+2348123456789")
        .await;
    shop.fill("input[name=document]", doc.to_str().unwrap())
        .await;
    shop.click("#submit-kyc").await;
    wait_for_text(&shop, "#kyc-status", "Waiting for review").await;

    // The admin reviews: every field, the document link, and approves.
    admin.goto(&format!("{base}/admin/")).await;
    assert_eq!(admin.text("#pending-kyc").await, "1");
    admin.click("#pending-kyc").await;
    admin.click("table a[href^='/admin/kyc/kyc_']").await;
    wait_for_text(&admin, "dl.fields", "RC-1234567").await;
    let doc_href = admin
        .execute("return document.getElementById('view-document').href")
        .await;
    let admin_cookie = admin
        .cookie("hookgate_admin")
        .await
        .expect("admin session cookie");
    let admin_http = BrowserSession::new(&base);
    admin_http.set_cookie("hookgate_admin", &admin_cookie);
    let document = admin_http
        .get(doc_href.as_str().unwrap().strip_prefix(&base).unwrap())
        .await;
    assert_eq!(document.headers()["content-type"], "application/pdf");
    assert!(
        document.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
    assert_eq!(document.bytes().await.unwrap().to_vec(), pdf());
    admin.screenshot(shot("admin-kyc-review")).await;
    admin.click("#approve").await;
    wait_for_text(&admin, "#kyc-status", "Approved").await;
    admin.goto(&format!("{base}/admin/audit")).await;
    wait_for_text(&admin, "table", "Kyc approved").await;

    // The merchant reveals and copies the secret.
    shop.goto(&format!("{base}/")).await;
    wait_for_text(&shop, "#kyc-status", "Approved").await;
    let key_id = shop.text("#key-id").await;
    assert!(key_id.starts_with("hgk_"));
    assert!(
        shop.text("#snippet-curl").await.contains(&key_id),
        "snippets carry the key id"
    );
    shop.click("#reveal").await;
    let secret = wait_for_text(&shop, "#secret-value", "whsec_").await;
    shop.click("#copy-secret").await;
    wait_for_text(&shop, "#copy-secret", "Copied").await;
    // The key id, the endpoint and every snippet have their own copy button.
    for button in [
        "#copy-key-id",
        "#copy-endpoint",
        "#copy-snippet-curl",
        "#copy-snippet-python",
        "#copy-snippet-node",
    ] {
        shop.click(button).await;
        wait_for_text(&shop, button, "Copied").await;
    }

    // A webhook signed with the revealed secret is accepted...
    let body = order_body(Some("SO-42"), "PENDING");
    let ts = clock.now();
    let res = reqwest::Client::new()
        .post(format!("{base}/api/v1/webhooks/orders/"))
        .header("X-API-Key", &key_id)
        .header("webhook-id", "msg_browser_1")
        .header("webhook-timestamp", ts.to_string())
        .header(
            "webhook-signature",
            sign(&secret, "msg_browser_1", ts, body.as_bytes()),
        )
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let order_id = res.json::<serde_json::Value>().await.unwrap()["order_id"]
        .as_str()
        .unwrap()
        .to_string();

    // ...and shows up in both dashboards.
    shop.goto(&format!("{base}/")).await;
    wait_for_text(&shop, "#orders", &order_id).await;
    wait_for_text(&shop, "#events", "msg_browser_1").await;
    shop.resize(1280, 2200).await;
    shop.screenshot(shot("merchant-dashboard")).await;
    shop.resize(390, 844).await;
    shop.screenshot(shot("merchant-dashboard-phone")).await;
    shop.resize(1280, 900).await;
    admin.goto(&format!("{base}/admin/events")).await;
    wait_for_text(&admin, "table", "msg_browser_1").await;
    admin.click("table a[href^='/admin/events/evt_']").await;
    wait_for_text(&admin, "#event-body", "John Doe").await;
    assert!(
        !admin.source().await.contains("webhook-signature"),
        "signatures are never shown"
    );
    admin.screenshot(shot("admin-event")).await;
    admin.goto(&format!("{base}/admin/")).await;
    wait_for_text(&admin, "#stat-total", "1").await;
    admin.resize(1280, 1400).await;
    admin.screenshot(shot("admin-dashboard")).await;

    // A merchant session does not open admin pages.
    shop.goto(&format!("{base}/admin/")).await;
    assert!(shop.current_url().await.ends_with("/admin/login"));

    // A POST without its CSRF token is refused.
    shop.goto(&format!("{base}/")).await;
    shop.execute(
        "const f = document.querySelector('form[action=\"/secret/rotate\"]'); \
                  f.querySelector('input[name=csrf]').remove(); \
                  f.querySelector('input[name=confirm]').checked = true; f.submit(); return 1",
    )
    .await;
    wait_for_text(&shop, "h1", "403").await;

    // Logging out invalidates the session on the server, not just in the browser.
    shop.goto(&format!("{base}/")).await;
    let cookie = shop
        .cookie("hookgate_merchant")
        .await
        .expect("merchant session cookie");
    shop.click("#logout").await;
    wait_for_text(&shop, ".alert.ok", "logged out").await;
    let replay_session = BrowserSession::new(&base);
    replay_session.set_cookie("hookgate_merchant", &cookie);
    let replay = replay_session.get("/").await;
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    assert_eq!(replay.headers()["location"], "/login");

    admin.quit().await;
    shop.quit().await;
}
