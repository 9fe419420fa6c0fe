//! The admin console (`/admin/`): server-rendered pages, one askama struct per page.

use super::{
    admin_api, health,
    session::{self, AdminSession, pre_login_csrf, verify_csrf},
    ui::{
        FieldErrors, UiError, UiResult, form_error, html, page, query_escape, redirect, when,
        when_ms,
    },
};
use crate::{
    clock, crypto,
    domain::{Email, KycStatus, Password, secret::SecretState},
    error::{ApiError, Violation},
    metrics::hour_of,
    startup::AppState,
    store::{self, kyc::Decision, sessions::SessionKind},
};
use actix_web::{HttpRequest, HttpResponse, http::StatusCode, http::header, web};
use askama::Template;
use serde::Deserialize;

/// Routes under `/admin`.
pub fn scope() -> actix_web::Scope {
    web::scope("/admin")
        .route("", web::get().to(|| async { redirect("/admin/") }))
        .route("/", web::get().to(dashboard))
        .route("/login", web::get().to(login_form))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/setup", web::get().to(setup_form))
        .route("/setup", web::post().to(setup))
        .route("/kyc", web::get().to(kyc_list))
        .route("/kyc/{kyc_id}", web::get().to(kyc_review))
        .route("/kyc/{kyc_id}/document", web::get().to(kyc_document))
        .route("/kyc/{kyc_id}/decide", web::post().to(kyc_decide))
        .route("/merchants", web::get().to(merchants))
        .route("/merchants/{merchant_id}", web::get().to(merchant))
        .route("/merchants/{merchant_id}/revoke", web::post().to(revoke))
        .route("/events", web::get().to(events))
        .route("/events/{event_id}", web::get().to(event))
        .route("/audit", web::get().to(audit))
        .route("/outbox", web::get().to(outbox))
        .default_service(web::to(super::not_found))
}

/// What every signed-in admin page shows in its header.
pub struct Chrome {
    pub csrf: String,
    pub email: String,
    pub current: &'static str,
}

fn chrome(state: &AppState, s: &AdminSession, current: &'static str) -> Chrome {
    Chrome {
        csrf: s.browser.csrf(state),
        email: s.admin.email.clone(),
        current,
    }
}

/// A POST form that only carries its CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

// ---- login, logout, first-run setup ----

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    csrf: String,
    email: String,
    error: Option<String>,
}

fn login_page(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    email: String,
    error: Option<String>,
) -> HttpResponse {
    let (csrf, cookie) = pre_login_csrf(state, req);
    let mut res = html(status, &LoginPage { csrf, email, error });
    if let Some(c) = cookie {
        let _ = res.add_cookie(&c);
    }
    res
}

async fn login_form(state: web::Data<AppState>, req: HttpRequest) -> UiResult {
    if session::current(&state, &req, SessionKind::Admin)
        .await?
        .is_some()
    {
        return redirect("/admin/");
    }
    Ok(login_page(
        &state,
        &req,
        StatusCode::OK,
        String::new(),
        None,
    ))
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    email: String,
    password: String,
}

/// Check admin credentials with the same throttling and audit as merchant logins.
async fn authenticate_admin(
    state: &AppState,
    req: &HttpRequest,
    email: &str,
    password: &str,
) -> Result<store::admins::Admin, ApiError> {
    let lookup = email.trim().to_string();
    let key = format!("admin:{}", lookup.to_lowercase());
    super::auth::verify_credentials(
        state,
        req,
        "admin",
        key,
        password,
        move |c| store::admins::find_by_email(c, &lookup),
        |a| a.password_hash.clone(),
    )
    .await
}

