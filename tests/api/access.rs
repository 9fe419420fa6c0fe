//! Recovery and cutting access: merchant password reset by emailed code, admin password change,
//! admin API tokens (expiry, revocation, listing), the admins page, and reinstating a revoked
//! merchant — through the pages and the API of the running server.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

impl TestApp {
    /// Every email to `to`, newest first.
    pub(crate) async fn mails_to(&self, to: &str) -> Vec<Value> {
        let res = self
            .admin_get(&format!("/api/v1/admin/outbox?to={to}"))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        res.body.as_array().unwrap().clone()
    }

    /// The newest password reset code emailed to `to`, if any.
    pub(crate) async fn reset_code(&self, to: &str) -> Option<String> {
        self.mails_to(to)
            .await
            .iter()
            .filter_map(|m| m["subject"].as_str())
            .find(|s| s.contains("password reset code"))
            .map(|s| s.rsplit(' ').next().unwrap().to_string())
    }

    /// Whether the audit log has an entry with this action (and these details, if given).
    pub(crate) async fn audited(&self, action: &str, details: impl Fn(&Value) -> bool) -> bool {
        let res = self.admin_get("/api/v1/admin/audit?limit=500").await;
        res.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == action && details(e))
    }
}

/// Ask for a reset code through the "Forgot password?" form; the redirect it answers.
async fn request_reset(b: &BrowserSession, email: &str) -> reqwest::Response {
    let csrf = csrf_in(&b.page("/password/forgot").await);
    b.post_form(
        "/password/forgot",
        &[("csrf", csrf.as_str()), ("email", email)],
    )
    .await
}

/// Submit the "Set a new password" form.
async fn submit_reset(
    b: &BrowserSession,
    email: &str,
    code: &str,
    password: &str,
) -> reqwest::Response {
    let csrf = csrf_in(&b.page(&format!("/password/reset?email={email}")).await);
    b.post_form(
        "/password/reset",
        &[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("code", code),
            ("password", password),
        ],
    )
    .await
}

fn a_wrong(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

const NEW_PASSWORD: &str = "a brand new passphrase";

#[tokio::test]
async fn a_reset_request_answers_the_same_for_unknown_emails() {
    let app = spawn_app().await;
    app.verified_merchant("known@acme.example").await;
    let b = app.browser();
    let login = b.page("/login").await;
    assert!(login.contains("href=\"/password/forgot\""), "{login}");

    let known = request_reset(&b, "known@acme.example").await;
    let unknown = request_reset(&b, "nobody@acme.example").await;
    assert_eq!(known.status(), StatusCode::SEE_OTHER);
    assert_eq!(unknown.status(), StatusCode::SEE_OTHER);
    let place = |r: &reqwest::Response| {
        r.headers()["location"]
            .to_str()
            .unwrap()
            .replace("known", "X")
            .replace("nobody", "X")
    };
    assert_eq!(place(&known), place(&unknown), "the same answer either way");
    let page = b.page(known.headers()["location"].to_str().unwrap()).await;
    assert!(page.contains("If an account uses this email"), "{page}");
    assert!(app.reset_code("known@acme.example").await.is_some());
    assert!(app.mails_to("nobody@acme.example").await.is_empty());

    // A wrong code is answered alike for an account and for no account.
    let for_known = submit_reset(&b, "known@acme.example", "123456", NEW_PASSWORD).await;
    let for_unknown = submit_reset(&b, "nobody@acme.example", "123456", NEW_PASSWORD).await;
    assert_eq!(for_known.status(), StatusCode::BAD_REQUEST);
    assert_eq!(for_unknown.status(), StatusCode::BAD_REQUEST);
    let (known_html, unknown_html) = (
        for_known.text().await.unwrap(),
        for_unknown.text().await.unwrap(),
    );
    let error_of = |html: &str| {
        let at = html
            .find("id=\"code-error\">")
            .expect("an error at the code field")
            + 16;
        html[at..].split('<').next().unwrap().to_string()
    };
    assert_eq!(error_of(&known_html), error_of(&unknown_html));
    assert!(known_html.contains("aria-invalid=\"true\" aria-describedby=\"code-error\""));
}

#[tokio::test]
async fn a_password_reset_sets_the_password_and_ends_every_session_and_token() {
    let app = spawn_app().await;
    let email = "reset@acme.example";
    let (api_token, merchant_id, _) = app.approved_merchant(email).await;
    let old_session = app.merchant_browser(email).await;
    assert_eq!(old_session.get("/").await.status(), StatusCode::OK);

    let b = app.browser();
    request_reset(&b, email).await;
    let code = app.reset_code(email).await.expect("a reset code emailed");
    assert_eq!(code.len(), 6);

    // A weak password is refused at its field and costs no attempt of the code.
    let weak = submit_reset(&b, email, &code, "short").await;
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = weak.text().await.unwrap();
    assert!(html.contains("12 characters"), "{html}");
    assert!(html.contains("aria-describedby=\"password-hint password-error\""));
    assert!(html.contains("aria-invalid=\"true\""));

    let done = submit_reset(&b, email, &code, NEW_PASSWORD).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let to = done.headers()["location"].to_str().unwrap().to_string();
    assert!(
        to.starts_with("/login?") && to.contains("notice=reset"),
        "{to}"
    );
    assert!(b.page(&to).await.contains("every earlier session ended"));

    // Every earlier session and bearer token is gone.
    let res = old_session.get("/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/login");
    app.get_as("/api/v1/me", &api_token)
        .await
        .assert_error(401, "unauthorized");

    // The new password works, the old one does not, and the code worked once.
    app.login(email, PASSWORD)
        .await
        .assert_error(401, "invalid_credentials");
    assert_eq!(app.login(email, NEW_PASSWORD).await.status, StatusCode::OK);
    let again = submit_reset(&b, email, &code, "yet another passphrase").await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);

    assert!(
        app.audited("merchant.password_reset", |e| e["target"] == merchant_id
            && e["details"]["sessions_ended"] == 1
            && e["details"]["tokens_revoked"] == 1)
            .await
    );
    let mails = app.mails_to(email).await;
    assert!(
        mails
            .iter()
            .any(|m| m["subject"] == "Your hookgate password was changed")
    );
}

