//! The merchant pages (`/`): sign-up, verification, login, KYC, secret and integration.

use super::{
    auth, kyc,
    session::{self, MerchantSession, pre_login_csrf, verify_csrf},
    ui::{FieldErrors, UiResult, form_error, html, query_escape, redirect, when, when_ms},
};
use crate::{
    clock, crypto,
    domain::{KycStatus, kyc::KycForm},
    error::ApiError,
    startup::AppState,
    store::{self, sessions::SessionKind},
};
use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, http::StatusCode, http::header, web};
use askama::Template;
use serde::Deserialize;

/// Routes of the merchant pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(dashboard))
        .route("/signup", web::get().to(signup_form))
        .route("/signup", web::post().to(signup))
        .route("/verify", web::get().to(verify_form))
        .route("/verify", web::post().to(verify))
        .route("/verify/resend", web::post().to(resend))
        .route("/login", web::get().to(login_form))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/kyc", web::post().to(submit_kyc))
        .route("/secret/reveal", web::post().to(reveal))
        .route("/secret/rotate", web::post().to(rotate));
}

fn with_cookie(
    mut res: HttpResponse,
    cookie: Option<actix_web::cookie::Cookie<'static>>,
) -> HttpResponse {
    if let Some(c) = cookie {
        let _ = res.add_cookie(&c);
    }
    res
}

// ---- sign-up ----

#[derive(Template)]
#[template(path = "merchant/signup.html")]
struct SignupPage {
    csrf: String,
    email: String,
    business_name: String,
    errors: FieldErrors,
    error: Option<String>,
}

async fn signup_form(state: web::Data<AppState>, req: HttpRequest) -> UiResult {
    let (csrf, cookie) = pre_login_csrf(&state, &req);
    let page = SignupPage {
        csrf,
        email: String::new(),
        business_name: String::new(),
        errors: FieldErrors::default(),
        error: None,
    };
    Ok(with_cookie(html(StatusCode::OK, &page), cookie))
}

#[derive(Deserialize)]
struct SignupForm {
    #[serde(default)]
    csrf: String,
    email: String,
    password: String,
    business_name: String,
}

async fn signup(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SignupForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let result = match auth::validate_registration(
        Some(&form.email),
        Some(&form.password),
        Some(&form.business_name),
    ) {
        Ok(reg) => auth::register_account(&state, reg).await.map(|_| ()),
        Err(v) => Err(ApiError::validation(v)),
    };
    match result {
        Ok(()) => redirect(&format!(
            "/verify?email={}",
            query_escape(form.email.trim())
        )),
        Err(e) if e.status.is_client_error() => {
            let status = e.status;
            let (mut errors, error) = form_error(e.clone());
            if e.code == "email_taken" {
                errors = FieldErrors(vec![crate::error::Violation::new(
                    "email",
                    "already has an account; log in instead",
                )]);
            }
            let (csrf, _) = pre_login_csrf(&state, &req);
            let page = SignupPage {
                csrf,
                email: form.email.clone(),
                business_name: form.business_name.clone(),
                errors,
                error: error.filter(|_| e.code != "email_taken"),
            };
            Ok(html(status, &page))
        }
        Err(e) => Err(e.into()),
    }
}

// ---- verification ----

#[derive(Template)]
#[template(path = "merchant/verify.html")]
struct VerifyPage {
    csrf: String,
    email: String,
    code: String,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize)]
struct EmailQuery {
    email: Option<String>,
    sent: Option<String>,
    notice: Option<String>,
}

async fn verify_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<EmailQuery>,
) -> UiResult {
    let (csrf, cookie) = pre_login_csrf(&state, &req);
    let notice = q
        .sent
        .as_ref()
        .map(|_| "A new code is on its way.".to_string());
    let page = VerifyPage {
        csrf,
        email: q.email.clone().unwrap_or_default(),
        code: String::new(),
        error: None,
        notice,
    };
    Ok(with_cookie(html(StatusCode::OK, &page), cookie))
}

#[derive(Deserialize)]
struct VerifyForm {
    #[serde(default)]
    csrf: String,
    email: String,
    code: String,
}

