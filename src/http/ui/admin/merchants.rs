//! Admin console: merchants.

use super::{Chrome, chrome};
use crate::{
    app,
    domain::{KycStatus, secret::SecretState},
    error::ApiError,
    http::{
        session::{AdminSession, verify_csrf},
        ui::{UiResult, form_error, html, page, redirect, when, when_ms, words},
    },
    state::AppState,
    store::{self},
};
use actix_web::{HttpRequest, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

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
pub(super) struct SearchQuery {
    q: Option<String>,
}

pub(super) async fn merchants(
    state: web::Data<AppState>,
    s: AdminSession,
    q: web::Query<SearchQuery>,
) -> UiResult {
    let search = q.q.clone().unwrap_or_default();
    let items = app::records::merchants(&state, Some(search.trim().to_string()), 200).await?;
    page(&MerchantsPage {
        chrome: chrome(&state, &s, "merchants"),
        q: search,
        items: items.iter().map(merchant_row).collect(),
    })
}

/// An event row of the admin tables.
pub struct EventRow {
    pub event_id: String,
    pub source: String,
    pub topic: String,
    pub webhook_id: String,
    pub outcome: String,
    /// The outcome as a word for people.
    pub outcome_words: String,
    pub reason: String,
    pub received: String,
    pub response: String,
}

/// Map stored events to rows.
pub(super) fn event_rows(events: &[store::orders::Event]) -> Vec<EventRow> {
    events
        .iter()
        .map(|e| EventRow {
            event_id: e.id.clone(),
            source: e.source.clone(),
            topic: e.topic.clone(),
            webhook_id: e.webhook_id.clone(),
            outcome: e.outcome.clone(),
            outcome_words: words(&e.outcome),
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
    /// Why the approval was revoked (the revoked submission's note).
    revoked_reason: Option<String>,
    /// The reinstate form's reason, and its error.
    reinstate_reason: String,
    reinstate_error: Option<String>,
    error: Option<String>,
    notice: Option<String>,
}

/// What a merchant page render varies by besides the merchant.
#[derive(Default)]
struct PageExtras {
    confirm_revoke: bool,
    reinstate_reason: String,
    reinstate_error: Option<String>,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct MerchantQuery {
    confirm: Option<String>,
    done: Option<String>,
}

async fn merchant_page(
    state: &AppState,
    s: &AdminSession,
    id: String,
    extras: PageExtras,
    status: StatusCode,
) -> UiResult {
    let file = app::records::merchant_file(state, &id).await?;
    let now = state.now();
    let revoked_reason = match file.merchant.kyc_status {
        KycStatus::Revoked => file
            .kyc
            .iter()
            .find(|k| k.status == KycStatus::Revoked)
            .and_then(|k| k.review_note.clone()),
        _ => None,
    };
    Ok(html(
        status,
        &MerchantPage {
            chrome: chrome(state, s, "merchants"),
            m: merchant_row(&file.merchant),
            kyc_id: file.kyc.first().map(|k| k.id.clone()),
            last_used: file
                .last_accepted_ms
                .map(when_ms)
                .unwrap_or_else(|| "never".into()),
            secrets: file
                .secrets
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
            events: event_rows(&file.recent_events),
            confirm_revoke: extras.confirm_revoke,
            revoked_reason,
            reinstate_reason: extras.reinstate_reason,
            reinstate_error: extras.reinstate_error,
            error: extras.error,
            notice: extras.notice,
        },
    ))
}

pub(super) async fn merchant(
    state: web::Data<AppState>,
    s: AdminSession,
    path: web::Path<String>,
    q: web::Query<MerchantQuery>,
) -> UiResult {
    let notice = q.done.as_deref().map(|done| match done {
        "reinstated" => {
            "Reinstated: the merchant is approved again and has a new signing secret.".to_string()
        }
        _ => "Revoked: every signing secret of this merchant stopped verifying.".to_string(),
    });
    let extras = PageExtras {
        confirm_revoke: q.confirm.as_deref() == Some("revoke"),
        notice,
        ..Default::default()
    };
    merchant_page(&state, &s, path.into_inner(), extras, StatusCode::OK).await
}

#[derive(Deserialize)]
pub(super) struct ReasonForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

pub(super) async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    path: web::Path<String>,
    form: web::Form<ReasonForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let id = path.into_inner();
    let actor = s.actor();
    match app::kyc::revoke_merchant(&state, &actor, &id, Some(&form.reason)).await {
        Ok(()) => redirect(&format!("/admin/merchants/{id}?done=revoked")),
        Err(e @ (app::Error::Invalid(_) | app::Error::Refused(_))) => {
            let e = ApiError::from(e);
            let (_, message) = form_error(e.clone());
            let message = message.unwrap_or_else(|| "A reason is required to revoke.".into());
            let extras = PageExtras {
                confirm_revoke: true,
                error: Some(message),
                ..Default::default()
            };
            merchant_page(&state, &s, id, extras, e.status).await
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn reinstate(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    path: web::Path<String>,
    form: web::Form<ReasonForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let id = path.into_inner();
    let actor = s.actor();
    match app::kyc::reinstate_merchant(&state, &actor, &id, Some(&form.reason)).await {
        Ok(()) => redirect(&format!("/admin/merchants/{id}?done=reinstated")),
        Err(e @ (app::Error::Invalid(_) | app::Error::Refused(_))) => {
            let e = ApiError::from(e);
            let (errors, message) = form_error(e.clone());
            let extras = PageExtras {
                reinstate_reason: form.reason.clone(),
                reinstate_error: errors.get("reason").map(|m| format!("The reason {m}.")),
                error: message,
                ..Default::default()
            };
            merchant_page(&state, &s, id, extras, e.status).await
        }
        Err(e) => Err(e.into()),
    }
}
