//! Merchant pages: verify.

use super::*;
use crate::{
    app,
    error::ApiError,
    http::{
        extract::client_ip,
        session::{pre_login_csrf, verify_csrf},
        ui::{UiResult, html, query_escape, redirect},
    },
    state::AppState,
};
use actix_web::{HttpRequest, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "merchant/verify.html")]
struct VerifyPage {
    csrf: String,
    email: String,
    code: String,
    error: Option<String>,
    notice: Option<String>,
}

pub(super) async fn verify_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<EmailQuery>,
) -> UiResult {
    let (csrf, cookie) = pre_login_csrf(&state, &req);
    let notice = q
        .sent
        .as_ref()
        .map(|_| "A new code is on its way.".to_string());
    let page = VerifyPage {
        csrf,
        email: q.email.clone().unwrap_or_default(),
        code: String::new(),
        error: None,
        notice,
    };
    Ok(with_cookie(html(StatusCode::OK, &page), cookie))
}

#[derive(Deserialize)]
pub(super) struct VerifyForm {
    #[serde(default)]
    csrf: String,
    email: String,
    code: String,
}

pub(super) async fn verify(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<VerifyForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    match app::accounts::verify_email(&state, client_ip(&req), &form.email, &form.code).await {
        Ok(()) => redirect(&format!(
            "/login?email={}&notice=verified",
            query_escape(form.email.trim())
        )),
        Err(e) if e.is_users_fault() => {
            let e = ApiError::from(e);
            let (csrf, _) = pre_login_csrf(&state, &req);
            let message = e
                .violations
                .first()
                .map(|v| format!("The {} {}.", v.field, v.message))
                .unwrap_or(e.message.clone());
            let page = VerifyPage {
                csrf,
                email: form.email.clone(),
                code: form.code.clone(),
                error: Some(message),
                notice: None,
            };
            Ok(html(e.status, &page))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub(super) struct ResendForm {
    #[serde(default)]
    csrf: String,
    email: String,
}

pub(super) async fn resend(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<ResendForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    app::accounts::resend_code(&state, client_ip(&req), &form.email).await?;
    redirect(&format!(
        "/verify?email={}&sent=1",
        query_escape(form.email.trim())
    ))
}