async fn verify(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<VerifyForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    match auth::verify_code(&state, &req, &form.email, &form.code).await {
        Ok(()) => redirect(&format!(
            "/login?email={}&notice=verified",
            query_escape(form.email.trim())
        )),
        Err(e) if e.status.is_client_error() => {
            let (csrf, _) = pre_login_csrf(&state, &req);
            let message = e
                .violations
                .first()
                .map(|v| format!("The {} {}.", v.field, v.message))
                .unwrap_or(e.message.clone());
            let page = VerifyPage {
                csrf,
                email: form.email.clone(),
                code: form.code.clone(),
                error: Some(message),
                notice: None,
            };
            Ok(html(e.status, &page))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct ResendForm {
    #[serde(default)]
    csrf: String,
    email: String,
}

async fn resend(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<ResendForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    auth::resend(&state, &req, &form.email).await?;
    redirect(&format!(
        "/verify?email={}&sent=1",
        query_escape(form.email.trim())
    ))
}

// ---- login ----

#[derive(Template)]
#[template(path = "merchant/login.html")]
struct LoginPage {
    csrf: String,
    email: String,
    error: Option<String>,
    notice: Option<String>,
}

async fn login_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<EmailQuery>,
) -> UiResult {
    let (csrf, cookie) = pre_login_csrf(&state, &req);
    let notice = match q.notice.as_deref() {
        Some("verified") => Some("Your email is verified. Log in to continue.".to_string()),
        Some("bye") => Some("You are logged out.".to_string()),
        _ => None,
    };
    let page = LoginPage {
        csrf,
        email: q.email.clone().unwrap_or_default(),
        error: None,
        notice,
    };
    Ok(with_cookie(html(StatusCode::OK, &page), cookie))
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    email: String,
    password: String,
}

async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    match auth::authenticate(&state, &req, &form.email, &form.password).await {
        Ok(m) => {
            let res = HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/"))
                .finish();
            Ok(session::start(&state, &req, SessionKind::Merchant, &m.id, res).await?)
        }
        Err(e) if e.code == "email_unverified" => redirect(&format!(
            "/verify?email={}",
            query_escape(form.email.trim())
        )),
        Err(e) if e.status.is_client_error() => {
            let (csrf, _) = pre_login_csrf(&state, &req);
            Ok(html(
                e.status,
                &LoginPage {
                    csrf,
                    email: form.email.clone(),
                    error: Some(e.message),
                    notice: None,
                },
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<CsrfForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let res = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login?notice=bye"))
        .finish();
    Ok(session::end(&state, &req, SessionKind::Merchant, res).await?)
}

// ---- dashboard ----

#[derive(Default)]
struct KycFormView {
    legal_name: String,
    registration_number: String,
    country: String,
    address: String,
    contact_phone: String,
}

impl From<&KycForm> for KycFormView {
    fn from(f: &KycForm) -> Self {
        let v = |o: &Option<String>| o.clone().unwrap_or_default();
        KycFormView {
            legal_name: v(&f.legal_name),
            registration_number: v(&f.registration_number),
            country: v(&f.country),
            address: v(&f.address),
            contact_phone: v(&f.contact_phone),
        }
    }
}

struct MerchantView {
    business_name: String,
    kyc_status: &'static str,
}

struct OrderRow {
    id: String,
    reference: String,
    customer: String,
    status: String,
    history: String,
}

struct EventRow {
    received: String,
    webhook_id: String,
    outcome: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "merchant/dashboard.html")]
struct DashboardPage {
    csrf: String,
    m: MerchantView,
    notice: Option<String>,
    error: Option<String>,
    review_note: Option<String>,
    can_submit: bool,
    form: KycFormView,
    errors: FieldErrors,
    key_id: String,
    revealed: Option<String>,
    needs_password: bool,
    expires: String,
    rotation_near: bool,
    previous_until: Option<String>,
    snippet_curl: String,
    snippet_python: String,
    snippet_node: String,
    orders: Vec<OrderRow>,
    events: Vec<EventRow>,
}

/// What a dashboard render varies by.
#[derive(Default)]
struct DashboardExtras {
    notice: Option<String>,
    error: Option<String>,
    form: Option<KycFormView>,
    errors: FieldErrors,
    revealed: Option<String>,
}

async fn render_dashboard(
    state: &AppState,
    s: &MerchantSession,
    extras: DashboardExtras,
    status: StatusCode,
) -> UiResult {
    let m = &s.merchant;
    let id = m.id.clone();
    let (history, secrets, orders, events) = state
        .store
        .read(move |c| {
            let history = store::kyc::history(c, &id)?;
            let secrets = store::secrets::for_merchant(c, &id)?;
            let orders = store::orders::list(c, &id, None, 20, None)?;
            let filter = store::orders::EventFilter {
                merchant_id: Some(id.clone()),
                ..Default::default()
            };
            let events = store::orders::list_events(c, &filter, 20)?;
            Ok((history, secrets, orders, events))
        })
        .await?;
    let now = clock::now();
    let current = store::secrets::current(&secrets);
    let rotate_before = state.config.rotate_before.as_secs() as i64;
    let key_id = m.key_id.clone().unwrap_or_default();
    let url = format!("{}/api/v1/webhooks/orders/", state.config.public_url);
    let can_submit =
        crate::domain::kyc::transition(m.kyc_status, crate::domain::KycAction::Submit).is_ok();
    let review_note = match m.kyc_status {
        KycStatus::Rejected | KycStatus::ChangesRequested => {
            history.first().and_then(|h| h.review_note.clone())
        }
        _ => None,
    };
    let page = DashboardPage {
        csrf: s.browser.csrf(state),
        m: MerchantView {
            business_name: m.business_name.clone(),
            kyc_status: m.kyc_status.as_str(),
        },
        notice: extras.notice,
        error: extras.error,
        review_note,
        can_submit,
        form: extras.form.unwrap_or_default(),
        errors: extras.errors,
        revealed: extras.revealed,
        needs_password: !s.browser.recently_authenticated(now),
        expires: current
            .map(|c| when(c.times.expires_at))
            .unwrap_or_else(|| "–".into()),
        rotation_near: current.is_some_and(|c| c.times.expires_at - now <= rotate_before),
        previous_until: store::secrets::previous_in_grace(&secrets, now)
            .map(|p| when(p.times.valid_until())),
        snippet_curl: snippet_curl(&key_id, &url),
        snippet_python: snippet_python(&key_id, &url),
        snippet_node: snippet_node(&key_id, &url),
        orders: orders
            .iter()
            .map(|o| OrderRow {
                id: o.id.clone(),
                reference: o.merchant_reference.clone().unwrap_or_default(),
                customer: format!("{} <{}>", o.customer_name, o.customer_email),
                status: o.tracking_status.clone(),
                history: o
                    .history
                    .iter()
                    .map(|h| format!("{} {}", when(h.at), h.status))
                    .collect::<Vec<_>>()
                    .join(" → "),
            })
            .collect(),
        events: events
            .iter()
            .map(|e| EventRow {
                received: when_ms(e.received_at_ms),
                webhook_id: e.webhook_id.clone(),
                outcome: e.outcome.clone(),
                reason: e.reason.clone(),
            })
            .collect(),
        key_id,
    };
    let mut res = html(status, &page);
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

#[derive(Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn dashboard(
    state: web::Data<AppState>,
    s: MerchantSession,
    q: web::Query<NoticeQuery>,
) -> UiResult {
    let notice = q.notice.as_deref().and_then(|n| match n {
        "kyc" => Some("Thank you: your documents are submitted for review.".to_string()),
        "rotated" => Some(
            "A new secret was issued. The previous one keeps verifying during the grace period."
                .to_string(),
        ),
        _ => None,
    });
    render_dashboard(
        &state,
        &s,
        DashboardExtras {
            notice,
            ..Default::default()
        },
        StatusCode::OK,
    )
    .await
}

async fn submit_kyc(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: MerchantSession,
    payload: web::Payload,
) -> UiResult {
    let upload = match kyc::read_form(Multipart::new(req.headers(), payload)).await {
        Ok(u) => u,
        Err(e) => {
            let extras = DashboardExtras {
                error: Some(e.message.clone()),
                ..Default::default()
            };
            return render_dashboard(&state, &s, extras, e.status).await;
        }
    };
    verify_csrf(&state, &req, upload.csrf.as_deref().unwrap_or_default())?;
    let view = KycFormView::from(&upload.form);
    match kyc::submit_form(&state, &s.merchant.id, upload.form, upload.document).await {
        Ok(_) => redirect("/?notice=kyc"),
        Err(e) if e.status.is_client_error() => {
            let status = e.status;
            let (errors, error) = form_error(e);
            let mut s = s;
            s.merchant.kyc_status = current_kyc(&state, &s.merchant.id).await?;
            render_dashboard(
                &state,
                &s,
                DashboardExtras {
                    form: Some(view),
                    errors,
                    error,
                    ..Default::default()
                },
                status,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn current_kyc(state: &AppState, merchant_id: &str) -> Result<KycStatus, ApiError> {
    let id = merchant_id.to_string();
    Ok(state
        .store
        .read(move |c| store::accounts::get(c, &id))
        .await?
        .map(|m| m.kyc_status)
        .unwrap_or(KycStatus::None))
}

#[derive(Deserialize)]
struct RevealForm {
    #[serde(default)]
    csrf: String,
    password: Option<String>,
}

async fn reveal(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: MerchantSession,
    form: web::Form<RevealForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let now = clock::now();
    let mut s = s;
    if !s.browser.recently_authenticated(now) {
        let password = form.password.clone().unwrap_or_default();
        let hash = s.merchant.password_hash.clone();
        let ok = !password.is_empty()
            && web::block(move || crypto::verify_password(&password, &hash))
                .await
                .map_err(|_| ApiError::internal())?;
        if !ok {
            let extras = DashboardExtras {
                error: Some("Enter your password to reveal the secret.".into()),
                ..Default::default()
            };
            return render_dashboard(&state, &s, extras, StatusCode::UNAUTHORIZED).await;
        }
        let id_hash = s.browser.id_hash();
        state
            .store
            .write(move |c| store::sessions::reauthenticated(c, &id_hash, now))
            .await?;
        s.browser.session.authenticated_at = now;
    }
    let revealed = super::secret::reveal_for(&state, &s.merchant).await?;
    render_dashboard(
        &state,
        &s,
        DashboardExtras {
            revealed: Some(revealed.secret_key),
            ..Default::default()
        },
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
struct RotateForm {
    #[serde(default)]
    csrf: String,
    confirm: Option<String>,
}

async fn rotate(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: MerchantSession,
    form: web::Form<RotateForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    if form.confirm.as_deref() != Some("yes") {
        let extras = DashboardExtras {
            error: Some("Tick the confirmation to rotate the secret.".into()),
            ..Default::default()
        };
        return render_dashboard(&state, &s, extras, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    super::secret::regenerate_for(&state, &s.merchant).await?;
    redirect("/?notice=rotated")
}

// ---- integration snippets ----

fn snippet_curl(key_id: &str, url: &str) -> String {
    format!(
        r#"BODY='{{"customer_details":{{"name":"John Doe","email":"john@example.com","phone":"+2348123456789"}},"item_summary":"iPhone 15 x2","address":"123 Main St, Lagos","tracking_status":"PENDING"}}'
ID="msg_$(openssl rand -hex 12)"; TS=$(date +%s)
KEY=$(printf '%s' "${{HOOKGATE_SECRET#whsec_}}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
SIG=$(printf '%s' "$ID.$TS.$BODY" | openssl dgst -sha256 -mac HMAC -macopt hexkey:$KEY -binary | base64)
curl -sS -X POST {url} \
  -H "X-API-Key: {key_id}" -H "webhook-id: $ID" -H "webhook-timestamp: $TS" \
  -H "webhook-signature: v1,$SIG" -H "Content-Type: application/json" -d "$BODY""#
    )
}

fn snippet_python(key_id: &str, url: &str) -> String {
    format!(
        r#"import json, os, time, uuid, datetime, urllib.request
from standardwebhooks.webhooks import Webhook

body = json.dumps({{"customer_details": {{"name": "John Doe", "email": "john@example.com",
        "phone": "+2348123456789"}}, "item_summary": "iPhone 15 x2",
        "address": "123 Main St, Lagos", "tracking_status": "PENDING"}})
msg_id, now = f"msg_{{uuid.uuid4().hex}}", datetime.datetime.now(tz=datetime.timezone.utc)
signature = Webhook(os.environ["HOOKGATE_SECRET"]).sign(msg_id, now, body)
request = urllib.request.Request("{url}", data=body.encode(), method="POST", headers={{
    "X-API-Key": "{key_id}", "webhook-id": msg_id,
    "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature,
    "Content-Type": "application/json"}})
print(urllib.request.urlopen(request).read().decode())"#
    )
}

fn snippet_node(key_id: &str, url: &str) -> String {
    format!(
        r#"const crypto = require("node:crypto");
const body = JSON.stringify({{ customer_details: {{ name: "John Doe", email: "john@example.com",
  phone: "+2348123456789" }}, item_summary: "iPhone 15 x2", address: "123 Main St, Lagos",
  tracking_status: "PENDING" }});
const id = `msg_${{crypto.randomUUID()}}`, ts = Math.floor(Date.now() / 1000);
const key = Buffer.from(process.env.HOOKGATE_SECRET.split("_")[1], "base64");
const sig = crypto.createHmac("sha256", key).update(`${{id}}.${{ts}}.${{body}}`).digest("base64");
fetch("{url}", {{ method: "POST", body, headers: {{ "X-API-Key": "{key_id}",
  "webhook-id": id, "webhook-timestamp": String(ts), "webhook-signature": `v1,${{sig}}`,
  "Content-Type": "application/json" }} }}).then(r => r.text()).then(console.log);"#
    )
}
