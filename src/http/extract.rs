//! Request extractors and readers: authenticated merchant and admin, client IP, headers, bodies.

use crate::{
    app,
    domain::net,
    error::{ApiError, Violation},
    state::AppState,
    store,
};
use actix_web::{FromRequest, HttpRequest, dev::Payload, http::StatusCode, http::header, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use std::{future::Future, net::IpAddr, pin::Pin};

/// The merchant behind a valid bearer token.
pub struct AuthMerchant(pub store::accounts::Merchant);

/// The admin behind a valid admin token.
pub struct AuthAdmin(pub store::admins::Admin);

impl AuthAdmin {
    /// The audit actor string for this admin.
    pub fn actor(&self) -> String {
        app::admins::actor(&self.0)
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

/// The client's IP address: the TCP peer, unless the peer is a `--trusted-proxy`; then the
/// address the proxies forwarded in `X-Forwarded-For` (or `Forwarded`), read from the right as
/// `domain::net::client_ip` describes. IPv4-mapped IPv6 addresses come back as IPv4.
pub fn client_ip(req: &HttpRequest) -> IpAddr {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let trusted = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.config.trusted_proxies.as_slice())
        .unwrap_or_default();
    if trusted.is_empty() {
        return peer.to_canonical();
    }
    let lines = |name| {
        req.headers()
            .get_all(name)
            .map(header::HeaderValue::as_bytes)
            .collect::<Vec<_>>()
    };
    net::client_ip(
        peer,
        trusted,
        &lines(header::X_FORWARDED_FOR),
        &lines(header::FORWARDED),
    )
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

/// Largest JSON body of the API's own requests (not webhooks).
const MAX_JSON_BODY: usize = 64 * 1024;

/// A JSON request body: `application/json`, at most 64 KiB, every error in the contract's shape
/// and a wrong field named in the user's words ("email must be a string"), never the parser's.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = web::Payload::from_request(&req, payload);
        Box::pin(async move {
            let payload = payload.await.map_err(|_| ApiError::internal())?;
            if !has_json_content_type(&req) {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "Send the body as application/json.",
                ));
            }
            let body = read_body(&req, payload, MAX_JSON_BODY).await?;
            parse_json(&body).map(JsonBody)
        })
    }
}

/// Whether the request's content type is JSON (`application/json` or `application/*+json`).
pub fn has_json_content_type(req: &HttpRequest) -> bool {
    header_str(req, "content-type").is_some_and(|ct| {
        let mime = ct.split(';').next().unwrap_or_default().trim();
        mime.eq_ignore_ascii_case("application/json")
            || (mime.starts_with("application/") && mime.ends_with("+json"))
    })
}

/// Parse an optional JSON body (empty means `T::default()`), with the contract's error shapes.
pub fn optional_json<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_json(body)
}

/// Parse a JSON object body: malformed JSON is 400 `invalid_json`; valid JSON of the wrong shape
/// is 422 with the field at fault and what it must be.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let invalid = || ApiError::bad_request("invalid_json", "The body is not valid JSON.");
    if body.trim_ascii_start().first() != Some(&b'{') {
        // serde would read an array as a struct's fields in order; say what is wrong instead.
        serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(|_| invalid())?;
        return Err(ApiError::validation(vec![Violation::new(
            "body",
            "must be a JSON object",
        )]));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = match serde_path_to_error::deserialize(&mut de) {
        Ok(value) => value,
        Err(e) if e.inner().is_data() => {
            let path = e.path().to_string();
            let field = if path == "." {
                "body".to_string()
            } else {
                path
            };
            let message = shape_message(&e.inner().to_string());
            return Err(ApiError::validation(vec![Violation::new(field, message)]));
        }
        Err(_) => return Err(invalid()),
    };
    de.end().map_err(|_| invalid())?;
    Ok(value)
}

/// What a value of the wrong shape must be, from serde's "invalid type: X, expected Y" text.
fn shape_message(serde_text: &str) -> String {
    if serde_text.starts_with("missing field") {
        return "is required".into();
    }
    let expected = serde_text
        .split_once("expected ")
        .map(|(_, rest)| rest.split(" at line").next().unwrap_or(rest).trim())
        .unwrap_or_default();
    match expected {
        "" => "has a value of the wrong kind".into(),
        e if e.starts_with("struct ") || e == "a map" => "must be a JSON object".into(),
        e => format!("must be {e}"),
    }
}
