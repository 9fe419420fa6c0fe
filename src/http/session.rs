//! Browser sessions: cookies, extractors for signed-in admins and merchants, CSRF tokens.
//!
//! The session cookie holds 32 random bytes; the database holds only their SHA-256. A new id is
//! issued at every login. CSRF tokens are an HMAC (under the master key) of the session cookie, or
//! of a pre-login cookie for the login and sign-up forms, and every POST form carries one.

use crate::{
    app,
    crypto::constant_time_eq,
    error::ApiError,
    state::AppState,
    store::{
        self,
        sessions::{Session, SessionKind},
    },
};
use actix_web::{
    FromRequest, HttpRequest, HttpResponse,
    cookie::{Cookie, SameSite, time::Duration as CookieDuration},
    dev::Payload,
    http::header,
};
use std::{future::Future, pin::Pin};

/// Cookie names, one per kind so an admin and a merchant session can coexist in one browser;
/// `__Host-` prefixed (and Secure) when the public URL is https.
pub fn session_cookie_name(state: &AppState, kind: SessionKind) -> &'static str {
    match (kind, state.config.is_https()) {
        (SessionKind::Admin, true) => "__Host-hookgate_admin",
        (SessionKind::Admin, false) => "hookgate_admin",
        (SessionKind::Merchant, true) => "__Host-hookgate_merchant",
        (SessionKind::Merchant, false) => "hookgate_merchant",
    }
}

fn pre_cookie_name(state: &AppState) -> &'static str {
    if state.config.is_https() {
        "__Host-hookgate_pre"
    } else {
        "hookgate_pre"
    }
}

fn cookie<'c>(state: &AppState, name: &'c str, value: String) -> Cookie<'c> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.is_https())
        .finish()
}

/// A signed-in browser: the session and the raw cookie value.
#[derive(Clone)]
pub struct BrowserSession {
    pub session: Session,
    cookie_value: String,
}

impl BrowserSession {
    /// The CSRF token for forms of this session.
    pub fn csrf(&self, state: &AppState) -> String {
        csrf_for(state, &self.cookie_value)
    }

    /// The session id (the cookie's value), to tell this session from the account's others.
    pub fn id(&self) -> &str {
        &self.cookie_value
    }

    /// Whether the password was entered recently enough for sensitive actions.
    pub fn recently_authenticated(&self, state: &AppState) -> bool {
        app::sessions::recently_authenticated(state, &self.session)
    }

    /// Record that the password was just entered again.
    pub async fn reauthenticated(&mut self, state: &AppState) -> Result<(), ApiError> {
        app::sessions::reauthenticated(state, &self.cookie_value).await?;
        self.session.authenticated_at = state.now();
        Ok(())
    }
}

fn csrf_for(state: &AppState, binding: &str) -> String {
    hex::encode(state.crypto.mac("csrf", binding))
}

/// Load the request's session of `kind` if it is live (expired ones are deleted).
pub async fn current(
    state: &AppState,
    req: &HttpRequest,
    kind: SessionKind,
) -> Result<Option<BrowserSession>, ApiError> {
    let Some(value) = req
        .cookie(session_cookie_name(state, kind))
        .map(|c| c.value().to_string())
    else {
        return Ok(None);
    };
    Ok(app::sessions::live(state, &value, kind)
        .await?
        .map(|session| BrowserSession {
            session,
            cookie_value: value,
        }))
}

/// Start a session for `subject_id` (after a successful login) and set its cookie on `res`.
pub async fn start(
    state: &AppState,
    req: &HttpRequest,
    kind: SessionKind,
    subject_id: &str,
    mut res: HttpResponse,
) -> Result<HttpResponse, ApiError> {
    let previous = req
        .cookie(session_cookie_name(state, kind))
        .map(|c| c.value().to_string());
    let value = app::sessions::start(state, previous.as_deref(), kind, subject_id).await?;
    res.add_cookie(&cookie(state, session_cookie_name(state, kind), value))
        .map_err(|_| ApiError::internal())?;
    Ok(res)
}

