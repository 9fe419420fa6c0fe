//! The HTML pages over plain HTTP with a cookie-keeping client: login errors, CSRF, what needs a
//! session, session expiry, re-authentication and the confirmations of dangerous actions.

use crate::helpers::*;
use reqwest::StatusCode;
use std::time::Duration;

#[tokio::test]
async fn a_wrong_admin_password_rerenders_the_form_with_the_email_kept() {
    let app = spawn_app().await;
    let browser = app.browser();
    let res = browser
        .log_in("/admin/login", "root@example.com", "not the password")
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(!res.cookies().any(|c| c.name() == "hookgate_admin"));
    let html = res.text().await.unwrap();
    assert!(html.contains("Email or password is wrong."));
    assert!(html.contains("value=\"root@example.com\""));
    assert!(browser.cookie("hookgate_admin").is_none());
    let res = browser.get("/admin/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "still not logged in");
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_are_refused() {
    let app = spawn_app().await;
    let admin = app.admin_browser().await;
    for token in ["", "forged"] {
        let res = admin.post_form("/admin/logout", &[("csrf", token)]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("did not come from this site")
        );
    }
    // The session survived the refused logouts.
    let still = admin.get("/admin/").await;
    assert_eq!(still.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_cross_site_form_post_is_refused_even_with_a_valid_token() {
    let app = spawn_app().await;
    let admin = app.admin_browser().await;
    let csrf = csrf_in(&admin.page("/admin/").await);
    let res = admin
        .post_form_with(
            "/admin/logout",
            &[("csrf", csrf.as_str())],
            &[("Sec-Fetch-Site", "cross-site")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        admin.get("/admin/").await.status(),
        StatusCode::OK,
        "still signed in"
    );
    // The same token from the site itself works.
    let res = admin
        .post_form_with(
            "/admin/logout",
            &[("csrf", csrf.as_str())],
            &[("Sec-Fetch-Site", "same-origin")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn pages_need_their_own_kind_of_session() {
    let app = spawn_app().await;
    let anonymous = app.browser();
    for (path, login) in [
        ("/admin/", "/admin/login"),
        ("/admin/kyc", "/admin/login"),
        ("/", "/login"),
    ] {
        let res = anonymous.get(path).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(res.headers()["location"], login);
    }
    // An admin session is not a merchant session.
    let admin = app.admin_browser().await;
    let res = admin.get("/").await;
    assert_eq!(res.headers()["location"], "/login");
    // No state change on GET: logout and decisions are POST only.
    let res = admin.get("/admin/logout").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = admin.get("/admin/nope").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn static_assets_are_embedded_with_etags() {
    let app = spawn_app().await;
    let css = app
        .client
        .get(app.url("/static/style.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let etag = css.headers()["etag"].to_str().unwrap().to_string();
    let again = app
        .client
        .get(app.url("/static/style.css"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let js = app
        .client
        .get(app.url("/static/app.js"))
        .send()
        .await
        .unwrap();
    assert!(js.text().await.unwrap().contains("data-copy"));
    assert_eq!(
        app.client
            .get(app.url("/static/nope.js"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

/// The colours of one `:root { … }` block of the stylesheet (`--name: #rgb` or `#rrggbb`), as
/// `#rrggbb`.
fn palette(block: &str) -> std::collections::HashMap<String, String> {
    block
        .split(';')
        .filter_map(|decl| {
            let (name, value) = decl.split_once(':')?;
            let name = name.trim().rsplit("--").next()?;
            let hex = value.trim().strip_prefix('#')?;
            let hex = match hex.len() {
                3 => hex.chars().flat_map(|c| [c, c]).collect(),
                6 => hex.to_string(),
                _ => return None,
            };
            Some((name.to_string(), format!("#{hex}")))
        })
        .collect()
}

/// WCAG 2 contrast ratio of two `#rrggbb` colours.
fn contrast(a: &str, b: &str) -> f64 {
    let luminance = |hex: &str| {
        let channel = |i: usize| {
            let c = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
            if c <= 0.03928 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
    };
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// Text on its background, badges and alerts included, is at least 4.5:1 (WCAG AA) in the light
/// scheme and in the dark one (`prefers-color-scheme: dark`).
#[tokio::test]
async fn text_colours_contrast_at_least_4_5_to_1_in_both_schemes() {
    let app = spawn_app().await;
    let css = app
        .client
        .get(app.url("/static/style.css"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let root = |from: usize| {
        let start = from + css[from..].find(":root {").unwrap() + ":root {".len();
        let end = start + css[start..].find('}').unwrap();
        palette(&css[start..end])
    };
    let light = root(0);
    let dark = root(css.find("@media (prefers-color-scheme: dark)").unwrap());
    let pairs = [
        ("fg", "bg"),
        ("fg", "card"),
        ("fg", "field"),
        ("muted", "card"),
        ("muted", "bg"),
        ("accent", "card"),
        ("on-accent", "accent"),
        ("on-accent", "bad"),
        ("on-accent", "button-2"),
        ("top-fg", "top"),
        ("badge-fg", "badge-bg"),
        ("ok-fg", "ok-bg"),
        ("warn-fg", "warn-bg"),
        ("bad-fg", "bad-bg"),
        ("code-fg", "code-bg"),
    ];
    for (scheme, colours) in [("light", &light), ("dark", &dark)] {
        for (text, background) in pairs {
            let (Some(t), Some(b)) = (colours.get(text), colours.get(background)) else {
                panic!("--{text} or --{background} missing from the {scheme} scheme");
            };
            let ratio = contrast(t, b);
            assert!(
                ratio >= 4.5,
                "{scheme}: --{text} {t} on --{background} {b} is {ratio:.2}:1"
            );
        }
    }
    // Every badge kind takes its colours from those pairs, none from a literal.
    for rule in css.lines().filter(|l| l.starts_with(".badge")) {
        assert!(!rule.contains(": #"), "a literal colour in {rule}");
    }
}

/// Every page opens with a link that skips the navigation to the page's content.
#[tokio::test]
async fn pages_start_with_a_skip_link_to_the_content() {
    let app = spawn_app().await;
    for path in ["/login", "/signup", "/admin/login"] {
        let page = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        let html = page.text().await.unwrap();
        let skip = html.find(r##"<a class="skip" href="#main">"##);
        let nav = html.find("<nav");
        assert!(
            skip.is_some() && skip < nav,
            "{path}: no skip link before the navigation"
        );
        assert!(html.contains(r#"<main id="main""#), "{path}: no target");
    }
}

#[tokio::test]
async fn an_idle_session_expires() {
    let app = spawn_app().await;
    let admin = app.admin_browser().await;
    assert_eq!(admin.get("/admin/").await.status(), StatusCode::OK);
    app.advance(minutes(29));
    assert_eq!(
        admin.get("/admin/").await.status(),
        StatusCode::OK,
        "29 minutes idle is not yet too long"
    );
    app.advance(minutes(31));
    let res = admin.get("/admin/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/admin/login");
}

#[tokio::test]
async fn a_session_ends_after_twelve_hours_however_active() {
    let app = spawn_app().await;
    let admin = app.admin_browser().await;
    // Active every 20 minutes, so never idle for long.
    for _ in 0..(12 * 3) {
        assert_eq!(admin.get("/admin/").await.status(), StatusCode::OK);
        app.advance(minutes(20));
    }
    app.advance(Duration::from_secs(1));
    let res = admin.get("/admin/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/admin/login");
}

#[tokio::test]
async fn revealing_asks_for_the_password_again_after_ten_minutes_and_is_audited() {
    let app = spawn_app().await;
    app.approved_merchant("reveal@acme.example").await;
    let shop = app.merchant_browser("reveal@acme.example").await;
    let page = shop.page("/").await;
    let csrf = csrf_in(&page);
    assert!(
        !page.contains("name=\"password\""),
        "a fresh login reveals without re-asking"
    );

    app.advance(minutes(11));
    let page = shop.page("/").await;
    assert!(
        page.contains("name=\"password\""),
        "an older login is asked for the password"
    );
    let refused = shop
        .post_form(
            "/secret/reveal",
            &[("csrf", csrf.as_str()), ("password", "not the password")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(
        !refused
            .text()
            .await
            .unwrap()
            .contains("id=\"secret-value\"")
    );

    let revealed = shop
        .post_form(
            "/secret/reveal",
            &[("csrf", csrf.as_str()), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(revealed.status(), StatusCode::OK);
    assert_eq!(revealed.headers()["cache-control"], "no-store");
    let html = revealed.text().await.unwrap();
    let shown = html
        .split("id=\"secret-value\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    let token = app.token_for("reveal@acme.example").await;
    let api = app.get_as("/api/v1/webhook/secret/", &token).await;
    assert_eq!(api.body["secret_key"], shown);
    let audit = app.admin_get("/api/v1/admin/audit?limit=200").await;
    let reveals = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "secret.revealed")
        .count();
    assert_eq!(
        reveals, 2,
        "the page reveal and the API reveal are both audited"
    );
}

#[tokio::test]
async fn rotating_from_the_dashboard_needs_the_confirmation() {
    let app = spawn_app().await;
    let (token, _, _) = app.approved_merchant("rotate-ui@acme.example").await;
    let before = app.get_as("/api/v1/webhook/secret/", &token).await.body["secret_key"].clone();
    let shop = app.merchant_browser("rotate-ui@acme.example").await;
    let csrf = csrf_in(&shop.page("/").await);
    let unconfirmed = shop
        .post_form("/secret/rotate", &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(unconfirmed.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get_as("/api/v1/webhook/secret/", &token).await.body["secret_key"],
        before
    );
    let confirmed = shop
        .post_form(
            "/secret/rotate",
            &[("csrf", csrf.as_str()), ("confirm", "yes")],
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::SEE_OTHER);
    let after = app.get_as("/api/v1/webhook/secret/", &token).await;
    assert_ne!(after.body["secret_key"], before);
    assert_eq!(after.body["previous"]["secret_key"], before);
}

#[tokio::test]
async fn an_admin_revokes_from_the_merchant_page_with_a_confirmation_and_a_reason() {
    let app = spawn_app().await;
    let (token, merchant_id, _) = app.approved_merchant("revoke-ui@acme.example").await;
    let admin = app.admin_browser().await;
    let page = admin.page(&format!("/admin/merchants/{merchant_id}")).await;
    assert!(
        page.contains("Revoke approval") && !page.contains("id=\"confirm-revoke\""),
        "first a link, no form"
    );
    let confirm = admin
        .page(&format!("/admin/merchants/{merchant_id}?confirm=revoke"))
        .await;
    assert!(confirm.contains("id=\"confirm-revoke\""));
    let csrf = csrf_in(&confirm);
    let revoke = format!("/admin/merchants/{merchant_id}/revoke");
    let no_reason = admin
        .post_form(&revoke, &[("csrf", csrf.as_str()), ("reason", " ")])
        .await;
    assert_eq!(no_reason.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get_as("/api/v1/me", &token).await.body["kyc_status"],
        "approved"
    );
    let done = admin
        .post_form(
            &revoke,
            &[("csrf", csrf.as_str()), ("reason", "chargebacks")],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get_as("/api/v1/me", &token).await.body["kyc_status"],
        "revoked"
    );
    app.get_as("/api/v1/webhook/secret/", &token)
        .await
        .assert_error(403, "kyc_required");
    let audit = app.admin_get("/api/v1/admin/audit").await;
    assert!(
        audit.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "kyc.revoked" && e["actor"] == "admin:root@example.com")
    );
}

/// In a form answered with field errors, every control in error is `aria-invalid` and described
/// by its error's text, and the first one has the focus.
fn assert_accessible_errors(html: &str, fields: &[&str]) {
    for name in fields {
        let tag_start = html
            .find(&format!(r#"name="{name}""#))
            .unwrap_or_else(|| panic!("no control {name}"));
        let open = html[..tag_start].rfind('<').unwrap();
        let tag = &html[open..open + html[open..].find('>').unwrap()];
        assert!(tag.contains(r#"aria-invalid="true""#), "{name}: {tag}");
        let described = tag
            .split(r#"aria-describedby=""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("{name} is described by nothing: {tag}"));
        assert!(
            html.contains(&format!(r#"<p class="field-error" id="{described}">"#)),
            "{name}: no error text {described}"
        );
    }
    assert_eq!(
        html.matches(" autofocus").count(),
        1,
        "one control has the focus"
    );
}

#[tokio::test]
async fn field_errors_are_announced_on_the_sign_up_and_admin_forms() {
    let app = spawn_app_with(|o| o.destination_allow = Some("127.0.0.1/32".into())).await;
    let visitor = app.browser();
    let html = visitor.page("/signup").await;
    let res = visitor
        .post_form(
            "/signup",
            &[
                ("csrf", &csrf_in(&html)),
                ("business_name", ""),
                ("email", "not an email"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert_accessible_errors(&html, &["business_name", "email", "password"]);

    let admin = app.admin_browser().await;
    let html = admin.page("/admin/destinations").await;
    let res = admin
        .post_form(
            "/admin/destinations",
            &[("csrf", &csrf_in(&html)), ("name", ""), ("url", "ftp://x")],
        )
        .await;
    let html = res.text().await.unwrap();
    assert_accessible_errors(&html, &["name", "url"]);
}
