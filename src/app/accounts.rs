//! Merchant accounts: registration, email verification, credentials and bearer tokens.

use super::{AppResult, Error};
use crate::{
    crypto,
    domain::{Email, Password, Violation, text},
    emails,
    limits::check,
    state::AppState,
    store::{
        self, accounts,
        accounts::{CodeCheck, CodePurpose, Merchant, VerifyOutcome},
    },
};
use std::net::IpAddr;

/// Lifetime of an email verification code.
pub const CODE_TTL_SECS: i64 = 15 * 60;
/// Lifetime of a merchant bearer token.
pub const TOKEN_TTL_SECS: i64 = 12 * 3600;

/// Validated registration input.
pub struct Registration {
    pub email: Email,
    pub password: Password,
    pub business_name: String,
}

impl Registration {
    /// Validate registration fields, reporting every violation at once.
    pub fn parse(
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
        let name = text::name("business_name", business_name)
            .map_err(|e| v.push(e))
            .ok();
        match (email, password, name) {
            (Some(email), Some(password), Some(business_name)) => Ok(Registration {
                email,
                password,
                business_name,
            }),
            _ => Err(v),
        }
    }
}

/// Create a merchant account and email a verification code; returns the merchant id.
pub async fn register(state: &AppState, reg: Registration) -> AppResult<String> {
    let password_hash = super::passwords::hash(state, reg.password.expose()).await?;
    let new = accounts::NewMerchant {
        id: store::new_id("mer"),
        email: reg.email.to_string(),
        business_name: reg.business_name,
        password_hash,
    };
    let now = state.now();
    let code = new_code(state, &new.id, &new.email, now);
    let id = new.id.clone();
    let created = state
        .store
        .write(move |c| accounts::register(c, &new, &code, now))
        .await?;
    if !created {
        return Err(Error::EmailTaken);
    }
    Ok(id)
}

fn new_code(state: &AppState, merchant_id: &str, email: &str, now: i64) -> accounts::CodeToStore {
    let code = state.crypto.new_otp();
    let expires_at = now + CODE_TTL_SECS;
    accounts::CodeToStore {
        code_mac: state.crypto.mac(&format!("otp:{merchant_id}"), &code),
        expires_at,
        email: emails::verification_code(email, &code, expires_at, CODE_TTL_SECS / 60),
    }
}

/// Check a verification code for an email; `Ok` once the account is active.
pub async fn verify_email(state: &AppState, ip: IpAddr, email: &str, code: &str) -> AppResult<()> {
    check(&state.limits.auth_ip, &ip)?;
    let email = Email::parse(email)
        .map_err(|m| Violation::new("email", m))?
        .to_string();
    let code = code.trim().to_string();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Violation::new("code", "must be the 6 digits from the email").into());
    }
    let crypto = state.crypto.clone();
    let now = state.now();
    let outcome = state
        .store
        .write(move |c| {
            accounts::verify_email(c, &email, now, |merchant_id, mac| {
                crypto.verify_mac(&format!("otp:{merchant_id}"), &code, mac)
            })
        })
        .await?;
    match outcome {
        VerifyOutcome::Verified | VerifyOutcome::AlreadyVerified => Ok(()),
        VerifyOutcome::WrongCode { burned } => Err(Error::WrongCode { burned }),
        VerifyOutcome::NoCode => Err(Error::WrongCode { burned: true }),
        VerifyOutcome::Expired => Err(Error::CodeExpired),
    }
}

/// Send a fresh code if the account exists and is unverified. Succeeds either way, so that the
/// answer does not reveal which emails have accounts.
pub async fn resend_code(state: &AppState, ip: IpAddr, email: &str) -> AppResult<()> {
    let Some(m) = account_to_email(state, ip, email, "").await? else {
        return Ok(());
    };
    if m.email_verified {
        return Ok(());
    }
    let now = state.now();
    let code = new_code(state, &m.id, &m.email, now);
    state
        .store
        .write(move |c| accounts::store_code(c, &m.id, &code, now))
        .await?;
    Ok(())
}

/// Email a password reset code if an account has this email. Succeeds either way, and takes the
/// same path up to the lookup, so that the answer does not reveal which emails have accounts.
/// Throttled per client IP (429) and per account (silently: at most a few codes a minute). A
/// new code replaces the account's earlier one.
pub async fn request_password_reset(state: &AppState, ip: IpAddr, email: &str) -> AppResult<()> {
    let Some(m) = account_to_email(state, ip, email, "reset:").await? else {
        return Ok(());
    };
    let now = state.now();
    let code = state.crypto.new_otp();
    let expires_at = now + CODE_TTL_SECS;
    let to_store = accounts::CodeToStore {
        code_mac: state.crypto.mac(&reset_context(&m.id), &code),
        expires_at,
        email: emails::password_reset_code(&m.email, &code, expires_at, CODE_TTL_SECS / 60),
    };
    state
        .store
        .write(move |c| accounts::put_code(c, CodePurpose::ResetPassword, &m.id, &to_store, now))
        .await?;
    Ok(())
}

/// The account a code email would go to, if one should: the client's IP within its limit (429
/// otherwise), a valid email, the account's emails of this kind (`kind` prefixes the throttle
/// key) within a few a minute (silently `None` otherwise), and an account with this email.
async fn account_to_email(
    state: &AppState,
    ip: IpAddr,
    email: &str,
    kind: &str,
) -> AppResult<Option<Merchant>> {
    check(&state.limits.auth_ip, &ip)?;
    let email = Email::parse(email)
        .map_err(|_| Violation::new("email", "is not a valid email"))?
        .to_string();
    let throttle_key = format!("{kind}{}", email.to_lowercase());
    if state.limits.resend.check_key(&throttle_key).is_err() {
        return Ok(None);
    }
    Ok(state
        .store
        .read(move |c| accounts::find_by_email(c, &email))
        .await?)
}

