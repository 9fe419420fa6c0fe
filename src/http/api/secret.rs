//! The merchant's webhook signing secret: reveal and regenerate.

use crate::{
    app, clock, error::ApiError, http::extract::AuthMerchant, state::AppState,
    store::secrets::Issued,
};
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
struct Previous {
    secret_key: String,
    valid_until: String,
}

#[derive(Serialize, ToSchema)]
struct Revealed {
    key_id: String,
    secret_key: String,
    is_active: bool,
    expires_at: String,
    previous: Option<Previous>,
}

/// `GET /api/v1/webhook/secret/` (also without the slash)
#[utoipa::path(
    get,
    path = "/api/v1/webhook/secret/",
    tag = "merchant",
    security(("merchant_bearer" = [])),
    responses(
        (status = 200, description = "The current secret (`Cache-Control: no-store`)", body = Revealed),
        (status = 403, description = "`kyc_required`", body = crate::error::ErrorBody),
    )
)]
pub async fn reveal(
    state: web::Data<AppState>,
    AuthMerchant(m): AuthMerchant,
) -> Result<HttpResponse, ApiError> {
    let r = app::secrets::reveal(&state, &m).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(Revealed {
            key_id: r.key_id,
            secret_key: r.secret_key,
            is_active: r.is_active,
            expires_at: clock::rfc3339(r.expires_at),
            previous: r.previous.map(|(secret_key, until)| Previous {
                secret_key,
                valid_until: clock::rfc3339(until),
            }),
        }))
}

const STORE_SAFELY: &str = "Store this secret safely. Do not share it.";

#[derive(Serialize, ToSchema)]
struct Regenerated {
    status: &'static str,
    key_id: String,
    secret_key: String,
    expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_valid_until: Option<String>,
    message: &'static str,
}

#[utoipa::path(
    post,
    path = "/api/v1/webhook/secret/",
    tag = "merchant",
    security(("merchant_bearer" = [])),
    responses(
        (status = 201, description = "The first secret (`status: created`)", body = Regenerated),
        (status = 200, description = "A new secret replaced the old one (`status: regenerated`)", body = Regenerated),
        (status = 403, description = "`kyc_required`", body = crate::error::ErrorBody),
    )
)]
/// `POST /api/v1/webhook/secret/` (also without the slash): 201 for the first secret, 200 when it replaced one.
pub async fn regenerate(
    state: web::Data<AppState>,
    AuthMerchant(m): AuthMerchant,
) -> Result<HttpResponse, ApiError> {
    let (secret, issued) = app::secrets::regenerate(&state, &m).await?;
    let key_id = m.key_id.clone().unwrap_or_default();
    let secret_key = secret.expose();
    let (mut res, body) = match issued {
        Issued::Created { expires_at } => (
            HttpResponse::Created(),
            Regenerated {
                status: "created",
                key_id,
                secret_key,
                expires_at: clock::rfc3339(expires_at),
                previous_valid_until: None,
                message: STORE_SAFELY,
            },
        ),
        Issued::Regenerated {
            expires_at,
            previous_valid_until,
        } => (
            HttpResponse::Ok(),
            Regenerated {
                status: "regenerated",
                key_id,
                secret_key,
                expires_at: clock::rfc3339(expires_at),
                previous_valid_until: Some(clock::rfc3339(previous_valid_until)),
                message: STORE_SAFELY,
            },
        ),
    };
    Ok(res.insert_header(("Cache-Control", "no-store")).json(body))
}
