//! The HTML pages over plain HTTP: escaping, login errors, CSRF, and what needs a session.

use crate::helpers::*;
use reqwest::{StatusCode, redirect::Policy};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The value of `name=` in the Set-Cookie headers of a response.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix(&format!("{name}="))
                .map(|rest| rest.split(';').next().unwrap_or_default().to_string())
        })
}

fn csrf_in(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

/// Log an admin in through the login form; returns the Cookie header for the session.
async fn admin_cookie(app: &TestApp) -> String {
    let client = no_redirects();
    let form = client.get(app.url("/admin/login")).send().await.unwrap();
    let pre = set_cookie(&form, "hookgate_pre").expect("pre-login cookie");
    let csrf = csrf_in(&form.text().await.unwrap());
    let res = client
        .post(app.url("/admin/login"))
        .header("Cookie", format!("hookgate_pre={pre}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "root@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let session = set_cookie(&res, "hookgate_admin").expect("session cookie");
    let attrs = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        attrs.contains("HttpOnly") && attrs.contains("SameSite=Lax"),
        "{attrs}"
    );
    format!("hookgate_admin={session}")
}

#[tokio::test]
async fn user_text_is_escaped_on_every_page() {
    let app = spawn_app().await;
    let res = app
        .post_json(
            "/api/v1/auth/register",
            serde_json::json!({
                "email": "xss@acme.example", "password": PASSWORD,
                "business_name": "<script>alert(1)</script> & \"Co\""
            }),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let cookie = admin_cookie(&app).await;
    let page = no_redirects()
        .get(app.url("/admin/merchants"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;Co&#34;"),
        "{html}"
    );
}

#[tokio::test]
async fn a_wrong_admin_password_rerenders_the_form_with_the_email_kept() {
    let app = spawn_app().await;
    let client = no_redirects();
    let form = client.get(app.url("/admin/login")).send().await.unwrap();
    let pre = set_cookie(&form, "hookgate_pre").unwrap();
    let csrf = csrf_in(&form.text().await.unwrap());
    let res = client
        .post(app.url("/admin/login"))
        .header("Cookie", format!("hookgate_pre={pre}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "root@example.com"),
            ("password", "not the password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&res, "hookgate_admin").is_none());
    let html = res.text().await.unwrap();
    assert!(html.contains("Email or password is wrong."));
    assert!(html.contains("value=\"root@example.com\""));
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_are_refused() {
    let app = spawn_app().await;
    let cookie = admin_cookie(&app).await;
    let client = no_redirects();
    for token in ["", "forged"] {
        let res = client
            .post(app.url("/admin/logout"))
            .header("Cookie", &cookie)
            .form(&[("csrf", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("did not come from this site")
        );
    }
    // The session survived the refused logouts.
    let still = client
        .get(app.url("/admin/"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), StatusCode::OK);
}

#[tokio::test]
async fn pages_need_their_own_kind_of_session() {
    let app = spawn_app().await;
    let client = no_redirects();
    for (path, login) in [
        ("/admin/", "/admin/login"),
        ("/admin/kyc", "/admin/login"),
        ("/", "/login"),
    ] {
        let res = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(res.headers()["location"], login);
    }
    // An admin session is not a merchant session.
    let cookie = admin_cookie(&app).await;
    let res = client
        .get(app.url("/"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/login");
    // No state change on GET: logout and decisions are POST only.
    let res = client
        .get(app.url("/admin/logout"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = client
        .get(app.url("/admin/nope"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
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

/// Sign a merchant in through the login form; returns the Cookie header for the session.
async fn merchant_cookie(app: &TestApp, email: &str) -> String {
    let client = no_redirects();
    let form = client.get(app.url("/login")).send().await.unwrap();
    let pre = set_cookie(&form, "hookgate_pre").expect("pre-login cookie");
    let csrf = csrf_in(&form.text().await.unwrap());
    let res = client
        .post(app.url("/login"))
        .header("Cookie", format!("hookgate_pre={pre}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    format!(
        "hookgate_merchant={}",
        set_cookie(&res, "hookgate_merchant").expect("session cookie")
    )
}

/// Move every session's clock back by `secs` (as if that much time had passed).
fn age_sessions(app: &TestApp, last_seen_secs: i64, authenticated_secs: i64) {
    let conn = rusqlite::Connection::open(app.data_dir.join("hookgate.db")).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    conn.execute(
        "UPDATE sessions SET last_seen_at = last_seen_at - ?1, authenticated_at = authenticated_at - ?2",
        [last_seen_secs, authenticated_secs],
    )
    .unwrap();
}

#[tokio::test]
async fn an_idle_session_expires() {
    let app = spawn_app().await;
    let cookie = admin_cookie(&app).await;
    let client = no_redirects();
    assert_eq!(
        client
            .get(app.url("/admin/"))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    age_sessions(&app, 31 * 60, 0);
    let res = client
        .get(app.url("/admin/"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/admin/login");
}

#[tokio::test]
async fn revealing_asks_for_the_password_again_after_ten_minutes_and_is_audited() {
    let app = spawn_app().await;
    app.approved_merchant("reveal@acme.example").await;
    let cookie = merchant_cookie(&app, "reveal@acme.example").await;
    let client = no_redirects();
    let page = client
        .get(app.url("/"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_in(&page);
    assert!(
        !page.contains("name=\"password\""),
        "a fresh login reveals without re-asking"
    );

    age_sessions(&app, 0, 11 * 60);
    let page = client
        .get(app.url("/"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("name=\"password\""),
        "an older login is asked for the password"
    );
    let refused = client
        .post(app.url("/secret/reveal"))
        .header("Cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("password", "not the password")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(
        !refused
            .text()
            .await
            .unwrap()
            .contains("id=\"secret-value\"")
    );

    let revealed = client
        .post(app.url("/secret/reveal"))
        .header("Cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
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
    let token = app.login("reveal@acme.example", PASSWORD).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
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
    let cookie = merchant_cookie(&app, "rotate-ui@acme.example").await;
    let client = no_redirects();
    let csrf = csrf_in(
        &client
            .get(app.url("/"))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let unconfirmed = client
        .post(app.url("/secret/rotate"))
        .header("Cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(unconfirmed.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get_as("/api/v1/webhook/secret/", &token).await.body["secret_key"],
        before
    );
    let confirmed = client
        .post(app.url("/secret/rotate"))
        .header("Cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("confirm", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), StatusCode::SEE_OTHER);
    let after = app.get_as("/api/v1/webhook/secret/", &token).await;
    assert_ne!(after.body["secret_key"], before);
    assert_eq!(after.body["previous"]["secret_key"], before);
}

#[tokio::test]
async fn an_admin_revokes_from_the_merchant_page_with_a_confirmation_and_a_reason() {
    let app = spawn_app().await;
    let (token, merchant_id, _) = app.approved_merchant("revoke-ui@acme.example").await;
    let cookie = admin_cookie(&app).await;
    let client = no_redirects();
    let page = client
        .get(app.url(&format!("/admin/merchants/{merchant_id}")))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Revoke approval") && !page.contains("id=\"confirm-revoke\""),
        "first a link, no form"
    );
    let confirm = client
        .get(app.url(&format!("/admin/merchants/{merchant_id}?confirm=revoke")))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(confirm.contains("id=\"confirm-revoke\""));
    let csrf = csrf_in(&confirm);
    let no_reason = client
        .post(app.url(&format!("/admin/merchants/{merchant_id}/revoke")))
        .header("Cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("reason", " ")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_reason.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get_as("/api/v1/me", &token).await.body["kyc_status"],
        "approved"
    );
    let done = client
        .post(app.url(&format!("/admin/merchants/{merchant_id}/revoke")))
        .header("Cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("reason", "chargebacks")])
        .send()
        .await
        .unwrap();
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
