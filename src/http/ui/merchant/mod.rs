//! The merchant pages (`/`): sign-up, verification, login, KYC, secret and integration.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

mod dashboard;
mod events;
mod login;
mod orders;
mod password;
mod settings;
mod signup;
mod snippets;
mod verify;

/// Routes of the merchant pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(dashboard::dashboard))
        .route("/signup", web::get().to(signup::signup_form))
        .route("/signup", web::post().to(signup::signup))
        .route("/verify", web::get().to(verify::verify_form))
        .route("/verify", web::post().to(verify::verify))
        .route("/verify/resend", web::post().to(verify::resend))
        .route("/login", web::get().to(login::login_form))
        .route("/login", web::post().to(login::login))
        .route("/logout", web::post().to(login::logout))
        .route("/password/forgot", web::get().to(password::forgot_form))
        .route("/password/forgot", web::post().to(password::forgot))
        .route("/password/reset", web::get().to(password::reset_form))
        .route("/password/reset", web::post().to(password::reset))
        .route("/kyc", web::post().to(dashboard::submit_kyc))
        .route(
            "/settings/order-emails",
            web::post().to(settings::set_order_emails),
        )
        .route("/secret/reveal", web::post().to(dashboard::reveal))
        .route("/secret/rotate", web::post().to(dashboard::rotate))
        .route("/orders", web::get().to(orders::orders))
        .route("/orders.csv", web::get().to(orders::orders_csv))
        .route("/events", web::get().to(events::events))
        .route("/events.csv", web::get().to(events::events_csv))
        .route("/events/{event_id}", web::get().to(events::event));
}

/// The query of the verify and login pages: the email to prefill and what to tell the user.
#[derive(Deserialize)]
pub(super) struct EmailQuery {
    email: Option<String>,
    sent: Option<String>,
    notice: Option<String>,
}

fn with_cookie(
    mut res: HttpResponse,
    cookie: Option<actix_web::cookie::Cookie<'static>>,
) -> HttpResponse {
    if let Some(c) = cookie {
        let _ = res.add_cookie(&c);
    }
    res
}
