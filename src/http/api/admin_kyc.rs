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
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KycListQuery {
    /// `pending`, `approved`, `rejected`, `changes_requested` or `revoked`; absent or `all`: every
    /// status.
    status: Option<String>,
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
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
#[utoipa::path(
    get,
    path = "/api/v1/admin/kyc",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(KycListQuery),
    responses((status = 200, description = "The queue, oldest first", body = Vec<QueueRow>))
)]
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

#[derive(Serialize, ToSchema)]
struct DocumentInfo<'a> {
    content_type: &'a str,
    file_name: &'a str,
    size: i64,
}

#[derive(Serialize, ToSchema)]
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

#[derive(Serialize, ToSchema)]
struct MerchantSummary<'a> {
    merchant_id: &'a str,
    email: &'a str,
    business_name: &'a str,
    kyc_status: &'static str,
    key_id: Option<&'a str>,
}

#[derive(Serialize, ToSchema)]
struct CaseBody<'a> {
    #[serde(flatten)]
    submission: SubmissionBody<'a>,
    merchant: Option<MerchantSummary<'a>>,
    history: Vec<SubmissionBody<'a>>,
}

/// `GET /api/v1/admin/kyc/{kyc_id}`
#[utoipa::path(
    get,
    path = "/api/v1/admin/kyc/{kyc_id}",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(("kyc_id" = String, Path)),
    responses((status = 200, description = "The submission with its merchant and earlier submissions", body = CaseBody))
)]
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
#[utoipa::path(
    get,
    path = "/api/v1/admin/kyc/{kyc_id}/document",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(("kyc_id" = String, Path)),
    responses((status = 200, description = "The document bytes (`Content-Disposition: attachment`)", content(
        (Vec<u8> = "application/pdf"), (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg")
    )))
)]
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

/// An optional note with an approval (the body may be empty).
#[derive(ToSchema)]
#[allow(dead_code)]
struct ApproveInput {
    note: Option<String>,
}

/// The reason of a rejection, change request or revocation, shown to the merchant.
#[derive(ToSchema)]
#[allow(dead_code)]
struct ReasonInput {
    reason: String,
}

#[derive(Serialize, ToSchema)]
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
#[utoipa::path(
    post,
    path = "/api/v1/admin/kyc/{kyc_id}/approve",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(("kyc_id" = String, Path)),
    request_body(content = Option<ApproveInput>, content_type = "application/json"),
    responses((status = 200, description = "`{status: \"approved\", key_id}`; the first secret is issued", body = Decided),
        (status = 409, description = "The submission is not pending", body = crate::error::ErrorBody))
)]
pub async fn approve(
    state: web::Data<AppState>,
    admin: AuthAdmin,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    decide(&state, &admin, &path, "approve", &body).await
}

/// `POST /api/v1/admin/kyc/{kyc_id}/reject` `{reason}`
#[utoipa::path(
    post,
    path = "/api/v1/admin/kyc/{kyc_id}/reject",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(("kyc_id" = String, Path)),
    request_body(content = ReasonInput, content_type = "application/json"),
    responses((status = 200, description = "`{status: \"rejected\"}`", body = Decided),
        (status = 409, description = "The submission is not pending", body = crate::error::ErrorBody))
)]
pub async fn reject(
    state: web::Data<AppState>,
    admin: AuthAdmin,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    decide(&state, &admin, &path, "reject", &body).await
}

/// `POST /api/v1/admin/kyc/{kyc_id}/request-changes` `{reason}`
#[utoipa::path(
    post,
    path = "/api/v1/admin/kyc/{kyc_id}/request-changes",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(("kyc_id" = String, Path)),
    request_body(content = ReasonInput, content_type = "application/json"),
    responses((status = 200, description = "`{status: \"changes_requested\"}`", body = Decided),
        (status = 409, description = "The submission is not pending", body = crate::error::ErrorBody))
)]
pub async fn request_changes(
    state: web::Data<AppState>,
    admin: AuthAdmin,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    decide(&state, &admin, &path, "request_changes", &body).await
}

/// `POST /api/v1/admin/merchants/{merchant_id}/revoke` `{reason}`
#[utoipa::path(
    post,
    path = "/api/v1/admin/merchants/{merchant_id}/revoke",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(("merchant_id" = String, Path)),
    request_body(content = ReasonInput, content_type = "application/json"),
    responses((status = 200, description = "`{status: \"revoked\"}`; every secret of the merchant is deactivated", body = Decided),
        (status = 409, description = "The merchant is not approved", body = crate::error::ErrorBody))
)]
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
