//! Merchant pages: "Forgot password?" — request a code by email, then set a new password with it.
//! Neither page's answer says whether an account has the email.

use super::*;
use crate::{
    app,
    error::{ApiError, Violation},
    http::{
        extract::client_ip,
        session::{pre_login_csrf, verify_csrf},
        ui::{FieldErrors, UiResult, form_error, html, query_escape, redirect},
    },
    state::AppState,
};
use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "merchant/forgot.html")]
struct ForgotPage {
    csrf: String,
    email: String,
    errors: FieldErrors,
    error: Option<String>,
}

pub(super) async fn forgot_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<EmailQuery>,
) -> UiResult {
    let (csrf, cookie) = pre_login_csrf(&state, &req);
    let page = ForgotPage {
        csrf,
        email: q.email.clone().unwrap_or_default(),
        errors: FieldErrors::default(),
        error: None,
    };
    Ok(with_cookie(html(StatusCode::OK, &page), cookie))
}

#[derive(Deserialize)]
pub(super) struct ForgotForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

pub(super) async fn forgot(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<ForgotForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    match app::accounts::request_password_reset(&state, client_ip(&req), &form.email).await {
        Ok(()) => redirect(&format!(
            "/password/reset?email={}&sent=1",
            query_escape(form.email.trim())
        )),
        Err(e) if e.is_users_fault() => {
            let e = ApiError::from(e);
            let (status, retry_after) = (e.status, e.retry_after);
            let (errors, error) = form_error(e);
            let (csrf, _) = pre_login_csrf(&state, &req);
            let page = ForgotPage {
                csrf,
                email: form.email.clone(),
                errors,
                error: error.map(|m| in_words(m, retry_after)),
            };
            Ok(with_retry_after(html(status, &page), retry_after))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "merchant/reset.html")]
struct ResetPage {
    csrf: String,
    email: String,
    code: String,
    notice: Option<String>,
    errors: FieldErrors,
    error: Option<String>,
}

pub(super) async fn reset_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<EmailQuery>,
) -> UiResult {
    let (csrf, cookie) = pre_login_csrf(&state, &req);
    let notice = q.sent.as_ref().map(|_| {
        "If an account uses this email, a 6-digit code is on its way. It is valid for 15 minutes."
            .to_string()
    });
    let page = ResetPage {
        csrf,
        email: q.email.clone().unwrap_or_default(),
        code: String::new(),
        notice,
        errors: FieldErrors::default(),
        error: None,
    };
    Ok(with_cookie(html(StatusCode::OK, &page), cookie))
}

#[derive(Deserialize)]
pub(super) struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
}

pub(super) async fn reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<ResetForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let done = app::accounts::reset_password(
        &state,
        client_ip(&req),
        &form.email,
        &form.code,
        &form.password,
    )
    .await;
    match done {
        Ok(()) => redirect(&format!(
            "/login?email={}&notice=reset",
            query_escape(form.email.trim())
        )),
        Err(e) if e.is_users_fault() => {
            let bad_code = matches!(e, app::Error::ResetCodeInvalid);
            let e = ApiError::from(e);
            let (status, retry_after) = (e.status, e.retry_after);
            let (errors, error) = if bad_code {
                (FieldErrors(vec![Violation::new("code", e.message)]), None)
            } else {
                let (mut errors, error) = form_error(e);
                for v in errors.0.iter_mut().filter(|v| v.field == "code") {
                    v.message = format!("The code {}.", v.message);
                }
                (errors, error)
            };
            let (csrf, _) = pre_login_csrf(&state, &req);
            let page = ResetPage {
                csrf,
                email: form.email.clone(),
                code: if bad_code {
                    String::new()
                } else {
                    form.code.clone()
                },
                notice: None,
                errors,
                error: error.map(|m| in_words(m, retry_after)),
            };
            Ok(with_retry_after(html(status, &page), retry_after))
        }
        Err(e) => Err(e.into()),
    }
}

/// A throttled form says how long to wait in words, not by naming a header.
fn in_words(message: String, retry_after: Option<u64>) -> String {
    match retry_after {
        Some(secs) => format!("Too many attempts. Wait {secs} seconds, then try again."),
        None => message,
    }
}

fn with_retry_after(mut res: HttpResponse, retry_after: Option<u64>) -> HttpResponse {
    if let Some(secs) = retry_after {
        res.headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, secs.into());
    }
    res
}
