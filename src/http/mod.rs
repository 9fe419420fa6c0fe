//! The actix layer: one route table, extractors, one file per resource.

pub mod api;
pub mod assets;
pub mod deadline;
pub mod extract;
pub mod session;
pub mod ui;
pub mod upload;

use crate::error::ApiError;
use actix_web::{HttpRequest, HttpResponse, middleware, web};

/// Routes of the whole application; `https` adds HSTS.
pub fn configure(cfg: &mut web::ServiceConfig, https: bool) {
    cfg.app_data(web::QueryConfig::default().error_handler(|e, _| {
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
            .wrap(middleware::from_fn(deadline::body_deadline))
            .wrap(security_headers(https))
            .route("/healthz", web::get().to(api::health::healthz))
            .route("/readyz", web::get().to(api::health::readyz))
            .route("/metrics", web::get().to(api::health::metrics))
            .route("/in/{slug}", web::post().to(api::source_ingest::receive))
            .route("/in/{slug}", web::get().to(api::source_ingest::challenge))
            .route("/static/{path:.*}", web::get().to(assets::serve))
            .service(ui::admin::scope())
            .configure(ui::merchant::configure)
            .service(api::scope())
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
    if req.path().starts_with("/api/") || req.path().starts_with("/in/") || req.path() == "/metrics"
    {
        actix_web::ResponseError::error_response(&ApiError::not_found(
            "not_found",
            format!("No route for {} {}.", req.method(), req.path()),
        ))
    } else {
        ui::not_found_page(&req)
    }
}
