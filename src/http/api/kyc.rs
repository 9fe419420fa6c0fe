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

#[derive(Serialize)]
struct Submitted {
    kyc_id: String,
    status: &'static str,
}

/// `POST /api/v1/kyc`
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

#[derive(Serialize)]
struct KycState {
    kyc_id: String,
    status: &'static str,
    submitted_at: String,
    reviewed_at: Option<String>,
    review_note: Option<String>,
}

/// `GET /api/v1/kyc`
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
