//! Merchant pages: dashboard.

use crate::{
    app::{self, settings::OrderEmails},
    domain::{
        KycStatus,
        kyc::{KycDetails, KycForm},
    },
    error::{ApiError, Violation},
    http::{
        session::{MerchantSession, verify_csrf},
        ui::{FieldErrors, UiResult, form_error, html, redirect, when, when_ms, words},
        upload::read_form,
    },
    state::AppState,
    store::{self},
};
use actix_multipart::Multipart;
use actix_web::{HttpRequest, http::StatusCode, http::header, web};
use askama::Template;
use serde::Deserialize;

#[derive(Default)]
struct KycFormView {
    legal_name: String,
    registration_number: String,
    country: String,
    address: String,
    contact_phone: String,
}

impl From<&KycDetails> for KycFormView {
    fn from(d: &KycDetails) -> Self {
        KycFormView {
            legal_name: d.legal_name.clone(),
            registration_number: d.registration_number.clone(),
            country: d.country.clone(),
            address: d.address.clone(),
            contact_phone: d.contact_phone.clone(),
        }
    }
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
    /// The status in words.
    kyc_status_label: &'static str,
}

/// The KYC form's inputs in page order, for focusing the first invalid one.
const KYC_FIELDS: [&str; 6] = [
    "legal_name",
    "registration_number",
    "country",
    "address",
    "contact_phone",
    "document",
];

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
    /// Why the approval was revoked, shown to a revoked merchant.
    revoked_reason: Option<String>,
    can_submit: bool,
    form: KycFormView,
    /// The form shows values from before (an earlier submission or a refused one), so the
    /// document must be chosen again.
    form_refilled: bool,
    errors: FieldErrors,
    /// The first KYC input with an error (it gets `autofocus`), or "".
    first_invalid: &'static str,
    order_emails: OrderEmails,
    key_id: String,
    revealed: Option<String>,
    needs_password: bool,
    expires: String,
    rotation_near: bool,
    previous_until: Option<String>,
    /// Where merchants' systems POST their webhooks.
    endpoint: String,
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
    let app::records::MerchantFile {
        kyc: history,
        secrets,
        recent_orders: orders,
        recent_events: events,
        ..
    } = app::records::merchant_file(state, &m.id).await?;
    let now = state.now();
    let current = store::secrets::current(&secrets);
    let rotate_before = state.config.rotate_before.as_secs() as i64;
    let key_id = m.key_id.clone().unwrap_or_default();
    let url = format!("{}/api/v1/webhooks/orders/", state.config.public_url);
    let (snippet_curl, snippet_python, snippet_node) = super::snippets::render(&key_id, &url);
    let can_submit = app::kyc::may_submit(m.kyc_status).is_ok();
    let last_reviewed = match m.kyc_status {
        KycStatus::Rejected | KycStatus::ChangesRequested => history.first(),
        _ => None,
    };
    let review_note = last_reviewed.and_then(|h| h.review_note.clone());
    // A resubmission starts from the last submission, a refused form from what was typed.
    let form = extras
        .form
        .or_else(|| last_reviewed.map(|h| KycFormView::from(&h.details)));
    let first_invalid = KYC_FIELDS
        .into_iter()
        .find(|f| extras.errors.get(f).is_some())
        .unwrap_or_default();
    let order_emails = app::settings::order_emails(state, &m.id).await?;
    let revoked_reason = match m.kyc_status {
        KycStatus::Revoked => history
            .iter()
            .find(|h| h.status == KycStatus::Revoked)
            .and_then(|h| h.review_note.clone()),
        _ => None,
    };
    let page = DashboardPage {
        csrf: s.browser.csrf(state),
        m: MerchantView {
            business_name: m.business_name.clone(),
            kyc_status: m.kyc_status.as_str(),
            kyc_status_label: m.kyc_status.label(),
        },
        notice: extras.notice,
        error: extras.error,
        review_note,
        revoked_reason,
        can_submit,
        form_refilled: form.is_some(),
        form: form.unwrap_or_default(),
        errors: extras.errors,
        first_invalid,
        order_emails,
        revealed: extras.revealed,
        needs_password: !s.browser.recently_authenticated(state),
        expires: current
            .map(|c| when(c.times.expires_at))
            .unwrap_or_else(|| "–".into()),
        rotation_near: current.is_some_and(|c| c.times.expires_at - now <= rotate_before),
        previous_until: store::secrets::previous_in_grace(&secrets, now)
            .map(|p| when(p.times.valid_until())),
        endpoint: url.clone(),
        snippet_curl,
        snippet_python,
        snippet_node,
        orders: orders
            .iter()
            .map(|o| OrderRow {
                id: o.id.clone(),
                reference: o.merchant_reference.clone().unwrap_or_default(),
                customer: format!("{} <{}>", o.customer_name, o.customer_email),
                status: words(&o.tracking_status),
                history: o
                    .history
                    .iter()
                    .map(|h| format!("{} {}", when(h.at), words(&h.status)))
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
                reason: words(&e.reason),
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
pub(super) struct NoticeQuery {
    notice: Option<String>,
}

pub(super) async fn dashboard(
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
        "order_emails_on" => Some("Order emails are on: your customers are emailed.".to_string()),
        "order_emails_off" => {
            Some("Order emails are off: hookgate no longer emails your customers.".to_string())
        }
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

pub(super) async fn submit_kyc(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: MerchantSession,
    payload: web::Payload,
) -> UiResult {
    let upload = match read_form(Multipart::new(req.headers(), payload)).await {
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
    if let Some(refused) = upload.document_error {
        // Every problem at once: the fields' and the document's, with what was typed kept.
        let mut violations = upload.form.validate().err().unwrap_or_default();
        let status = if violations.is_empty() {
            refused.status
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        violations.push(Violation::new("document", refused.message));
        let extras = DashboardExtras {
            form: Some(view),
            errors: FieldErrors(violations),
            ..Default::default()
        };
        return render_dashboard(&state, &s, extras, status).await;
    }
    match app::kyc::submit(&state, &s.merchant.id, upload.form, upload.document).await {
        Ok(_) => redirect("/?notice=kyc"),
        Err(e) if e.is_users_fault() => {
            let e = ApiError::from(e);
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
    match app::accounts::get(state, merchant_id).await {
        Ok(m) => Ok(m.kyc_status),
        Err(app::Error::NotFound(_)) => Ok(KycStatus::None),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub(super) struct RevealForm {
    #[serde(default)]
    csrf: String,
    password: Option<String>,
}

pub(super) async fn reveal(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: MerchantSession,
    form: web::Form<RevealForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let mut s = s;
    if !s.browser.recently_authenticated(&state) {
        let password = form.password.as_deref().unwrap_or_default();
        if !app::accounts::confirm_password(&state, &s.merchant, password).await? {
            let extras = DashboardExtras {
                error: Some("Enter your password to reveal the secret.".into()),
                ..Default::default()
            };
            return render_dashboard(&state, &s, extras, StatusCode::UNAUTHORIZED).await;
        }
        s.browser.reauthenticated(&state).await?;
    }
    let revealed = app::secrets::reveal(&state, &s.merchant).await?;
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
pub(super) struct RotateForm {
    #[serde(default)]
    csrf: String,
    confirm: Option<String>,
}

pub(super) async fn rotate(
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
    app::secrets::regenerate(&state, &s.merchant).await?;
    redirect("/?notice=rotated")
}