#[tokio::test]
async fn a_reset_code_expires_burns_after_five_wrong_tries_and_is_replaced_by_a_new_one() {
    let app = spawn_app().await;
    let email = "codes@acme.example";
    app.verified_merchant(email).await;
    let b = app.browser();

    // Expired after 15 minutes.
    request_reset(&b, email).await;
    let code = app.reset_code(email).await.unwrap();
    app.advance(minutes(16));
    let res = submit_reset(&b, email, &code, NEW_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // Five wrong tries burn it, the right code included from then on.
    request_reset(&b, email).await;
    let code = app.reset_code(email).await.unwrap();
    for _ in 0..5 {
        let res = submit_reset(&b, email, a_wrong(&code), NEW_PASSWORD).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
    let res = submit_reset(&b, email, &code, NEW_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // One live code per account: a new request makes the previous code stop working.
    request_reset(&b, email).await;
    let first = app.reset_code(email).await.unwrap();
    app.advance(minutes(2)); // past the per-account throttle of reset emails
    request_reset(&b, email).await;
    let second = app.reset_code(email).await.unwrap();
    if first != second {
        let res = submit_reset(&b, email, &first, NEW_PASSWORD).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "the replaced code");
    }
    let res = submit_reset(&b, email, &second, NEW_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.login(email, NEW_PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn reset_requests_are_throttled_per_account_and_per_ip() {
    let app = spawn_app().await;
    let email = "flood@acme.example";
    app.verified_merchant(email).await;
    let b = app.browser();
    for _ in 0..6 {
        let res = request_reset(&b, email).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "the same answer");
    }
    let codes = app
        .mails_to(email)
        .await
        .iter()
        .filter(|m| m["subject"].as_str().unwrap().contains("reset code"))
        .count();
    assert_eq!(codes, 3, "at most three reset emails a minute per account");

    // The client's IP runs out too, whatever the email.
    let csrf = csrf_in(&b.page("/password/forgot").await);
    let mut limited = None;
    for i in 0..40 {
        let res = b
            .post_form(
                "/password/forgot",
                &[
                    ("csrf", csrf.as_str()),
                    ("email", &format!("n{i}@acme.example")),
                ],
            )
            .await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(res);
            break;
        }
    }
    let res = limited.expect("the IP limit answers 429");
    assert!(res.headers().contains_key("retry-after"));
    let html = res.text().await.unwrap();
    assert!(html.contains("Too many attempts. Wait"), "{html}");
}

#[tokio::test]
async fn admin_tokens_expire_with_the_clock_and_revoked_ones_are_refused() {
    let app = spawn_app().await;
    let admin = app.admin_browser().await;
    let page = admin.page("/admin/tokens").await;
    let csrf = csrf_in(&page);

    // A bad lifetime is refused at its field.
    let res = admin
        .post_form(
            "/admin/tokens",
            &[("csrf", csrf.as_str()), ("name", "ci"), ("expires", "soon")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("aria-describedby=\"expires-error\"")
    );

    // Created in the console with a week's lifetime: shown once.
    let res = admin
        .post_form(
            "/admin/tokens",
            &[("csrf", csrf.as_str()), ("name", "ci"), ("expires", "7d")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let at = html.find("id=\"new-token\">").expect("the new token") + 15;
    let token = html[at..].split('<').next().unwrap().to_string();
    assert!(token.starts_with("hga_"), "{token}");
    assert!(!admin.page("/admin/tokens").await.contains(&token));

    assert_eq!(
        app.get_as("/api/v1/admin/audit", &token).await.status,
        StatusCode::OK
    );
    let listed = admin.page("/admin/tokens").await;
    assert!(listed.contains(">ci<"), "{listed}");

    // The CLI lists it with its last use; after a week it is refused.
    app.advance(days(6));
    assert_eq!(
        app.get_as("/api/v1/admin/audit", &token).await.status,
        StatusCode::OK
    );
    app.advance(days(1) + minutes(1));
    app.get_as("/api/v1/admin/audit", &token)
        .await
        .assert_error(401, "unauthorized");
    // (A week idle ended the console session; the admin signs in again.)
    let admin = app.admin_browser().await;
    let html = admin.page("/admin/tokens").await;
    assert!(html.contains("Expired"), "{html}");
    let csrf = csrf_in(&html);

    // Revoking another token in the console: 401 from then on, audited.
    let res = admin
        .post_form(
            "/admin/tokens",
            &[
                ("csrf", csrf.as_str()),
                ("name", "grafana"),
                ("expires", "never"),
            ],
        )
        .await;
    let html = res.text().await.unwrap();
    let at = html.find("id=\"new-token\">").unwrap() + 15;
    let second = html[at..].split('<').next().unwrap().to_string();
    assert_eq!(
        app.get_as("/api/v1/admin/audit", &second).await.status,
        StatusCode::OK
    );
    let id_at = html.find("grafana").unwrap();
    let row_start = html[..id_at].rfind("<tr>").unwrap();
    let id = html[row_start..]
        .split("<code>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    assert!(id.starts_with("tok_"), "{id}");
    let res = admin
        .post_form(
            &format!("/admin/tokens/{id}/revoke"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app.get_as("/api/v1/admin/audit", &second)
        .await
        .assert_error(401, "unauthorized");
    assert!(
        app.audited("admin.token_revoked", |e| e["details"]["token_id"]
            == id.as_str()
            && e["actor"] == "admin:root@example.com")
            .await
    );
    // Revoking needs the form's CSRF token.
    let res = admin
        .post_form(&format!("/admin/tokens/{id}/revoke"), &[("csrf", "x")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_admin_changes_their_password_and_their_other_sessions_end() {
    let app = spawn_app().await;
    let here = app.admin_browser().await;
    let elsewhere = app.admin_browser().await;
    let csrf = csrf_in(&here.page("/admin/password").await);

    let wrong = here
        .post_form(
            "/admin/password",
            &[
                ("csrf", csrf.as_str()),
                ("current_password", "not my password"),
                ("new_password", "short"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = wrong.text().await.unwrap();
    assert!(html.contains("aria-describedby=\"current-password-error\""));
    assert!(html.contains("new-password-hint new-password-error"));
    assert!(html.contains("12 characters"));

    let done = here
        .post_form(
            "/admin/password",
            &[
                ("csrf", csrf.as_str()),
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(here.get("/admin/").await.status(), StatusCode::OK);
    let res = elsewhere.get("/admin/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/admin/login");

    let old = app
        .browser()
        .log_in("/admin/login", "root@example.com", PASSWORD)
        .await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let new = app
        .browser()
        .log_in("/admin/login", "root@example.com", NEW_PASSWORD)
        .await;
    assert_eq!(new.status(), StatusCode::SEE_OTHER);
    assert!(
        app.audited("admin.password_changed", |e| e["details"]["sessions_ended"]
            == 1)
            .await
    );
    // API tokens are not sessions: they keep working until revoked.
    assert_eq!(
        app.admin_get("/api/v1/admin/audit").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_admins_page_lists_every_admin() {
    let app = spawn_app().await;
    create_admin(&app.data_dir, "second@example.com");
    let html = app.admin_browser().await.page("/admin/admins").await;
    assert!(html.contains("root@example.com") && html.contains("second@example.com"));
    assert!(html.contains(">you<"));
}

#[tokio::test]
async fn a_revoked_merchant_sees_the_reason_and_their_orders_and_is_reinstated_with_a_new_secret() {
    let app = spawn_app().await;
    let email = "back@acme.example";
    let s = app.sender(email).await;
    let res = app
        .send_order(&s, "before-revoke", &order_body(Some("SO-1"), "PENDING"))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let order_id = res.body["order_id"].as_str().unwrap().to_string();
    let res = app
        .admin_post(
            &format!("/api/v1/admin/merchants/{}/revoke", s.merchant_id),
            json!({"reason": "chargebacks under review"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);

    // The revoked merchant sees why, and their orders, read-only.
    let shop = app.merchant_browser(email).await;
    let dashboard = shop.page("/").await;
    assert!(
        dashboard.contains("chargebacks under review"),
        "{dashboard}"
    );
    assert!(dashboard.contains(&order_id));
    assert!(!dashboard.contains("action=\"/secret/rotate\""));
    assert!(!dashboard.contains("action=\"/kyc\""));
    let orders = app.get_as("/api/v1/orders", &s.token).await;
    assert_eq!(orders.status, StatusCode::OK);
    assert_eq!(orders.body["items"][0]["order_id"], order_id.as_str());
    let refused = app
        .send_order(&s, "while-revoked", &order_body(None, "PENDING"))
        .await;
    refused.assert_error(403, "kyc_not_approved");

    // Reinstating needs a reason.
    let admin = app.admin_browser().await;
    let page = admin
        .page(&format!("/admin/merchants/{}", s.merchant_id))
        .await;
    assert!(page.contains("chargebacks under review"));
    let csrf = csrf_in(&page);
    let path = format!("/admin/merchants/{}/reinstate", s.merchant_id);
    let res = admin
        .post_form(&path, &[("csrf", csrf.as_str()), ("reason", "  ")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("aria-invalid=\"true\" aria-describedby=\"reinstate-reason-error\"")
    );
    assert_eq!(
        app.get_as("/api/v1/me", &s.token).await.body["kyc_status"],
        "revoked"
    );

    let res = admin
        .post_form(
            &path,
            &[("csrf", csrf.as_str()), ("reason", "chargebacks cleared")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let me = app.get_as("/api/v1/me", &s.token).await;
    assert_eq!(me.body["kyc_status"], "approved");
    assert_eq!(me.body["key_id"], s.key_id.as_str(), "the key id stays");

    // A new secret: the revoked one stays revoked, the new one signs.
    let secret = app.get_as("/api/v1/webhook/secret/", &s.token).await;
    assert_eq!(secret.status, StatusCode::OK);
    let fresh = secret.body["secret_key"].as_str().unwrap().to_string();
    assert_ne!(fresh, s.secret);
    app.send_order(&s, "old-secret", &order_body(None, "PENDING"))
        .await
        .assert_error(401, "invalid_signature");
    let res = app
        .send_signed(
            &s,
            &fresh,
            "new-secret",
            app.now(),
            &order_body(None, "PENDING"),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);

    assert!(
        app.audited("kyc.reinstated", |e| e["target"] == s.merchant_id.as_str()
            && e["details"]["reason"] == "chargebacks cleared"
            && e["actor"] == "admin:root@example.com")
            .await
    );
    assert!(
        app.audited("secret.issued", |e| e["details"]["reason"]
            == "reinstatement")
            .await
    );
    assert!(
        app.mails_to(email)
            .await
            .iter()
            .any(|m| m["subject"] == "Your hookgate approval is reinstated")
    );
    // Only a revoked merchant can be reinstated.
    let again = admin
        .post_form(&path, &[("csrf", csrf.as_str()), ("reason", "twice")])
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
}

/// Run the real binary on the app's data dir with `stdin`.
fn hookgate(app: &TestApp, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(&app.data_dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn admin_password_from_the_cli_sets_the_password_and_ends_the_admins_sessions() {
    let app = spawn_app().await;
    let session = app.admin_browser().await;
    let args = [
        "admin",
        "password",
        "--email",
        "root@example.com",
        "--password-stdin",
    ];

    let weak = hookgate(&app, &args, "short\n");
    assert!(!weak.status.success());
    assert!(
        text(&weak.stderr).contains("12 characters"),
        "{}",
        text(&weak.stderr)
    );
    let unknown = hookgate(
        &app,
        &[
            "admin",
            "password",
            "--email",
            "who@example.com",
            "--password-stdin",
        ],
        &format!("{NEW_PASSWORD}\n"),
    );
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("no admin"));
    assert_eq!(session.get("/admin/").await.status(), StatusCode::OK);

    let out = hookgate(&app, &args, &format!("{NEW_PASSWORD}\n"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let res = session.get("/admin/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the session ended");
    let new = app
        .browser()
        .log_in("/admin/login", "root@example.com", NEW_PASSWORD)
        .await;
    assert_eq!(new.status(), StatusCode::SEE_OTHER);
    assert!(
        app.audited("admin.password_changed", |e| e["actor"] == "cli")
            .await
    );
}

#[tokio::test]
async fn admin_tokens_are_named_listed_and_revoked_from_the_cli() {
    let app = spawn_app().await;
    let root = "root@example.com";

    let bad = hookgate(
        &app,
        &["admin", "token", "--email", root, "--expires", "banana"],
        "",
    );
    assert!(!bad.status.success());
    assert!(bad.stdout.is_empty());
    assert!(
        text(&bad.stderr).contains("--expires"),
        "{}",
        text(&bad.stderr)
    );

    let out = hookgate(
        &app,
        &[
            "admin",
            "token",
            "--email",
            root,
            "--name",
            "deploy",
            "--expires",
            "90d",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_string();
    assert!(token.starts_with("hga_") && !token.contains(char::is_whitespace));
    assert_eq!(
        text(&out.stdout),
        format!("{token}\n"),
        "nothing but the token"
    );
    assert_eq!(
        app.get_as("/api/v1/admin/audit", &token).await.status,
        StatusCode::OK
    );

    // Listed: the helper's token (named cli, never expires) and this one, used just now.
    let out = hookgate(&app, &["admin", "tokens", "--email", root], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    let lines: Vec<&str> = listing.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("LAST USED"),
        "{listing}"
    );
    let deploy = lines
        .iter()
        .find(|l| l.contains("deploy"))
        .expect("the deploy token");
    let cli = lines
        .iter()
        .find(|l| l.contains(" cli "))
        .expect("the helper's token");
    assert!(
        deploy.contains("UTC") && !deploy.trim_end().ends_with("never"),
        "{deploy}"
    );
    assert!(cli.trim_end().ends_with("never"), "{cli}");
    assert!(
        !listing.contains(&token),
        "the token itself is never listed"
    );
    let id = deploy.split_whitespace().next().unwrap().to_string();
    assert!(id.starts_with("tok_"), "{id}");
    assert!(
        deploy.matches("UTC").count() >= 3,
        "created, last used and expiry: {deploy}"
    );

    let missing = hookgate(&app, &["admin", "tokens", "revoke", "tok_nope"], "");
    assert!(!missing.status.success());
    let out = hookgate(&app, &["admin", "tokens", "revoke", &id], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    app.get_as("/api/v1/admin/audit", &token)
        .await
        .assert_error(401, "unauthorized");
    let listing = text(&hookgate(&app, &["admin", "tokens"], "").stdout);
    assert!(
        !listing.contains(&id) && listing.contains("root@example.com"),
        "{listing}"
    );
}

#[tokio::test]
async fn admin_list_prints_every_admin() {
    let app = spawn_app().await;
    create_admin(&app.data_dir, "second@example.com");
    let out = hookgate(&app, &["admin", "list"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert!(listing.starts_with("EMAIL"), "{listing}");
    assert!(listing.contains("root@example.com") && listing.contains("second@example.com"));
}
