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
