//! Request extractors and readers: authenticated merchant and admin, client IP, headers, bodies.

use crate::{
    app,
    error::{ApiError, Violation},
    state::AppState,
    store,
};
use actix_web::{FromRequest, HttpRequest, dev::Payload, http::StatusCode, http::header, web};
use futures_util::StreamExt;
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

/// A header's value, trimmed; absent, non-text or empty values are `None`.
pub fn header_str<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
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
            let token = token.ok_or_else(ApiError::unauthorized)?;
            app::accounts::merchant_for_token(&state, &token)
                .await?
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
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "A valid admin token is required (see `hookgate admin token`).",
                )
            };
            let token = token.ok_or_else(unauthorized)?;
            app::admins::for_token(&state, &token)
                .await?
                .map(AuthAdmin)
                .ok_or_else(unauthorized)
        })
    }
}

/// Read a body, refusing it as soon as it exceeds `max` (and before reading when the declared
/// length already does).
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    max: usize,
) -> Result<web::Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("The body exceeds the {max}-byte limit."),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > max) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(1024).min(max));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|_| ApiError::bad_request("invalid_body", "The body could not be read."))?;
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parse an optional JSON body (empty means `T::default()`), with the contract's error shapes.
pub fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            ApiError::validation(vec![Violation::new("body", e.to_string())])
        } else {
            ApiError::bad_request("invalid_json", "The body is not valid JSON.")
        }
    })
}
