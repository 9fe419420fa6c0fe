//! Merchant pages: the merchant's own settings (order emails to their customers).

use crate::{
    app,
    error::ApiError,
    http::{
        session::{MerchantSession, verify_csrf},
        ui::{UiResult, redirect},
    },
    state::AppState,
};
use actix_web::{HttpRequest, web};
use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct OrderEmailsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    order_emails: String,
}

/// `POST /settings/order-emails`: `order_emails=on|off`.
pub(super) async fn set_order_emails(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: MerchantSession,
    form: web::Form<OrderEmailsForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let on = match form.order_emails.as_str() {
        "on" => true,
        "off" => false,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_form",
                "Order emails can only be turned on or off.",
            )
            .into());
        }
    };
    app::settings::set_order_emails(&state, &s.merchant.id, on).await?;
    redirect(if on {
        "/?notice=order_emails_on#order-emails"
    } else {
        "/?notice=order_emails_off#order-emails"
    })
}
