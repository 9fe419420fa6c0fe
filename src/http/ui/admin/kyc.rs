//! Admin console: kyc.

use super::{Chrome, chrome};
use crate::{
    app,
    error::ApiError,
    http::{
        session::{AdminSession, verify_csrf},
        ui::{UiResult, html, page, redirect, when},
    },
    state::AppState,
    store::{self},
};
use actix_web::{HttpRequest, HttpResponse, http::StatusCode, http::header, web};
use askama::Template;
use serde::Deserialize;

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
pub(super) struct StatusQuery {
    status: Option<String>,
}

pub(super) async fn kyc_list(
    state: web::Data<AppState>,
    s: AdminSession,
    q: web::Query<StatusQuery>,
) -> UiResult {
    let raw = q.status.clone().unwrap_or_else(|| "pending".into());
    let status = app::kyc::status_filter(Some(&raw))?;
    let items = app::kyc::queue(&state, status, 500).await?;
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
pub(super) struct DoneQuery {
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
    let app::kyc::Case {
        submission: sub,
        merchant,
        history,
    } = app::kyc::case(state, &kyc_id).await?;
    let merchant = merchant.ok_or_else(ApiError::internal)?;
    Ok(html(
        status,
        &KycReviewPage {
            chrome: chrome(state, s, "kyc"),
            business_name: merchant.business_name,
            merchant_email: merchant.email,
            history: history.iter().map(submission_view).collect(),
            sub: submission_view(&sub),
            reason,
            error,
            notice,
        },
    ))
}

pub(super) async fn kyc_review(
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
pub(super) struct ViewQuery {
    view: Option<String>,
}

pub(super) async fn kyc_document(
    state: web::Data<AppState>,
    _s: AdminSession,
    path: web::Path<String>,
    q: web::Query<ViewQuery>,
) -> UiResult {
    let kyc_id = path.into_inner();
    let doc = app::kyc::document(&state, &kyc_id).await?;
    let kind = if q.view.as_deref() == Some("inline") {
        "inline"
    } else {
        "attachment"
    };
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "{kind}; filename=\"{}\"",
                app::kyc::document_file_name(&kyc_id, &doc.mime)
            ),
        ))
        .insert_header((header::CONTENT_TYPE, doc.mime))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header((
            "Content-Security-Policy",
            "sandbox; default-src 'none'; img-src 'self'; object-src 'self'",
        ))
        .body(doc.bytes))
}

#[derive(Deserialize)]
pub(super) struct DecideForm {
    #[serde(default)]
    csrf: String,
    action: String,
    #[serde(default)]
    reason: String,
}

pub(super) async fn kyc_decide(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    path: web::Path<String>,
    form: web::Form<DecideForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let kyc_id = path.into_inner();
    let reason = form.reason.trim().to_string();
    if !matches!(
        form.action.as_str(),
        "approve" | "reject" | "request_changes"
    ) {
        return Err(ApiError::bad_request("invalid_action", "Unknown decision.").into());
    }
    let result = match app::kyc::Verdict::parse(&form.action, Some(&reason)) {
        Ok(verdict) => app::kyc::decide(&state, &s.actor(), &kyc_id, verdict)
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
        Err(e @ (app::Error::Invalid(_) | app::Error::Refused(_))) => {
            let e = ApiError::from(e);
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
