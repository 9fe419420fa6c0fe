//! Merchant sign-up, email verification, login and `/me`.

use super::extract::{AuthMerchant, client_ip};
use super::limits::check;
use crate::{
    clock, crypto,
    domain::{Email, Password},
    emails,
    error::{ApiError, Violation},
    startup::AppState,
    store::{self, accounts, accounts::VerifyOutcome},
};
use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::Deserialize;
use serde_json::json;

/// Lifetime of an email verification code.
pub const CODE_TTL_SECS: i64 = 15 * 60;
/// Lifetime of a merchant bearer token.
pub const TOKEN_TTL_SECS: i64 = 12 * 3600;

#[derive(Deserialize)]
pub struct RegisterBody {
    email: Option<String>,
    password: Option<String>,
    business_name: Option<String>,
}

/// Validated registration input.
pub struct Registration {
    pub email: Email,
    pub password: Password,
    pub business_name: String,
}

/// Validate registration fields, reporting every violation at once.
pub fn validate_registration(
    email: Option<&str>,
    password: Option<&str>,
    business_name: Option<&str>,
) -> Result<Registration, Vec<Violation>> {
    let mut v = Vec::new();
    let email = Email::parse(email.unwrap_or_default())
        .map_err(|m| v.push(Violation::new("email", m)))
        .ok();
    let password = Password::parse(password.unwrap_or_default())
        .map_err(|m| v.push(Violation::new("password", m)))
        .ok();
    let name = business_name.unwrap_or_default().trim().to_string();
    if name.is_empty() {
        v.push(Violation::new("business_name", "is required"));
    } else if name.chars().count() > 200 || name.chars().any(char::is_control) {
        v.push(Violation::new(
            "business_name",
            "must be at most 200 printable characters",
        ));
    }
    match (email, password) {
        (Some(email), Some(password)) if v.is_empty() => Ok(Registration {
            email,
            password,
            business_name: name,
        }),
        _ => Err(v),
    }
}

/// Create a merchant account and email a verification code.
pub async fn register_account(state: &AppState, reg: Registration) -> Result<String, ApiError> {
    let crypto = state.crypto.clone();
    let password = reg.password.expose().to_string();
    let password_hash = web::block(move || crypto::hash_password(&crypto, &password))
        .await
        .map_err(|_| ApiError::internal())?;
    let new = accounts::NewMerchant {
        id: store::new_id("mer"),
        email: reg.email.to_string(),
        business_name: reg.business_name,
        password_hash,
    };
    let now = clock::now();
    let code = new_code(state, &new.id, &new.email, now);
    let id = new.id.clone();
    let created = state
        .store
        .write(move |c| accounts::register(c, &new, &code, now))
        .await?;
    if !created {
        return Err(ApiError::conflict(
            "email_taken",
            "An account with this email already exists.",
        ));
    }
    Ok(id)
}

fn new_code(state: &AppState, merchant_id: &str, email: &str, now: i64) -> accounts::CodeToStore {
    let code = state.crypto.new_otp();
    accounts::CodeToStore {
        code_mac: state.crypto.mac(&format!("otp:{merchant_id}"), &code),
        expires_at: now + CODE_TTL_SECS,
        email: emails::verification_code(email, &code, CODE_TTL_SECS / 60),
    }
}

/// `POST /api/v1/auth/register`
pub async fn register(
    state: web::Data<AppState>,
    body: web::Json<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let reg = validate_registration(
        body.email.as_deref(),
        body.password.as_deref(),
        body.business_name.as_deref(),
    )
    .map_err(ApiError::validation)?;
    let merchant_id = register_account(&state, reg).await?;
    Ok(HttpResponse::Created()
        .json(json!({"merchant_id": merchant_id, "status": "email_unverified"})))
}

#[derive(Deserialize)]
pub struct VerifyBody {
    email: Option<String>,
    code: Option<String>,
}

/// Check a verification code for an email; `Ok` once the account is active.
pub async fn verify_code(
    state: &AppState,
    req: &HttpRequest,
    email: &str,
    code: &str,
) -> Result<(), ApiError> {
    check(&state.limits.auth_ip, &client_ip(req))?;
    let email = Email::parse(email)
        .map_err(|m| ApiError::validation(vec![Violation::new("email", m)]))?
        .to_string();
    let code = code.trim().to_string();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::validation(vec![Violation::new(
            "code",
            "must be the 6 digits from the email",
        )]));
    }
    let crypto = state.crypto.clone();
    let outcome = state
        .store
        .write(move |c| {
            accounts::verify_email(c, &email, clock::now(), |merchant_id, mac| {
                crypto.verify_mac(&format!("otp:{merchant_id}"), &code, mac)
            })
        })
        .await?;
    match outcome {
        VerifyOutcome::Verified | VerifyOutcome::AlreadyVerified => Ok(()),
        VerifyOutcome::WrongCode { burned: false } => Err(ApiError::bad_request(
            "invalid_code",
            "The code is not correct.",
        )),
        VerifyOutcome::WrongCode { burned: true } | VerifyOutcome::NoCode => {
            Err(ApiError::bad_request(
                "invalid_code",
                "The code is not correct and can no longer be used; request a new one.",
            ))
        }
        VerifyOutcome::Expired => Err(ApiError::new(
            StatusCode::GONE,
            "code_expired",
            "The code has expired; request a new one.",
        )),
    }
}

