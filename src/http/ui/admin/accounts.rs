//! Admin console: the admins, their API tokens (list, create shown once, revoke) and changing
//! one's own password.

use super::{Chrome, CsrfForm, chrome};
use crate::{
    app,
    error::{ApiError, Violation},
    http::{
        session::{AdminSession, verify_csrf},
        ui::{FieldErrors, UiResult, form_error, html, page, redirect, when},
    },
    state::AppState,
};
use actix_web::{HttpRequest, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

struct AdminRow {
    email: String,
    created: String,
    live_tokens: i64,
    is_you: bool,
}

#[derive(Template)]
#[template(path = "admin/admins.html")]
struct AdminsPage {
    chrome: Chrome,
    items: Vec<AdminRow>,
}

pub(super) async fn admins(state: web::Data<AppState>, s: AdminSession) -> UiResult {
    let items = app::admins::list(&state)
        .await?
        .into_iter()
        .map(|a| AdminRow {
            is_you: a.id == s.admin.id,
            email: a.email,
            created: when(a.created_at),
            live_tokens: a.live_tokens,
        })
        .collect();
    page(&AdminsPage {
        chrome: chrome(&state, &s, "admins"),
        items,
    })
}

struct TokenView {
    id: String,
    name: String,
    admin: String,
    created: String,
    last_used: String,
    expires: String,
    expired: bool,
}

/// The lifetimes offered when creating a token in the console.
const LIFETIMES: [(&str, &str); 5] = [
    ("30d", "30 days"),
    ("90d", "90 days"),
    ("365d", "1 year"),
    ("7d", "7 days"),
    ("never", "Never"),
];

struct Lifetime {
    value: &'static str,
    label: &'static str,
}

#[derive(Template)]
#[template(path = "admin/tokens.html")]
struct TokensPage {
    chrome: Chrome,
    items: Vec<TokenView>,
    lifetimes: Vec<Lifetime>,
    name: String,
    expires: String,
    /// A token just created, shown this once.
    created: Option<String>,
    errors: FieldErrors,
    error: Option<String>,
    notice: Option<String>,
}

/// What a tokens page render varies by.
#[derive(Default)]
struct TokensExtras {
    name: String,
    expires: Option<String>,
    created: Option<String>,
    errors: FieldErrors,
    error: Option<String>,
    notice: Option<String>,
}

async fn tokens_page(
    state: &AppState,
    s: &AdminSession,
    extras: TokensExtras,
    status: StatusCode,
) -> UiResult {
    let now = state.now();
    let items = app::admins::tokens(state, None)
        .await?
        .into_iter()
        .map(|t| TokenView {
            expired: t.expires_at.is_some_and(|at| at <= now),
            id: t.id,
            name: t.name,
            admin: t.admin_email,
            created: when(t.created_at),
            last_used: t.last_used_at.map_or_else(|| "never".into(), when),
            expires: t.expires_at.map_or_else(|| "never".into(), when),
        })
        .collect();
    Ok(html(
        status,
        &TokensPage {
            chrome: chrome(state, s, "tokens"),
            items,
            lifetimes: LIFETIMES
                .iter()
                .map(|&(value, label)| Lifetime { value, label })
                .collect(),
            name: extras.name,
            expires: extras.expires.unwrap_or_else(|| "90d".into()),
            created: extras.created,
            errors: extras.errors,
            error: extras.error,
            notice: extras.notice,
        },
    ))
}

#[derive(Deserialize)]
pub(super) struct DoneQuery {
    done: Option<String>,
}

pub(super) async fn tokens(
    state: web::Data<AppState>,
    s: AdminSession,
    q: web::Query<DoneQuery>,
) -> UiResult {
    let notice = q
        .done
        .as_ref()
        .map(|_| "Token revoked: requests with it are refused from now on.".to_string());
    let extras = TokensExtras {
        notice,
        ..Default::default()
    };
    tokens_page(&state, &s, extras, StatusCode::OK).await
}

#[derive(Deserialize)]
pub(super) struct CreateTokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    expires: String,
}

pub(super) async fn create_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    form: web::Form<CreateTokenForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let expires_in = match form.expires.trim() {
        "" | "never" => Ok(None),
        raw => crate::config::parse_duration(raw)
            .map(Some)
            .map_err(|m| Violation::new("expires", m)),
    };
    let minted = match expires_in {
        Ok(expires_in) => {
            let request = app::admins::TokenRequest {
                name: Some(form.name.clone()),
                expires_in,
            };
            app::admins::mint_token(&state, &s.admin.email, request, &s.actor()).await
        }
        Err(v) => Err(v.into()),
    };
    match minted {
        Ok(minted) => {
            let extras = TokensExtras {
                created: Some(minted.token),
                ..Default::default()
            };
            tokens_page(&state, &s, extras, StatusCode::OK).await
        }
        Err(e @ app::Error::Invalid(_)) => {
            let e = ApiError::from(e);
            let (errors, error) = form_error(e.clone());
            let extras = TokensExtras {
                name: form.name.clone(),
                expires: Some(form.expires.clone()),
                errors,
                error,
                ..Default::default()
            };
            tokens_page(&state, &s, extras, e.status).await
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn revoke_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    app::admins::revoke_token(&state, &s.actor(), &path.into_inner()).await?;
    redirect("/admin/tokens?done=revoked")
}

#[derive(Template)]
#[template(path = "admin/password.html")]
struct PasswordPage {
    chrome: Chrome,
    errors: FieldErrors,
    error: Option<String>,
    notice: Option<String>,
}

pub(super) async fn password_form(
    state: web::Data<AppState>,
    s: AdminSession,
    q: web::Query<DoneQuery>,
) -> UiResult {
    let notice = q.done.as_ref().map(|_| {
        "Password changed. Every other session of your account was logged out.".to_string()
    });
    page(&PasswordPage {
        chrome: chrome(&state, &s, "password"),
        errors: FieldErrors::default(),
        error: None,
        notice,
    })
}

#[derive(Deserialize)]
pub(super) struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

pub(super) async fn change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    form: web::Form<PasswordForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let changed = app::admins::change_password(
        &state,
        &s.admin,
        s.browser.id(),
        &form.current_password,
        &form.new_password,
    )
    .await;
    match changed {
        Ok(()) => redirect("/admin/password?done=1"),
        Err(e) if e.is_users_fault() => {
            let e = ApiError::from(e);
            let status = e.status;
            let (errors, error) = form_error(e);
            let page = PasswordPage {
                chrome: chrome(&state, &s, "password"),
                errors,
                error,
                notice: None,
            };
            Ok(html(status, &page))
        }
        Err(e) => Err(e.into()),
    }
}
