//! Merchant KYC: multipart submission and status.

use crate::{
    app, clock,
    error::ApiError,
    http::{extract::AuthMerchant, upload::read_form},
    state::AppState,
};
use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
struct Submitted {
    kyc_id: String,
    status: &'static str,
}

/// The multipart form of a KYC submission.
#[derive(ToSchema)]
#[allow(dead_code)]
struct KycForm {
    legal_name: String,
    registration_number: String,
    /// ISO 3166 alpha-2.
    country: String,
    address: String,
    contact_phone: String,
    /// PDF, PNG or JPEG (decided by content), at most 5 MiB.
    #[schema(value_type = String, format = Binary)]
    document: Vec<u8>,
}

/// `POST /api/v1/kyc`
#[utoipa::path(
    post,
    path = "/api/v1/kyc",
    tag = "merchant",
    security(("merchant_bearer" = [])),
    request_body(content = KycForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Submitted for review", body = Submitted),
        (status = 409, description = "`kyc_already_pending`, `kyc_already_approved` or `kyc_revoked`", body = crate::error::ErrorBody),
        (status = 413, description = "Document or form too large", body = crate::error::ErrorBody),
        (status = 415, description = "`unsupported_document`", body = crate::error::ErrorBody),
    )
)]
pub async fn submit(
    state: web::Data<AppState>,
    AuthMerchant(m): AuthMerchant,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // Refuse early (before reading 5 MiB) when the state forbids a submission.
    app::kyc::may_submit(m.kyc_status)?;
    let upload = read_form(Multipart::new(req.headers(), payload)).await?;
    if let Some(refused) = upload.document_error {
        return Err(refused);
    }
    let kyc_id = app::kyc::submit(&state, &m.id, upload.form, upload.document).await?;
    Ok(HttpResponse::Created().json(Submitted {
        kyc_id,
        status: "pending",
    }))
}

#[derive(Serialize, ToSchema)]
struct KycState {
    kyc_id: String,
    status: &'static str,
    submitted_at: String,
    reviewed_at: Option<String>,
    review_note: Option<String>,
}

/// `GET /api/v1/kyc`
#[utoipa::path(
    get,
    path = "/api/v1/kyc",
    tag = "merchant",
    security(("merchant_bearer" = [])),
    responses(
        (status = 200, description = "The latest submission", body = KycState),
        (status = 404, description = "`no_kyc`", body = crate::error::ErrorBody),
    )
)]
pub async fn status(
    state: web::Data<AppState>,
    AuthMerchant(m): AuthMerchant,
) -> Result<HttpResponse, ApiError> {
    let history = app::kyc::history(&state, &m.id).await?;
    let latest = history
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found("no_kyc", "No KYC submission yet."))?;
    Ok(HttpResponse::Ok().json(KycState {
        kyc_id: latest.id,
        status: latest.status.as_str(),
        submitted_at: clock::rfc3339(latest.submitted_at),
        reviewed_at: latest.reviewed_at.map(clock::rfc3339),
        review_note: latest.review_note,
    }))
}
