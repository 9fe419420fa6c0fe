//! Merchant pages: signup.

use super::*;
use crate::{
    app,
    error::ApiError,
    http::{
        session::{pre_login_csrf, verify_csrf},
        ui::{FieldErrors, UiResult, form_error, html, query_escape, redirect},
    },
    state::AppState,
};
use actix_web::{HttpRequest, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "merchant/signup.html")]
struct SignupPage {
    csrf: String,
    email: String,
    business_name: String,
    errors: FieldErrors,
    error: Option<String>,
}

pub(super) async fn signup_form(state: web::Data<AppState>, req: HttpRequest) -> UiResult {
    let (csrf, cookie) = pre_login_csrf(&state, &req);
    let page = SignupPage {
        csrf,
        email: String::new(),
        business_name: String::new(),
        errors: FieldErrors::default(),
        error: None,
    };
    Ok(with_cookie(html(StatusCode::OK, &page), cookie))
}

#[derive(Deserialize)]
pub(super) struct SignupForm {
    #[serde(default)]
    csrf: String,
    email: String,
    password: String,
    business_name: String,
}

pub(super) async fn signup(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SignupForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let result = match app::accounts::Registration::parse(
        Some(&form.email),
        Some(&form.password),
        Some(&form.business_name),
    ) {
        Ok(reg) => app::accounts::register(&state, reg).await.map(|_| ()),
        Err(v) => Err(app::Error::Invalid(v)),
    };
    match result {
        Ok(()) => redirect(&format!(
            "/verify?email={}",
            query_escape(form.email.trim())
        )),
        Err(e) if e.is_users_fault() => {
            let taken = matches!(e, app::Error::EmailTaken);
            let e = ApiError::from(e);
            let status = e.status;
            let (mut errors, error) = form_error(e);
            if taken {
                errors = FieldErrors(vec![crate::error::Violation::new(
                    "email",
                    "already has an account; log in instead",
                )]);
            }
            let (csrf, _) = pre_login_csrf(&state, &req);
            let page = SignupPage {
                csrf,
                email: form.email.clone(),
                business_name: form.business_name.clone(),
                errors,
                error: error.filter(|_| !taken),
            };
            Ok(html(status, &page))
        }
        Err(e) => Err(e.into()),
    }
}
