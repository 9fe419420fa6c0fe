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
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub struct RegisterBody {
    email: Option<String>,
    password: Option<String>,
    business_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct Registered {
    merchant_id: String,
    status: &'static str,
}

/// `POST /api/v1/auth/register`
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "merchant",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "Registered; a 6-digit code was emailed", body = Registered),
        (status = 409, description = "`email_taken`", body = crate::error::ErrorBody),
    )
)]
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

#[derive(Deserialize, ToSchema)]
pub struct VerifyBody {
    email: Option<String>,
    code: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct Status {
    status: &'static str,
}

/// `POST /api/v1/auth/verify-email`
#[utoipa::path(
    post,
    path = "/api/v1/auth/verify-email",
    tag = "merchant",
    request_body = VerifyBody,
    responses(
        (status = 200, description = "Verified: `{status: \"active\"}`", body = Status),
        (status = 400, description = "`invalid_code` (5 wrong tries burn the code) or a malformed body", body = crate::error::ErrorBody),
        (status = 410, description = "`code_expired`", body = crate::error::ErrorBody),
    )
)]
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

#[derive(Deserialize, ToSchema)]
pub struct ResendBody {
    email: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/resend-code",
    tag = "merchant",
    request_body = ResendBody,
    responses((status = 202, description = "Accepted, whether or not the email has an account", body = Status))
)]
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

#[derive(Deserialize, ToSchema)]
pub struct TokenBody {
    email: Option<String>,
    password: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct AccessToken {
    access_token: String,
    token_type: &'static str,
    expires_at: String,
}

/// `POST /api/v1/auth/token`
#[utoipa::path(
    post,
    path = "/api/v1/auth/token",
    tag = "merchant",
    request_body = TokenBody,
    responses(
        (status = 200, description = "A bearer token", body = AccessToken),
        (status = 401, description = "`invalid_credentials` (also for an unknown email)", body = crate::error::ErrorBody),
        (status = 403, description = "`email_unverified`", body = crate::error::ErrorBody),
    )
)]
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

#[derive(Serialize, ToSchema)]
struct Me {
    merchant_id: String,
    email: String,
    business_name: String,
    kyc_status: &'static str,
    key_id: Option<String>,
}

/// `GET /api/v1/me`
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "merchant",
    security(("merchant_bearer" = [])),
    responses((status = 200, description = "The merchant; `key_id` is null until KYC is approved", body = Me))
)]
pub async fn me(AuthMerchant(m): AuthMerchant) -> HttpResponse {
    HttpResponse::Ok().json(Me {
        merchant_id: m.id,
        email: m.email,
        business_name: m.business_name,
        kyc_status: m.kyc_status.as_str(),
        key_id: m.key_id,
    })
}
