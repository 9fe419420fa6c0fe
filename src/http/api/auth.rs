//! Merchant sign-up, email verification, login and `/me`.

use crate::{
    app::{self, accounts::Registration},
    clock,
    error::ApiError,
    http::extract::{AuthMerchant, JsonBody, client_ip},
    state::AppState,
};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
pub struct RegisterBody {
    email: Option<String>,
    password: Option<String>,
    business_name: Option<String>,
}

#[derive(Serialize)]
struct Registered {
    merchant_id: String,
    status: &'static str,
}

/// `POST /api/v1/auth/register`
pub async fn register(
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let reg = Registration::parse(
        body.email.as_deref(),
        body.password.as_deref(),
        body.business_name.as_deref(),
    )
    .map_err(ApiError::validation)?;
    let merchant_id = app::accounts::register(&state, reg).await?;
    Ok(HttpResponse::Created().json(Registered {
        merchant_id,
        status: "email_unverified",
    }))
}

#[derive(Deserialize)]
pub struct VerifyBody {
    email: Option<String>,
    code: Option<String>,
}

#[derive(Serialize)]
struct Status {
    status: &'static str,
}

/// `POST /api/v1/auth/verify-email`
pub async fn verify_email(
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(body): JsonBody<VerifyBody>,
) -> Result<HttpResponse, ApiError> {
    app::accounts::verify_email(
        &state,
        client_ip(&req),
        body.email.as_deref().unwrap_or_default(),
        body.code.as_deref().unwrap_or_default(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(Status { status: "active" }))
}

#[derive(Deserialize)]
pub struct ResendBody {
    email: Option<String>,
}

/// `POST /api/v1/auth/resend-code`: always "accepted", so the answer does not reveal which
/// emails have accounts.
pub async fn resend_code(
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(body): JsonBody<ResendBody>,
) -> Result<HttpResponse, ApiError> {
    app::accounts::resend_code(
        &state,
        client_ip(&req),
        body.email.as_deref().unwrap_or_default(),
    )
    .await?;
    Ok(HttpResponse::Accepted().json(Status { status: "accepted" }))
}

#[derive(Deserialize)]
pub struct TokenBody {
    email: Option<String>,
    password: Option<String>,
}

#[derive(Serialize)]
struct AccessToken {
    access_token: String,
    token_type: &'static str,
    expires_at: String,
}

/// `POST /api/v1/auth/token`
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(body): JsonBody<TokenBody>,
) -> Result<HttpResponse, ApiError> {
    let m = app::accounts::authenticate(
        &state,
        client_ip(&req),
        body.email.as_deref().unwrap_or_default(),
        body.password.as_deref().unwrap_or_default(),
    )
    .await?;
    let issued = app::accounts::issue_token(&state, m.id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(AccessToken {
            access_token: issued.token,
            token_type: "Bearer",
            expires_at: clock::rfc3339(issued.expires_at),
        }))
}

#[derive(Serialize)]
struct Me {
    merchant_id: String,
    email: String,
    business_name: String,
    kyc_status: &'static str,
    key_id: Option<String>,
}

/// `GET /api/v1/me`
pub async fn me(AuthMerchant(m): AuthMerchant) -> HttpResponse {
    HttpResponse::Ok().json(Me {
        merchant_id: m.id,
        email: m.email,
        business_name: m.business_name,
        kyc_status: m.kyc_status.as_str(),
        key_id: m.key_id,
    })
}
