//! The JSON API under `/api/v1`, one file per resource.

pub mod admin_kyc;
pub mod admin_log;
pub mod auth;
pub mod destinations;
pub mod health;
pub mod ingest;
pub mod kyc;
pub mod openapi;
pub mod orders;
pub mod recovery;
pub mod secret;
pub mod source_ingest;
pub mod sources;

use actix_web::web;

/// Routes under `/api/v1`.
pub fn scope() -> actix_web::Scope {
    web::scope("/api/v1")
        .route("/openapi.json", web::get().to(openapi::spec))
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
        .service(
            web::scope("/admin")
                .route("/kyc", web::get().to(admin_kyc::list))
                .route("/kyc/{kyc_id}", web::get().to(admin_kyc::get))
                .route("/kyc/{kyc_id}/document", web::get().to(admin_kyc::document))
                .route("/kyc/{kyc_id}/approve", web::post().to(admin_kyc::approve))
                .route("/kyc/{kyc_id}/reject", web::post().to(admin_kyc::reject))
                .route(
                    "/kyc/{kyc_id}/request-changes",
                    web::post().to(admin_kyc::request_changes),
                )
                .route(
                    "/merchants/{merchant_id}/revoke",
                    web::post().to(admin_kyc::revoke),
                )
                .route("/sources", web::post().to(sources::create))
                .route("/sources", web::get().to(sources::list))
                .route("/sources/{source_id}", web::get().to(sources::get))
                .route("/sources/{source_id}", web::patch().to(sources::update))
                .route(
                    "/sources/{source_id}/secret",
                    web::post().to(sources::rotate),
                )
                .route("/destinations", web::post().to(destinations::create))
                .route("/destinations", web::get().to(destinations::list))
                .route(
                    "/destinations/{destination_id}",
                    web::get().to(destinations::get),
                )
                .route(
                    "/destinations/{destination_id}",
                    web::patch().to(destinations::update),
                )
                .route(
                    "/destinations/{destination_id}/secret",
                    web::post().to(destinations::rotate),
                )
                .route(
                    "/destinations/{destination_id}/test",
                    web::post().to(destinations::test),
                )
                .route("/deliveries", web::get().to(destinations::deliveries))
                .route(
                    "/deliveries/{delivery_id}",
                    web::get().to(destinations::delivery),
                )
                .route(
                    "/deliveries/{delivery_id}/retry",
                    web::post().to(recovery::retry),
                )
                .route(
                    "/destinations/{destination_id}/replay",
                    web::post().to(recovery::replay),
                )
                .route(
                    "/events/{event_id}/redeliver",
                    web::post().to(recovery::redeliver),
                )
                .route("/outbox", web::get().to(admin_log::outbox))
                .route("/audit", web::get().to(admin_log::audit))
                .route("/events", web::get().to(admin_log::events))
                .route("/events/{event_id}", web::get().to(admin_log::event))
                .default_service(web::to(super::not_found)),
        )
        .default_service(web::to(super::not_found))
}
