//! The admin console (`/admin/`): server-rendered pages, one askama struct per page.

use crate::{
    http::{session::AdminSession, ui::redirect},
    state::AppState,
};
use actix_web::web;
use serde::Deserialize;

mod accounts;
mod dashboard;
mod destinations;
mod kyc;
mod login;
mod merchants;
mod records;
mod sources;

/// Routes under `/admin`.
pub fn scope() -> actix_web::Scope {
    web::scope("/admin")
        .route("", web::get().to(|| async { redirect("/admin/") }))
        .route("/", web::get().to(dashboard::dashboard))
        .route("/login", web::get().to(login::login_form))
        .route("/login", web::post().to(login::login))
        .route("/logout", web::post().to(login::logout))
        .route("/setup", web::get().to(login::setup_form))
        .route("/setup", web::post().to(login::setup))
        .route("/kyc", web::get().to(kyc::kyc_list))
        .route("/kyc/{kyc_id}", web::get().to(kyc::kyc_review))
        .route("/kyc/{kyc_id}/document", web::get().to(kyc::kyc_document))
        .route("/kyc/{kyc_id}/decide", web::post().to(kyc::kyc_decide))
        .route("/merchants", web::get().to(merchants::merchants))
        .route(
            "/merchants/{merchant_id}",
            web::get().to(merchants::merchant),
        )
        .route(
            "/merchants/{merchant_id}/revoke",
            web::post().to(merchants::revoke),
        )
        .route(
            "/merchants/{merchant_id}/reinstate",
            web::post().to(merchants::reinstate),
        )
        .route("/sources", web::get().to(sources::sources))
        .route("/sources", web::post().to(sources::create))
        .route("/sources/new", web::get().to(sources::new_source))
        .route("/sources/{source_id}", web::get().to(sources::source))
        .route(
            "/sources/{source_id}/settings",
            web::post().to(sources::settings),
        )
        .route(
            "/sources/{source_id}/secret",
            web::post().to(sources::rotate),
        )
        .route(
            "/sources/{source_id}/{action}",
            web::post().to(sources::set_enabled),
        )
        .route("/destinations", web::get().to(destinations::destinations))
        .route("/destinations", web::post().to(destinations::create))
        .route(
            "/destinations/{destination_id}",
            web::get().to(destinations::destination),
        )
        .route(
            "/destinations/{destination_id}/edit",
            web::get().to(destinations::edit),
        )
        .route(
            "/destinations/{destination_id}/edit",
            web::post().to(destinations::save),
        )
        .route(
            "/destinations/{destination_id}/replay",
            web::post().to(destinations::replay),
        )
        .route(
            "/destinations/{destination_id}/secret",
            web::post().to(destinations::rotate),
        )
        .route(
            "/destinations/{destination_id}/test",
            web::post().to(destinations::send_test),
        )
        .route(
            "/destinations/{destination_id}/{action}",
            web::post().to(destinations::set_enabled),
        )
        .route("/deliveries", web::get().to(destinations::deliveries))
        .route(
            "/deliveries/{delivery_id}",
            web::get().to(destinations::delivery),
        )
        .route(
            "/deliveries/{delivery_id}/retry",
            web::post().to(destinations::retry),
        )
        .route(
            "/events/{event_id}/redeliver",
            web::post().to(destinations::redeliver),
        )
        .route("/events", web::get().to(records::events))
        .route("/events.csv", web::get().to(records::events_csv))
        .route("/events/{event_id}", web::get().to(records::event))
        .route("/admins", web::get().to(accounts::admins))
        .route("/tokens", web::get().to(accounts::tokens))
        .route("/tokens", web::post().to(accounts::create_token))
        .route(
            "/tokens/{token_id}/revoke",
            web::post().to(accounts::revoke_token),
        )
        .route("/password", web::get().to(accounts::password_form))
        .route("/password", web::post().to(accounts::change_password))
        .route("/audit", web::get().to(records::audit))
        .route("/audit.csv", web::get().to(records::audit_csv))
        .route("/outbox", web::get().to(records::outbox))
        .default_service(web::to(crate::http::not_found))
}

/// What every signed-in admin page shows in its header.
pub struct Chrome {
    pub csrf: String,
    pub email: String,
    pub current: &'static str,
}

fn chrome(state: &AppState, s: &AdminSession, current: &'static str) -> Chrome {
    Chrome {
        csrf: s.browser.csrf(state),
        email: s.admin.email.clone(),
        current,
    }
}

/// A POST form that only carries its CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}