/// `POST /api/v1/auth/verify-email`
pub async fn verify_email(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<VerifyBody>,
) -> Result<HttpResponse, ApiError> {
    verify_code(
        &state,
        &req,
        body.email.as_deref().unwrap_or_default(),
        body.code.as_deref().unwrap_or_default(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({"status": "active"})))
}

#[derive(Deserialize)]
pub struct ResendBody {
    email: Option<String>,
}

/// Send a fresh code if the account exists and is unverified. Always "accepted", so that the
/// answer does not reveal which emails have accounts.
pub async fn resend(state: &AppState, req: &HttpRequest, email: &str) -> Result<(), ApiError> {
    check(&state.limits.auth_ip, &client_ip(req))?;
    let Ok(email) = Email::parse(email) else {
        return Err(ApiError::validation(vec![Violation::new(
            "email",
            "is not a valid email",
        )]));
    };
    let email = email.to_string();
    if state
        .limits
        .resend
        .check_key(&email.to_lowercase())
        .is_err()
    {
        return Ok(()); // Throttled silently: at most a few codes per minute per account.
    }
    let lookup = email.clone();
    let Some(m) = state
        .store
        .read(move |c| accounts::find_by_email(c, &lookup))
        .await?
    else {
        return Ok(());
    };
    if m.email_verified {
        return Ok(());
    }
    let now = clock::now();
    let code = new_code(state, &m.id, &m.email, now);
    state
        .store
        .write(move |c| accounts::store_code(c, &m.id, &code, now))
        .await?;
    Ok(())
}

/// `POST /api/v1/auth/resend-code`
pub async fn resend_code(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<ResendBody>,
) -> Result<HttpResponse, ApiError> {
    resend(&state, &req, body.email.as_deref().unwrap_or_default()).await?;
    Ok(HttpResponse::Accepted().json(json!({"status": "accepted"})))
}

#[derive(Deserialize)]
pub struct TokenBody {
    email: Option<String>,
    password: Option<String>,
}

/// Check a password for an account with the login throttles (per IP and per account) and audit
/// every failure. An unknown account is verified against a dummy hash, so it takes the same time
/// and gets the same answer as a wrong password.
pub async fn verify_credentials<T: Send + 'static>(
    state: &AppState,
    req: &HttpRequest,
    kind: &'static str,
    account_key: String,
    password: &str,
    lookup: impl FnOnce(&rusqlite::Connection) -> store::StoreResult<Option<T>> + Send + 'static,
    hash_of: fn(&T) -> String,
) -> Result<T, ApiError> {
    let ip = client_ip(req);
    check(&state.limits.auth_ip, &ip)?;
    check(&state.limits.auth_account, &account_key)?;
    let account = state.store.read(lookup).await?;
    let crypto = state.crypto.clone();
    let hash = account.as_ref().map(hash_of);
    let password = password.to_string();
    let ok = web::block(move || {
        let hash = hash
            .as_deref()
            .unwrap_or_else(|| crypto::dummy_password_hash(&crypto));
        crypto::verify_password(&password, hash)
    })
    .await
    .map_err(|_| ApiError::internal())?;
    match account {
        Some(a) if ok => Ok(a),
        _ => {
            let now = clock::now();
            state
                .store
                .write(move |c| {
                    store::audit::record(
                        c,
                        now,
                        &format!("ip:{ip}"),
                        "auth.login_failed",
                        &account_key,
                        json!({"kind": kind}),
                    )
                    .map_err(store::StoreError::from)
                })
                .await?;
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "Email or password is wrong.",
            ))
        }
    }
}

/// Check a merchant's credentials; an unverified email is refused after a correct password.
pub async fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    email: &str,
    password: &str,
) -> Result<accounts::Merchant, ApiError> {
    let email_key = email.trim().to_lowercase();
    let lookup = email_key.clone();
    let m = verify_credentials(
        state,
        req,
        "merchant",
        email_key,
        password,
        move |c| accounts::find_by_email(c, &lookup),
        |m| m.password_hash.clone(),
    )
    .await?;
    if !m.email_verified {
        return Err(ApiError::forbidden(
            "email_unverified",
            "Verify your email address first.",
        ));
    }
    Ok(m)
}

/// Issue a merchant bearer token.
pub async fn issue_token(state: &AppState, merchant_id: String) -> Result<(String, i64), ApiError> {
    let token = state.crypto.new_token("hgm_");
    let hash = crypto::token_hash(&token);
    let now = clock::now();
    let expires_at = now + TOKEN_TTL_SECS;
    state
        .store
        .write(move |c| accounts::insert_token(c, &hash, &merchant_id, now, expires_at))
        .await?;
    Ok((token, expires_at))
}

/// `POST /api/v1/auth/token`
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<TokenBody>,
) -> Result<HttpResponse, ApiError> {
    let m = authenticate(
        &state,
        &req,
        body.email.as_deref().unwrap_or_default(),
        body.password.as_deref().unwrap_or_default(),
    )
    .await?;
    let (token, expires_at) = issue_token(&state, m.id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_at": clock::rfc3339(expires_at),
        })))
}

/// `GET /api/v1/me`
pub async fn me(AuthMerchant(m): AuthMerchant) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "merchant_id": m.id,
        "email": m.email,
        "business_name": m.business_name,
        "kyc_status": m.kyc_status.as_str(),
        "key_id": m.key_id,
    }))
}
