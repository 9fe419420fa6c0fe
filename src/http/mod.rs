//! The actix layer: one route table, extractors, one file per resource.

pub mod admin_api;
pub mod assets;
pub mod auth;
pub mod charts;
pub mod extract;
pub mod health;
pub mod ingest;
pub mod keys;
pub mod kyc;
pub mod limits;
pub mod orders;
pub mod secret;
pub mod session;
pub mod ui;
pub mod ui_admin;
pub mod ui_merchant;

use crate::error::ApiError;
use actix_web::{HttpRequest, HttpResponse, error::JsonPayloadError, middleware, web};

/// Routes of the whole application; `https` adds HSTS.
pub fn configure(cfg: &mut web::ServiceConfig, https: bool) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(64 * 1024)
            .error_handler(json_error),
    )
    .app_data(web::QueryConfig::default().error_handler(|e, _| {
        ApiError::bad_request("invalid_query", format!("Invalid query string: {e}")).into()
    }))
    .app_data(
        web::FormConfig::default()
            .limit(64 * 1024)
            .error_handler(|e, _| {
                ui::UiError(ApiError::bad_request(
                    "invalid_form",
                    format!("The form could not be read: {e}."),
                ))
                .into()
            }),
    )
    .app_data(
        web::PathConfig::default()
            .error_handler(|_, _| ApiError::not_found("not_found", "No such resource.").into()),
    )
    .service(
        web::scope("")
            .wrap(security_headers(https))
            .route("/healthz", web::get().to(health::healthz))
            .route("/readyz", web::get().to(health::readyz))
            .route("/metrics", web::get().to(health::prometheus))
            .route("/static/{path:.*}", web::get().to(assets::serve))
            .service(ui_admin::scope())
            .configure(ui_merchant::configure)
            .service(
                web::scope("/api/v1")
                    .route("/auth/register", web::post().to(auth::register))
                    .route("/auth/verify-email", web::post().to(auth::verify_email))
                    .route("/auth/resend-code", web::post().to(auth::resend_code))
                    .route("/auth/token", web::post().to(auth::token))
                    .route("/me", web::get().to(auth::me))
                    .route("/kyc", web::post().to(kyc::submit))
                    .route("/kyc", web::get().to(kyc::status))
                    .route("/webhook/secret", web::get().to(secret::reveal))
                    .route("/webhook/secret/", web::get().to(secret::reveal))
                    .route("/webhook/secret", web::post().to(secret::regenerate))
                    .route("/webhook/secret/", web::post().to(secret::regenerate))
                    .route("/webhooks/orders", web::post().to(ingest::receive))
                    .route("/webhooks/orders/", web::post().to(ingest::receive))
                    .route("/orders", web::get().to(orders::list))
                    .route("/orders/{order_id}", web::get().to(orders::get))
                    .route("/health", web::get().to(health::health))
                    .route("/stats", web::get().to(health::stats))
                    .service(admin_api::scope())
                    .default_service(web::to(not_found)),
            )
            .default_service(web::to(not_found)),
    );
}

/// Headers every response carries.
fn security_headers(https: bool) -> middleware::DefaultHeaders {
    let headers = if https {
        middleware::DefaultHeaders::new().add((
            "Strict-Transport-Security",
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        middleware::DefaultHeaders::new()
    };
    headers
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add((
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ))
}

/// Unknown routes: JSON under /api, the HTML error page elsewhere.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    if req.path().starts_with("/api/") || req.path() == "/metrics" {
        actix_web::ResponseError::error_response(&ApiError::not_found(
            "not_found",
            format!("No route for {} {}.", req.method(), req.path()),
        ))
    } else {
        ui::not_found_page(&req)
    }
}

/// JSON extractor failures in the contract's shape.
fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    use actix_web::http::StatusCode;
    let api = match &err {
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as application/json.",
        ),
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The body is too large.",
            )
        }
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            ApiError::validation(vec![crate::error::Violation::new("body", e.to_string())])
        }
        _ => ApiError::bad_request("invalid_json", "The body is not valid JSON."),
    };
    api.into()
}

/// Parse an optional JSON body (empty means `T::default()`), with the same error shapes.
pub fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            ApiError::validation(vec![crate::error::Violation::new("body", e.to_string())])
        } else {
            ApiError::bad_request("invalid_json", "The body is not valid JSON.")
        }
    })
}
