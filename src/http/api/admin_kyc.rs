//! Admin API over KYC: the review queue, a case, its document, and the decisions.

use crate::{
    app::{
        self,
        kyc::{Case, Verdict},
        paging,
    },
    clock,
    error::ApiError,
    http::extract::{AuthAdmin, optional_json},
    state::AppState,
    store::kyc::Submission,
};
use actix_web::{HttpResponse, http::header, web};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
pub struct KycListQuery {
    status: Option<String>,
    limit: Option<u32>,
}

#[derive(Serialize)]
struct QueueRow {
    kyc_id: String,
    merchant_id: String,
    business_name: String,
    legal_name: String,
    country: String,
    status: String,
    submitted_at: String,
}

/// `GET /api/v1/admin/kyc?status=`
pub async fn list(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    q: web::Query<KycListQuery>,
) -> Result<HttpResponse, ApiError> {
    let status = app::kyc::status_filter(q.status.as_deref())?;
    let limit = paging::limit(q.limit).map_err(|v| ApiError::validation(vec![v]))?;
    let items: Vec<QueueRow> = app::kyc::queue(&state, status, limit)
        .await?
        .into_iter()
        .map(|i| QueueRow {
            kyc_id: i.kyc_id,
            merchant_id: i.merchant_id,
            business_name: i.business_name,
            legal_name: i.legal_name,
            country: i.country,
            status: i.status,
            submitted_at: clock::rfc3339(i.submitted_at),
        })
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

#[derive(Serialize)]
struct DocumentInfo<'a> {
    content_type: &'a str,
    file_name: &'a str,
    size: i64,
}

#[derive(Serialize)]
struct SubmissionBody<'a> {
    kyc_id: &'a str,
    merchant_id: &'a str,
    legal_name: &'a str,
    registration_number: &'a str,
    country: &'a str,
    address: &'a str,
    contact_phone: &'a str,
    document: DocumentInfo<'a>,
    status: &'static str,
    submitted_at: String,
    reviewed_at: Option<String>,
    reviewed_by: Option<&'a str>,
    review_note: Option<&'a str>,
}

impl<'a> SubmissionBody<'a> {
    fn of(s: &'a Submission) -> Self {
        SubmissionBody {
            kyc_id: &s.id,
            merchant_id: &s.merchant_id,
            legal_name: &s.details.legal_name,
            registration_number: &s.details.registration_number,
            country: &s.details.country,
            address: &s.details.address,
            contact_phone: &s.details.contact_phone,
            document: DocumentInfo {
                content_type: &s.document_type,
                file_name: &s.document_name,
                size: s.document_size,
            },
            status: s.status.as_str(),
            submitted_at: clock::rfc3339(s.submitted_at),
            reviewed_at: s.reviewed_at.map(clock::rfc3339),
            reviewed_by: s.reviewed_by.as_deref(),
            review_note: s.review_note.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct MerchantSummary<'a> {
    merchant_id: &'a str,
    email: &'a str,
    business_name: &'a str,
    kyc_status: &'static str,
    key_id: Option<&'a str>,
}

#[derive(Serialize)]
struct CaseBody<'a> {
    #[serde(flatten)]
    submission: SubmissionBody<'a>,
    merchant: Option<MerchantSummary<'a>>,
    history: Vec<SubmissionBody<'a>>,
}

/// `GET /api/v1/admin/kyc/{kyc_id}`
pub async fn get(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Case {
        submission,
        merchant,
        history,
    } = app::kyc::case(&state, &path).await?;
    Ok(HttpResponse::Ok().json(CaseBody {
        submission: SubmissionBody::of(&submission),
        merchant: merchant.as_ref().map(|m| MerchantSummary {
            merchant_id: &m.id,
            email: &m.email,
            business_name: &m.business_name,
            kyc_status: m.kyc_status.as_str(),
            key_id: m.key_id.as_deref(),
        }),
        history: history.iter().map(SubmissionBody::of).collect(),
    }))
}

/// `GET /api/v1/admin/kyc/{kyc_id}/document`
pub async fn document(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let doc = app::kyc::document(&state, &path).await?;
    let name = app::kyc::document_file_name(&path, &doc.mime);
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, doc.mime))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header(("Content-Security-Policy", "sandbox; default-src 'none'"))
        .body(doc.bytes))
}

#[derive(Deserialize, Default)]
struct NoteBody {
    note: Option<String>,
    reason: Option<String>,
}

#[derive(Serialize)]
struct Decided {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
}

async fn decide(
    state: &AppState,
    admin: &AuthAdmin,
    kyc_id: &str,
    action: &str,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let body: NoteBody = optional_json(body)?;
    let text = if action == "approve" {
        body.note
    } else {
        body.reason
    };
    let verdict = Verdict::parse(action, text.as_deref())?;
    let done = app::kyc::decide(state, &admin.actor(), kyc_id, verdict).await?;
    Ok(HttpResponse::Ok().json(Decided {
        status: done.status.as_str(),
        key_id: done.key_id,
    }))
}

/// `POST /api/v1/admin/kyc/{kyc_id}/approve` `{note?}`
pub async fn approve(
    state: web::Data<AppState>,
    admin: AuthAdmin,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    decide(&state, &admin, &path, "approve", &body).await
}

/// `POST /api/v1/admin/kyc/{kyc_id}/reject` `{reason}`
pub async fn reject(
    state: web::Data<AppState>,
    admin: AuthAdmin,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    decide(&state, &admin, &path, "reject", &body).await
}

/// `POST /api/v1/admin/kyc/{kyc_id}/request-changes` `{reason}`
pub async fn request_changes(
    state: web::Data<AppState>,
    admin: AuthAdmin,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    decide(&state, &admin, &path, "request_changes", &body).await
}

/// `POST /api/v1/admin/merchants/{merchant_id}/revoke` `{reason}`
pub async fn revoke(
    state: web::Data<AppState>,
    admin: AuthAdmin,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: NoteBody = optional_json(&body)?;
    app::kyc::revoke_merchant(&state, &admin.actor(), &path, body.reason.as_deref()).await?;
    Ok(HttpResponse::Ok().json(Decided {
        status: "revoked",
        key_id: None,
    }))
}
