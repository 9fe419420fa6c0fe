//! Request extractors: authenticated merchant, authenticated admin, client IP.

use crate::{clock, crypto::token_hash, error::ApiError, startup::AppState, store};
use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use std::{future::Future, net::IpAddr, pin::Pin};

/// The merchant behind a valid bearer token.
pub struct AuthMerchant(pub store::accounts::Merchant);

/// The admin behind a valid admin token.
pub struct AuthAdmin(pub store::admins::Admin);

impl AuthAdmin {
    /// The audit actor string for this admin.
    pub fn actor(&self) -> String {
        format!("admin:{}", self.0.email)
    }
}

/// The bearer token of a request, if any.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// The client's IP address (the TCP peer).
pub fn client_ip(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// The application state of a request (for extractors, which get no `web::Data`).
pub fn app_state(req: &HttpRequest) -> Result<AppState, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .map(|d| d.get_ref().clone())
        .ok_or_else(ApiError::internal)
}

impl FromRequest for AuthMerchant {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let state = app_state(req);
        Box::pin(async move {
            let state = state?;
            let hash = token_hash(&token.ok_or_else(ApiError::unauthorized)?);
            let merchant = state
                .store
                .read(move |c| store::accounts::merchant_for_token(c, &hash, clock::now()))
                .await?;
            merchant
                .map(AuthMerchant)
                .ok_or_else(ApiError::unauthorized)
        })
    }
}

impl FromRequest for AuthAdmin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let state = app_state(req);
        Box::pin(async move {
            let state = state?;
            let unauthorized = || {
                ApiError::new(
                    actix_web::http::StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "A valid admin token is required (see `hookgate admin token`).",
                )
            };
            let hash = token_hash(&token.ok_or_else(unauthorized)?);
            let admin = state
                .store
                .read(move |c| store::admins::admin_for_token(c, &hash))
                .await?;
            admin.map(AuthAdmin).ok_or_else(unauthorized)
        })
    }
}
