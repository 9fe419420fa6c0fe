//! Admin console: login.

use super::CsrfForm;
use crate::{
    app,
    error::ApiError,
    http::{
        extract::client_ip,
        session::{self, AdminSession, pre_login_csrf, verify_csrf},
        ui::{FieldErrors, UiResult, html, redirect},
    },
    state::AppState,
    store::sessions::SessionKind,
};
use actix_web::{HttpRequest, HttpResponse, http::StatusCode, http::header, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    csrf: String,
    email: String,
    error: Option<String>,
}

fn login_page(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    email: String,
    error: Option<String>,
) -> HttpResponse {
    let (csrf, cookie) = pre_login_csrf(state, req);
    let mut res = html(status, &LoginPage { csrf, email, error });
    if let Some(c) = cookie {
        let _ = res.add_cookie(&c);
    }
    res
}

pub(super) async fn login_form(state: web::Data<AppState>, req: HttpRequest) -> UiResult {
    if session::current(&state, &req, SessionKind::Admin)
        .await?
        .is_some()
    {
        return redirect("/admin/");
    }
    Ok(login_page(
        &state,
        &req,
        StatusCode::OK,
        String::new(),
        None,
    ))
}

pub(super) async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<crate::http::ui::LoginForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    match app::admins::authenticate(&state, client_ip(&req), &form.email, &form.password).await {
        Ok(admin) => {
            let res = HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/admin/"))
                .finish();
            Ok(session::start(&state, &req, SessionKind::Admin, &admin.id, res).await?)
        }
        Err(e @ (app::Error::InvalidCredentials | app::Error::RateLimited(_))) => {
            let e = ApiError::from(e);
            Ok(login_page(
                &state,
                &req,
                e.status,
                form.email.clone(),
                Some(e.message),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    form: web::Form<CsrfForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let _ = s;
    let res = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin/login"))
        .finish();
    Ok(session::end(&state, &req, SessionKind::Admin, res).await?)
}

#[derive(Template)]
#[template(path = "admin/setup.html")]
struct SetupPage {
    csrf: String,
    token: String,
    email: String,
    error: Option<String>,
    errors: FieldErrors,
}

#[derive(Deserialize)]
pub(super) struct SetupQuery {
    token: Option<String>,
}

pub(super) async fn setup_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<SetupQuery>,
) -> UiResult {
    let token = q.token.clone().unwrap_or_default();
    if !app::admins::setup_token_valid(&state, &token).await? {
        return Err(app::Error::SetupLinkInvalid.into());
    }
    let (csrf, cookie) = pre_login_csrf(&state, &req);
    let mut res = html(
        StatusCode::OK,
        &SetupPage {
            csrf,
            token,
            email: String::new(),
            error: None,
            errors: FieldErrors::default(),
        },
    );
    if let Some(c) = cookie {
        let _ = res.add_cookie(&c);
    }
    Ok(res)
}

#[derive(Deserialize)]
pub(super) struct SetupForm {
    #[serde(default)]
    csrf: String,
    token: String,
    email: String,
    password: String,
}

pub(super) async fn setup(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SetupForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let created = app::admins::create(
        &state,
        &form.email,
        &form.password,
        app::admins::Creation::SetupLink { token: &form.token },
    )
    .await;
    match created {
        Ok(id) => {
            let res = HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/admin/"))
                .finish();
            Ok(session::start(&state, &req, SessionKind::Admin, &id, res).await?)
        }
        Err(app::Error::Invalid(violations)) => {
            let (csrf, _) = pre_login_csrf(&state, &req);
            let page = SetupPage {
                csrf,
                token: form.token.clone(),
                email: form.email.clone(),
                error: None,
                errors: FieldErrors(violations),
            };
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => Err(e.into()),
    }
}