async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    match authenticate_admin(&state, &req, &form.email, &form.password).await {
        Ok(admin) => {
            let res = HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/admin/"))
                .finish();
            Ok(session::start(&state, &req, SessionKind::Admin, &admin.id, res).await?)
        }
        Err(e)
            if e.status == StatusCode::UNAUTHORIZED
                || e.status == StatusCode::TOO_MANY_REQUESTS =>
        {
            Ok(login_page(
                &state,
                &req,
                e.status,
                form.email.clone(),
                Some(e.message),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    form: web::Form<CsrfForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let _ = s;
    let res = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin/login"))
        .finish();
    Ok(session::end(&state, &req, SessionKind::Admin, res).await?)
}

#[derive(Template)]
#[template(path = "admin/setup.html")]
struct SetupPage {
    csrf: String,
    token: String,
    email: String,
    error: Option<String>,
    errors: FieldErrors,
}

#[derive(Deserialize)]
struct SetupQuery {
    token: Option<String>,
}

fn setup_link_invalid() -> UiError {
    UiError(ApiError::not_found(
        "setup_link_invalid",
        "This setup link is invalid, expired or already used. Restart hookgate for a new one, or use `hookgate admin create`.",
    ))
}

async fn setup_token_ok(state: &AppState, token: &str) -> Result<bool, ApiError> {
    let hash = crypto::token_hash(token);
    Ok(state
        .store
        .read(move |c| store::sessions::setup_token_valid(c, &hash, clock::now()))
        .await?)
}

async fn setup_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<SetupQuery>,
) -> UiResult {
    let token = q.token.clone().unwrap_or_default();
    if !setup_token_ok(&state, &token).await? {
        return Err(setup_link_invalid());
    }
    let (csrf, cookie) = pre_login_csrf(&state, &req);
    let mut res = html(
        StatusCode::OK,
        &SetupPage {
            csrf,
            token,
            email: String::new(),
            error: None,
            errors: FieldErrors::default(),
        },
    );
    if let Some(c) = cookie {
        let _ = res.add_cookie(&c);
    }
    Ok(res)
}

#[derive(Deserialize)]
struct SetupForm {
    #[serde(default)]
    csrf: String,
    token: String,
    email: String,
    password: String,
}

async fn setup(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SetupForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let mut v = Vec::new();
    let email = Email::parse(&form.email)
        .map_err(|m| v.push(Violation::new("email", m)))
        .ok();
    let password = Password::parse(&form.password)
        .map_err(|m| v.push(Violation::new("password", m)))
        .ok();
    let (Some(email), Some(password)) = (email, password) else {
        let (csrf, _) = pre_login_csrf(&state, &req);
        let page = SetupPage {
            csrf,
            token: form.token.clone(),
            email: form.email.clone(),
            error: None,
            errors: FieldErrors(v),
        };
        return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
    };
    let crypto_ = state.crypto.clone();
    let pw = password.expose().to_string();
    let password_hash = web::block(move || crypto::hash_password(&crypto_, &pw))
        .await
        .map_err(|_| ApiError::internal())?;
    let id = store::new_id("adm");
    let token_hash = crypto::token_hash(&form.token);
    let (admin_id, email) = (id.clone(), email.to_string());
    let created = state
        .store
        .write(move |c| {
            store::sessions::consume_setup_token(
                c,
                &token_hash,
                &admin_id,
                &email,
                &password_hash,
                clock::now(),
            )
        })
        .await?;
    if !created {
        return Err(setup_link_invalid());
    }
    let res = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin/"))
        .finish();
    Ok(session::start(&state, &req, SessionKind::Admin, &id, res).await?)
}

// ---- dashboard ----

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    health_status: &'static str,
    issues: Vec<String>,
    recommendations: Vec<String>,
    total: u64,
    success_rate: String,
    p95: String,
    duplicates: u64,
    rate_limited: u64,
    pending_kyc: usize,
    volume_chart: String,
    latency_chart: String,
}

async fn dashboard(state: web::Data<AppState>, s: AdminSession) -> UiResult {
    let hours = health::hourly(&state, 24).await?;
    let mut window = crate::metrics::Bucket::default();
    for b in hours.values() {
        window.merge(b);
    }
    let h = health::assess(window, &state.config.public_url);
    let first = hour_of(clock::now()) - 23 * 3600;
    let slots: Vec<i64> = (0..24).map(|i| first + i * 3600).collect();
    let labels: Vec<String> = slots
        .iter()
        .map(|t| clock::rfc3339(*t)[11..13].to_string() + "h")
        .collect();
    let get = |f: &dyn Fn(&crate::metrics::Bucket) -> u64| -> Vec<u64> {
        slots
            .iter()
            .map(|t| hours.get(t).map(f).unwrap_or(0))
            .collect()
    };
    let accepted = get(&|b| b.created + b.updated);
    let rejected = get(&|b| b.rejected.values().sum());
    let duplicates = get(&|b| b.duplicates);
    let volume_chart = super::charts::stacked_bars(
        "Webhooks per hour",
        &labels,
        &[
            super::charts::Series {
                label: "accepted",
                color: "#2e7d32",
                values: &accepted,
            },
            super::charts::Series {
                label: "rejected",
                color: "#c62828",
                values: &rejected,
            },
            super::charts::Series {
                label: "duplicate",
                color: "#f9a825",
                values: &duplicates,
            },
        ],
    );
    let p95: Vec<Option<f64>> = slots
        .iter()
        .map(|t| hours.get(t).and_then(|b| b.quantile_ms(0.95)))
        .collect();
    let latency_chart = super::charts::line("p95 response time", &labels, &p95, "#1565c0", " ms");
    let pending = state
        .store
        .read(|c| store::kyc::queue(c, Some(KycStatus::Pending), 10_000))
        .await?
        .len();
    let w = &h.window;
    page(&DashboardPage {
        chrome: chrome(&state, &s, "dashboard"),
        health_status: h.status,
        issues: h.issues.clone(),
        recommendations: h.recommendations.clone(),
        total: w.received,
        success_rate: if w.received > 0 {
            format!("{:.1}%", w.succeeded() as f64 * 100.0 / w.received as f64)
        } else {
            "–".into()
        },
        p95: w
            .quantile_ms(0.95)
            .map(|v| format!("{v:.1} ms"))
            .unwrap_or_else(|| "–".into()),
        duplicates: w.duplicates,
        rate_limited: w.rate_limited,
        pending_kyc: pending,
        volume_chart,
        latency_chart,
    })
}

// ---- KYC ----

struct KycRow {
    kyc_id: String,
    business_name: String,
    legal_name: String,
    country: String,
    status: String,
    submitted: String,
}

#[derive(Template)]
#[template(path = "admin/kyc_list.html")]
struct KycListPage {
    chrome: Chrome,
    status: String,
    statuses: Vec<&'static str>,
    items: Vec<KycRow>,
}

#[derive(Deserialize)]
struct StatusQuery {
    status: Option<String>,
}

async fn kyc_list(
    state: web::Data<AppState>,
    s: AdminSession,
    q: web::Query<StatusQuery>,
) -> UiResult {
    let raw = q.status.clone().unwrap_or_else(|| "pending".into());
    let status = admin_api::status_filter(Some(&raw))?;
    let items = state
        .store
        .read(move |c| store::kyc::queue(c, status, 500))
        .await?;
    page(&KycListPage {
        chrome: chrome(&state, &s, "kyc"),
        status: raw,
        statuses: vec![
            "pending",
            "approved",
            "rejected",
            "changes_requested",
            "revoked",
            "all",
        ],
        items: items
            .into_iter()
            .map(|i| KycRow {
                submitted: when(i.submitted_at),
                kyc_id: i.kyc_id,
                business_name: i.business_name,
                legal_name: i.legal_name,
                country: i.country,
                status: i.status,
            })
            .collect(),
    })
}

struct SubmissionView {
    kyc_id: String,
    merchant_id: String,
    legal_name: String,
    registration_number: String,
    country: String,
    address: String,
    contact_phone: String,
    document_type: String,
    document_size: i64,
    status: &'static str,
    submitted: String,
    reviewed: Option<String>,
    review_note: Option<String>,
}

fn submission_view(s: &store::kyc::Submission) -> SubmissionView {
    SubmissionView {
        kyc_id: s.id.clone(),
        merchant_id: s.merchant_id.clone(),
        legal_name: s.details.legal_name.clone(),
        registration_number: s.details.registration_number.clone(),
        country: s.details.country.clone(),
        address: s.details.address.clone(),
        contact_phone: s.details.contact_phone.clone(),
        document_type: s.document_type.clone(),
        document_size: s.document_size,
        status: s.status.as_str(),
        submitted: when(s.submitted_at),
        reviewed: s.reviewed_at.map(|t| {
            format!(
                "{} by {}",
                when(t),
                s.reviewed_by.clone().unwrap_or_default()
            )
        }),
        review_note: s.review_note.clone(),
    }
}

#[derive(Template)]
#[template(path = "admin/kyc_review.html")]
struct KycReviewPage {
    chrome: Chrome,
    business_name: String,
    merchant_email: String,
    sub: SubmissionView,
    history: Vec<SubmissionView>,
    reason: String,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn review_page(
    state: &AppState,
    s: &AdminSession,
    kyc_id: String,
    reason: String,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> UiResult {
    let found = state
        .store
        .read(move |c| {
            let Some(sub) = store::kyc::get(c, &kyc_id)? else {
                return Ok(None);
            };
            let merchant = store::accounts::get(c, &sub.merchant_id)?;
            let history = store::kyc::history(c, &sub.merchant_id)?;
            Ok(Some((sub, merchant, history)))
        })
        .await?;
    let (sub, merchant, history) = found
        .ok_or_else(|| ApiError::not_found("kyc_not_found", "No KYC submission with this id."))?;
    let merchant = merchant.ok_or_else(ApiError::internal)?;
    Ok(html(
        status,
        &KycReviewPage {
            chrome: chrome(state, s, "kyc"),
            business_name: merchant.business_name,
            merchant_email: merchant.email,
            history: history
                .iter()
                .filter(|h| h.id != sub.id)
                .map(submission_view)
                .collect(),
            sub: submission_view(&sub),
            reason,
            error,
            notice,
        },
    ))
}

async fn kyc_review(
    state: web::Data<AppState>,
    s: AdminSession,
    path: web::Path<String>,
    q: web::Query<DoneQuery>,
) -> UiResult {
    let notice = q.done.as_deref().map(|d| match d {
        "approved" => "Approved: the merchant's first signing secret was issued.".to_string(),
        "rejected" => "Rejected: the merchant was emailed the reason.".to_string(),
        _ => "Changes requested: the merchant was emailed what to change.".to_string(),
    });
    review_page(
        &state,
        &s,
        path.into_inner(),
        String::new(),
        None,
        notice,
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
struct ViewQuery {
    view: Option<String>,
}

async fn kyc_document(
    state: web::Data<AppState>,
    _s: AdminSession,
    path: web::Path<String>,
    q: web::Query<ViewQuery>,
) -> UiResult {
    let kyc_id = path.into_inner();
    let (mime, _, bytes) = admin_api::load_document(&state, kyc_id.clone()).await?;
    let kind = if q.view.as_deref() == Some("inline") {
        "inline"
    } else {
        "attachment"
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, mime.clone()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            admin_api::disposition(kind, &kyc_id, &mime),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header((
            "Content-Security-Policy",
            "sandbox; default-src 'none'; img-src 'self'; object-src 'self'",
        ))
        .body(bytes))
}

#[derive(Deserialize)]
struct DecideForm {
    #[serde(default)]
    csrf: String,
    action: String,
    #[serde(default)]
    reason: String,
}

async fn kyc_decide(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    path: web::Path<String>,
    form: web::Form<DecideForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let kyc_id = path.into_inner();
    let reason = form.reason.trim().to_string();
    let decision = match form.action.as_str() {
        "approve" => {
            let (_, secret) = super::secret::generate(&state);
            Ok(Decision::Approve {
                note: Some(reason.clone()).filter(|r| !r.is_empty()),
                secret,
                key_id: admin_api::new_key_id(&state),
            })
        }
        "reject" => {
            admin_api::required_reason(Some(&reason)).map(|reason| Decision::Reject { reason })
        }
        "request_changes" => admin_api::required_reason(Some(&reason))
            .map(|reason| Decision::RequestChanges { reason }),
        _ => Err(ApiError::bad_request("invalid_action", "Unknown decision.")),
    };
    let result = match decision {
        Ok(d) => admin_api::decide(
            &state,
            &format!("admin:{}", s.admin.email),
            kyc_id.clone(),
            d,
        )
        .await
        .map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            let done = match form.action.as_str() {
                "approve" => "approved",
                "reject" => "rejected",
                _ => "changes",
            };
            redirect(&format!("/admin/kyc/{kyc_id}?done={done}"))
        }
        Err(e) if e.status.is_client_error() && e.status != StatusCode::NOT_FOUND => {
            let message = e
                .violations
                .first()
                .map(|v| format!("The {} {}.", v.field, v.message))
                .unwrap_or(e.message);
            review_page(&state, &s, kyc_id, reason, Some(message), None, e.status).await
        }
        Err(e) => Err(e.into()),
    }
}

// ---- merchants ----

struct MerchantRow {
    id: String,
    email: String,
    business_name: String,
    kyc_status: &'static str,
    key_id: String,
    joined: String,
}

fn merchant_row(m: &store::accounts::Merchant) -> MerchantRow {
    MerchantRow {
        id: m.id.clone(),
        email: m.email.clone(),
        business_name: m.business_name.clone(),
        kyc_status: m.kyc_status.as_str(),
        key_id: m.key_id.clone().unwrap_or_else(|| "–".into()),
        joined: when(m.created_at),
    }
}

#[derive(Template)]
#[template(path = "admin/merchants.html")]
struct MerchantsPage {
    chrome: Chrome,
    q: String,
    items: Vec<MerchantRow>,
}

#[derive(Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

async fn merchants(
    state: web::Data<AppState>,
    s: AdminSession,
    q: web::Query<SearchQuery>,
) -> UiResult {
    let search = q.q.clone().unwrap_or_default();
    let filter = Some(search.trim().to_string()).filter(|s| !s.is_empty());
    let items = state
        .store
        .read(move |c| store::accounts::list(c, filter.as_deref(), 200))
        .await?;
    page(&MerchantsPage {
        chrome: chrome(&state, &s, "merchants"),
        q: search,
        items: items.iter().map(merchant_row).collect(),
    })
}

/// An event row of the admin tables.
pub struct EventRow {
    pub event_id: String,
    pub webhook_id: String,
    pub outcome: String,
    pub reason: String,
    pub received: String,
    pub response: String,
}

/// Map stored events to rows.
pub fn event_rows(events: &[store::orders::Event]) -> Vec<EventRow> {
    events
        .iter()
        .map(|e| EventRow {
            event_id: e.id.clone(),
            webhook_id: e.webhook_id.clone(),
            outcome: e.outcome.clone(),
            reason: e.reason.clone(),
            received: when_ms(e.received_at_ms),
            response: format!("{:.2} ms", e.duration_us as f64 / 1000.0),
        })
        .collect()
}

struct SecretRow {
    issued: String,
    reason: String,
    expires: String,
    state: String,
}

#[derive(Template)]
#[template(path = "admin/merchant.html")]
struct MerchantPage {
    chrome: Chrome,
    m: MerchantRow,
    kyc_id: Option<String>,
    last_used: String,
    secrets: Vec<SecretRow>,
    events: Vec<EventRow>,
    confirm_revoke: bool,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize)]
struct MerchantQuery {
    confirm: Option<String>,
    done: Option<String>,
}

async fn merchant_page(
    state: &AppState,
    s: &AdminSession,
    id: String,
    confirm: bool,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> UiResult {
    let found = state
        .store
        .read(move |c| {
            let Some(m) = store::accounts::get(c, &id)? else {
                return Ok(None);
            };
            let secrets = store::secrets::for_merchant(c, &id)?;
            let kyc = store::kyc::history(c, &id)?;
            let filter = store::orders::EventFilter {
                merchant_id: Some(id.clone()),
                ..Default::default()
            };
            let events = store::orders::list_events(c, &filter, 20)?;
            let accepted = store::orders::EventFilter {
                outcome: Some("accepted".into()),
                ..filter
            };
            let last = store::orders::list_events(c, &accepted, 1)?;
            Ok(Some((m, secrets, kyc, events, last)))
        })
        .await?;
    let (m, secrets, kyc, events, last) = found
        .ok_or_else(|| ApiError::not_found("merchant_not_found", "No merchant with this id."))?;
    let now = clock::now();
    Ok(html(
        status,
        &MerchantPage {
            chrome: chrome(state, s, "merchants"),
            m: merchant_row(&m),
            kyc_id: kyc.first().map(|k| k.id.clone()),
            last_used: last
                .first()
                .map(|e| when_ms(e.received_at_ms))
                .unwrap_or_else(|| "never".into()),
            secrets: secrets
                .iter()
                .map(|r| SecretRow {
                    issued: when(r.times.created_at),
                    reason: r.reason.clone(),
                    expires: when(r.times.expires_at),
                    state: match r.times.state_at(now) {
                        SecretState::Current => "current".into(),
                        SecretState::InGrace { until } => {
                            format!("superseded, verifies until {}", when(until))
                        }
                        SecretState::Expired => "expired".into(),
                        SecretState::Retired => "retired".into(),
                        SecretState::Revoked => "revoked".into(),
                    },
                })
                .collect(),
            events: event_rows(&events),
            confirm_revoke: confirm,
            error,
            notice,
        },
    ))
}

async fn merchant(
    state: web::Data<AppState>,
    s: AdminSession,
    path: web::Path<String>,
    q: web::Query<MerchantQuery>,
) -> UiResult {
    let notice = q
        .done
        .as_ref()
        .map(|_| "Revoked: every signing secret of this merchant stopped verifying.".to_string());
    merchant_page(
        &state,
        &s,
        path.into_inner(),
        q.confirm.as_deref() == Some("revoke"),
        None,
        notice,
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
struct ReasonForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    path: web::Path<String>,
    form: web::Form<ReasonForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let id = path.into_inner();
    let result = match admin_api::required_reason(Some(&form.reason)) {
        Ok(reason) => {
            admin_api::revoke_merchant(
                &state,
                &format!("admin:{}", s.admin.email),
                id.clone(),
                reason,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => redirect(&format!("/admin/merchants/{id}?done=revoked")),
        Err(e) if e.status.is_client_error() && e.status != StatusCode::NOT_FOUND => {
            let (_, message) = form_error(e.clone());
            let message = message.unwrap_or_else(|| "A reason is required to revoke.".into());
            merchant_page(&state, &s, id, true, Some(message), None, e.status).await
        }
        Err(e) => Err(e.into()),
    }
}

// ---- events, audit, outbox ----

#[derive(Template)]
#[template(path = "admin/events.html")]
struct EventsPage {
    chrome: Chrome,
    merchant_id: String,
    status: String,
    since: String,
    events: Vec<EventRow>,
    next_cursor: Option<String>,
    next_link: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct EventsQuery {
    merchant_id: Option<String>,
    status: Option<String>,
    since: Option<String>,
    cursor: Option<String>,
}

async fn events(
    state: web::Data<AppState>,
    s: AdminSession,
    q: web::Query<EventsQuery>,
) -> UiResult {
    let (merchant_id, status, since) = (
        q.merchant_id.clone().unwrap_or_default(),
        q.status.clone().unwrap_or_default(),
        q.since.clone().unwrap_or_default(),
    );
    let (limit, cursor) = admin_api::page(Some(50), q.cursor.as_deref())?;
    let next_link = format!(
        "/admin/events?merchant_id={}&status={}&since={}",
        query_escape(&merchant_id),
        query_escape(&status),
        query_escape(&since)
    );
    let (events, next_cursor, error) =
        match admin_api::event_filter(Some(&merchant_id), Some(&status), Some(&since), cursor) {
            Ok(filter) => {
                let mut items = state
                    .store
                    .read(move |c| store::orders::list_events(c, &filter, limit + 1))
                    .await?;
                let next = admin_api::next_page(&mut items, limit, |e| e.seq.to_string());
                (items, next, None)
            }
            Err(e) => (
                Vec::new(),
                None,
                Some(
                    e.violations
                        .iter()
                        .map(|v| format!("{} {}", v.field, v.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            ),
        };
    page(&EventsPage {
        chrome: chrome(&state, &s, "events"),
        merchant_id,
        status,
        since,
        events: event_rows(&events),
        next_cursor,
        next_link,
        error,
    })
}

struct EventView {
    event_id: String,
    merchant_id: String,
    webhook_id: String,
    topic: String,
    outcome: String,
    reason: String,
    received: String,
    client_ip: String,
    response: String,
    order_id: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/event.html")]
struct EventPage {
    chrome: Chrome,
    e: EventView,
    headers: Vec<(String, String)>,
    body: String,
    order_status: Option<String>,
}

async fn event(state: web::Data<AppState>, s: AdminSession, path: web::Path<String>) -> UiResult {
    let id = path.into_inner();
    let found = state
        .store
        .read(move |c| {
            let Some(e) = store::orders::get_event(c, &id)? else {
                return Ok(None);
            };
            let order = match &e.order_id {
                Some(o) => store::orders::get_any(c, o)?,
                None => None,
            };
            Ok(Some((e, order)))
        })
        .await?;
    let (e, order) =
        found.ok_or_else(|| ApiError::not_found("event_not_found", "No event with this id."))?;
    let raw = e.body.clone().unwrap_or_default();
    let body = serde_json::from_slice::<serde_json::Value>(&raw)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(&raw).into_owned());
    let headers = serde_json::from_str::<std::collections::BTreeMap<String, String>>(&e.headers)
        .unwrap_or_default()
        .into_iter()
        .collect();
    page(&EventPage {
        chrome: chrome(&state, &s, "events"),
        e: EventView {
            event_id: e.id.clone(),
            merchant_id: e.merchant_id.clone(),
            webhook_id: e.webhook_id.clone(),
            topic: e.topic.clone(),
            outcome: e.outcome.clone(),
            reason: e.reason.clone(),
            received: when_ms(e.received_at_ms),
            client_ip: e.client_ip.clone(),
            response: format!("{:.2} ms", e.duration_us as f64 / 1000.0),
            order_id: e.order_id.clone(),
        },
        headers,
        body,
        order_status: order.map(|o| o.tracking_status),
    })
}

struct AuditRow {
    at: String,
    actor: String,
    action: String,
    target: String,
    details: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    chrome: Chrome,
    items: Vec<AuditRow>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct CursorQuery {
    cursor: Option<String>,
    to: Option<String>,
}

async fn audit(
    state: web::Data<AppState>,
    s: AdminSession,
    q: web::Query<CursorQuery>,
) -> UiResult {
    let (limit, cursor) = admin_api::page(Some(100), q.cursor.as_deref())?;
    let mut items = state
        .store
        .read(move |c| store::audit::list(c, limit + 1, cursor, None))
        .await?;
    let next_cursor = admin_api::next_page(&mut items, limit, |e| e.id.to_string());
    page(&AuditPage {
        chrome: chrome(&state, &s, "audit"),
        items: items
            .into_iter()
            .map(|a| AuditRow {
                at: when(a.at),
                actor: a.actor,
                action: a.action,
                target: a.target,
                details: a.details.to_string(),
            })
            .collect(),
        next_cursor,
    })
}

struct MailRow {
    to: String,
    subject: String,
    body: String,
    created: String,
    delivery: String,
}

#[derive(Template)]
#[template(path = "admin/outbox.html")]
struct OutboxPage {
    chrome: Chrome,
    to: String,
    items: Vec<MailRow>,
    next_cursor: Option<String>,
}

async fn outbox(
    state: web::Data<AppState>,
    s: AdminSession,
    q: web::Query<CursorQuery>,
) -> UiResult {
    let (limit, cursor) = admin_api::page(Some(50), q.cursor.as_deref())?;
    let to = q.to.clone().unwrap_or_default();
    let filter = Some(to.trim().to_string()).filter(|t| !t.is_empty());
    let mut items = state
        .store
        .read(move |c| store::outbox::list(c, filter.as_deref(), limit + 1, cursor))
        .await?;
    let next_cursor = admin_api::next_page(&mut items, limit, |e| e.id.to_string());
    page(&OutboxPage {
        chrome: chrome(&state, &s, "outbox"),
        to,
        items: items
            .into_iter()
            .map(|m| MailRow {
                delivery: match (m.sent_at, &m.last_error) {
                    (Some(t), _) => format!("sent {}", when(t)),
                    (None, Some(e)) => {
                        format!("not sent yet ({} attempts; last error: {e})", m.attempts)
                    }
                    (None, None) => "in the outbox".into(),
                },
                to: m.to,
                subject: m.subject,
                body: m.body,
                created: when(m.created_at),
            })
            .collect(),
        next_cursor,
    })
}