/// End the request's session of `kind` and clear its cookie.
pub async fn end(
    state: &AppState,
    req: &HttpRequest,
    kind: SessionKind,
    mut res: HttpResponse,
) -> Result<HttpResponse, ApiError> {
    if let Some(c) = req.cookie(session_cookie_name(state, kind)) {
        app::sessions::end(state, c.value()).await?;
    }
    let mut gone = cookie(state, session_cookie_name(state, kind), String::new());
    gone.set_max_age(CookieDuration::ZERO);
    res.add_cookie(&gone).map_err(|_| ApiError::internal())?;
    Ok(res)
}

/// The CSRF token for a form shown to a browser that is not signed in, and the cookie to set
/// if the browser has none yet.
pub fn pre_login_csrf(state: &AppState, req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    match req.cookie(pre_cookie_name(state)) {
        Some(c) => (csrf_for(state, c.value()), None),
        None => {
            let value = state.crypto.new_token("");
            let token = csrf_for(state, &value);
            (
                token,
                Some(cookie(state, pre_cookie_name(state), value).into_owned()),
            )
        }
    }
}

/// Check a submitted CSRF token against the session or pre-login cookie. A state change that
/// the browser itself marks as coming from another site is refused whatever the token says
/// (defence in depth; `Sec-Fetch-Site` cannot be set by page scripts).
pub fn verify_csrf(state: &AppState, req: &HttpRequest, submitted: &str) -> Result<(), ApiError> {
    let cross_site = req
        .headers()
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    let ok = !cross_site
        && [
            session_cookie_name(state, SessionKind::Admin),
            session_cookie_name(state, SessionKind::Merchant),
            pre_cookie_name(state),
        ]
        .iter()
        .filter_map(|name| req.cookie(name))
        .any(|c| constant_time_eq(csrf_for(state, c.value()).as_bytes(), submitted.as_bytes()));
    if ok {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "csrf_failed",
            "This form has expired or did not come from this site. Reload the page and try again.",
        ))
    }
}

/// Where a browser without the right session is sent.
pub struct LoginRedirect(pub &'static str);

impl std::fmt::Debug for LoginRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redirect to {}", self.0)
    }
}

impl std::fmt::Display for LoginRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sign in at {}", self.0)
    }
}

impl actix_web::ResponseError for LoginRedirect {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::SEE_OTHER
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, self.0))
            .finish()
    }
}

/// A browser signed in as an admin.
pub struct AdminSession {
    pub browser: BrowserSession,
    pub admin: store::admins::Admin,
}

impl AdminSession {
    /// The audit actor string for this admin.
    pub fn actor(&self) -> String {
        crate::app::admins::actor(&self.admin)
    }
}

/// A browser signed in as a merchant.
pub struct MerchantSession {
    pub browser: BrowserSession,
    pub merchant: store::accounts::Merchant,
}

async fn load(
    req: HttpRequest,
    kind: SessionKind,
) -> Result<Option<(AppState, BrowserSession)>, actix_web::Error> {
    let state = super::extract::app_state(&req)?;
    let browser = current(&state, &req, kind).await?;
    Ok(browser.map(|b| (state, b)))
}

impl FromRequest for AdminSession {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let Some((state, browser)) = load(req, SessionKind::Admin).await? else {
                return Err(LoginRedirect("/admin/login").into());
            };
            let admin = app::admins::get(&state, &browser.session.subject_id)
                .await
                .map_err(ApiError::from)?;
            match admin {
                Some(admin) => Ok(AdminSession { browser, admin }),
                None => Err(LoginRedirect("/admin/login").into()),
            }
        })
    }
}

impl FromRequest for MerchantSession {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let Some((state, browser)) = load(req, SessionKind::Merchant).await? else {
                return Err(LoginRedirect("/login").into());
            };
            match app::accounts::get(&state, &browser.session.subject_id).await {
                Ok(merchant) => Ok(MerchantSession { browser, merchant }),
                Err(app::Error::NotFound(_)) => Err(LoginRedirect("/login").into()),
                Err(e) => Err(ApiError::from(e).into()),
            }
        })
    }
}