/// The MAC context of reset codes: a verification code never passes as one.
fn reset_context(merchant_id: &str) -> String {
    format!("reset:{merchant_id}")
}

/// Set a new password with an emailed reset code. The new password is checked like at sign-up
/// before the code is tried (a weak one costs no attempt). Every way a code can fail (unknown
/// email, wrong, expired, used up) is the same `ResetCodeInvalid`, so the answer reveals
/// nothing about the account. On success every session and bearer token of the account ends.
pub async fn reset_password(
    state: &AppState,
    ip: IpAddr,
    email: &str,
    code: &str,
    new_password: &str,
) -> AppResult<()> {
    check(&state.limits.auth_ip, &ip)?;
    let email = email.trim().to_string();
    check(
        &state.limits.auth_account,
        &format!("reset:{}", email.to_lowercase()),
    )?;
    let password = Password::parse(new_password).map_err(|m| Violation::new("password", m))?;
    let code = code.trim().to_string();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Violation::new("code", "must be the 6 digits from the email").into());
    }
    let password_hash = super::passwords::hash(state, password.expose()).await?;
    let crypto = state.crypto.clone();
    let public_url = state.config.public_url.clone();
    let now = state.now();
    let checked = state
        .store
        .write(move |c| {
            let notice = |m: &Merchant| emails::password_changed(&m.email, &public_url);
            let reset = accounts::Reset {
                email: &email,
                password_hash: &password_hash,
                notice: &notice,
            };
            accounts::reset_password(c, &reset, now, |merchant_id, mac| {
                crypto.verify_mac(&reset_context(merchant_id), &code, mac)
            })
        })
        .await?;
    match checked {
        CodeCheck::Matched => Ok(()),
        CodeCheck::Wrong { .. } | CodeCheck::Expired | CodeCheck::NoCode => {
            Err(Error::ResetCodeInvalid)
        }
    }
}

/// Check a password for an account with the login throttles (per IP and per account) and audit
/// every failure. An unknown account is verified against a dummy hash, so it takes the same time
/// and gets the same answer as a wrong password. Shared by merchant and admin logins.
pub(crate) async fn verify_credentials<T: Send + 'static>(
    state: &AppState,
    ip: IpAddr,
    kind: &'static str,
    account_key: String,
    password: &str,
    lookup: impl FnOnce(&rusqlite::Connection) -> store::StoreResult<Option<T>> + Send + 'static,
    hash_of: fn(&T) -> String,
) -> AppResult<T> {
    check(&state.limits.auth_ip, &ip)?;
    check(&state.limits.auth_account, &account_key)?;
    let account = state.store.read(lookup).await?;
    let ok = super::passwords::verify(state, password, account.as_ref().map(hash_of)).await?;
    match account {
        Some(a) if ok => Ok(a),
        _ => {
            let now = state.now();
            state
                .store
                .write(move |c| {
                    store::audit::record(
                        c,
                        now,
                        &format!("ip:{ip}"),
                        "auth.login_failed",
                        &account_key,
                        serde_json::json!({"kind": kind}),
                    )
                    .map_err(store::StoreError::from)
                })
                .await?;
            Err(Error::InvalidCredentials)
        }
    }
}

/// Check a merchant's credentials; an unverified email is refused after a correct password.
pub async fn authenticate(
    state: &AppState,
    ip: IpAddr,
    email: &str,
    password: &str,
) -> AppResult<Merchant> {
    let email_key = email.trim().to_lowercase();
    let lookup = email_key.clone();
    let m = verify_credentials(
        state,
        ip,
        "merchant",
        email_key,
        password,
        move |c| accounts::find_by_email(c, &lookup),
        |m| m.password_hash.clone(),
    )
    .await?;
    if !m.email_verified {
        return Err(Error::EmailUnverified);
    }
    Ok(m)
}

/// A freshly issued merchant bearer token.
pub struct IssuedToken {
    pub token: String,
    pub expires_at: i64,
}

/// Issue a merchant bearer token.
pub async fn issue_token(state: &AppState, merchant_id: String) -> AppResult<IssuedToken> {
    let token = state.crypto.new_token("hgm_");
    let hash = crypto::token_hash(&token);
    let now = state.now();
    let expires_at = now + TOKEN_TTL_SECS;
    state
        .store
        .write(move |c| accounts::insert_token(c, &hash, &merchant_id, now, expires_at))
        .await?;
    Ok(IssuedToken { token, expires_at })
}

/// The merchant behind a bearer token, if it is valid now.
pub async fn merchant_for_token(state: &AppState, token: &str) -> AppResult<Option<Merchant>> {
    let hash = crypto::token_hash(token);
    let now = state.now();
    Ok(state
        .store
        .read(move |c| accounts::merchant_for_token(c, &hash, now))
        .await?)
}

/// A merchant by id.
pub async fn get(state: &AppState, merchant_id: &str) -> AppResult<Merchant> {
    let id = merchant_id.to_string();
    state
        .store
        .read(move |c| accounts::get(c, &id))
        .await?
        .ok_or(Error::NotFound(super::Missing::Merchant))
}

/// Whether `password` is the merchant's password (a re-entry before a sensitive action).
pub async fn confirm_password(state: &AppState, m: &Merchant, password: &str) -> AppResult<bool> {
    if password.is_empty() {
        return Ok(false);
    }
    super::passwords::verify(state, password, Some(m.password_hash.clone())).await
}
