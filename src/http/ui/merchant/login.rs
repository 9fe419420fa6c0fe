//! Merchant pages: login.

use super::*;
use crate::{
    app,
    error::ApiError,
    http::{
        extract::client_ip,
        session::{self, pre_login_csrf, verify_csrf},
        ui::{UiResult, html, query_escape, redirect},
    },
    state::AppState,
    store::sessions::SessionKind,
};
use actix_web::{HttpRequest, HttpResponse, http::StatusCode, http::header, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "merchant/login.html")]
struct LoginPage {
    csrf: String,
    email: String,
    error: Option<String>,
    notice: Option<String>,
}

pub(super) async fn login_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<EmailQuery>,
) -> UiResult {
    let (csrf, cookie) = pre_login_csrf(&state, &req);
    let notice = match q.notice.as_deref() {
        Some("verified") => Some("Your email is verified. Log in to continue.".to_string()),
        Some("bye") => Some("You are logged out.".to_string()),
        Some("reset") => Some(
            "Your password is changed and every earlier session ended. Log in with the new one."
                .to_string(),
        ),
        _ => None,
    };
    let page = LoginPage {
        csrf,
        email: q.email.clone().unwrap_or_default(),
        error: None,
        notice,
    };
    Ok(with_cookie(html(StatusCode::OK, &page), cookie))
}

pub(super) async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<crate::http::ui::LoginForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    match app::accounts::authenticate(&state, client_ip(&req), &form.email, &form.password).await {
        Ok(m) => {
            let res = HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/"))
                .finish();
            Ok(session::start(&state, &req, SessionKind::Merchant, &m.id, res).await?)
        }
        Err(app::Error::EmailUnverified) => redirect(&format!(
            "/verify?email={}",
            query_escape(form.email.trim())
        )),
        Err(e) if e.is_users_fault() => {
            let e = ApiError::from(e);
            let (csrf, _) = pre_login_csrf(&state, &req);
            Ok(html(
                e.status,
                &LoginPage {
                    csrf,
                    email: form.email.clone(),
                    error: Some(e.message),
                    notice: None,
                },
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(super) async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<CsrfForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let res = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login?notice=bye"))
        .finish();
    Ok(session::end(&state, &req, SessionKind::Merchant, res).await?)
}
