//! Admins: creation (one path for the CLI and the first-run setup page), API tokens, logins and
//! the one-time setup link printed at start.

use super::{AppResult, Error, Missing, accounts::verify_credentials};
use crate::{
    crypto,
    domain::{Email, Password, Violation},
    state::AppState,
    store::{self, admins, admins::Admin, sessions},
};
use std::net::IpAddr;

/// Lifetime of the first-admin setup link.
pub const SETUP_LINK_TTL_SECS: i64 = 3600;

/// How an admin comes to be.
pub enum Creation<'a> {
    /// `hookgate admin create`, by whoever runs the binary on the host.
    Cli,
    /// The first-run setup page, with the one-time token printed at start.
    SetupLink { token: &'a str },
}

/// Create an admin after validating email and password (every violation at once); returns the
/// new admin's id.
pub async fn create(
    state: &AppState,
    email: &str,
    password: &str,
    how: Creation<'_>,
) -> AppResult<String> {
    let mut v = Vec::new();
    let email = Email::parse(email)
        .map_err(|m| v.push(Violation::new("email", m)))
        .ok();
    let password = Password::parse(password)
        .map_err(|m| v.push(Violation::new("password", m)))
        .ok();
    let (Some(email), Some(password)) = (email, password) else {
        return Err(Error::Invalid(v));
    };
    let password_hash = super::passwords::hash(state, password.expose()).await?;
    let id = store::new_id("adm");
    let (admin_id, email) = (id.clone(), email.to_string());
    let now = state.now();
    match how {
        Creation::Cli => {
            let created = state
                .store
                .write(move |c| admins::create(c, &admin_id, &email, &password_hash, "cli", now))
                .await?;
            if !created {
                return Err(Error::AdminExists);
            }
        }
        Creation::SetupLink { token } => {
            let token_hash = crypto::token_hash(token);
            let created = state
                .store
                .write(move |c| {
                    sessions::consume_setup_token(
                        c,
                        &token_hash,
                        &admin_id,
                        &email,
                        &password_hash,
                        now,
                    )
                })
                .await?;
            if !created {
                return Err(Error::SetupLinkInvalid);
            }
        }
    }
    Ok(id)
}

/// Mint an API token for the admin with this email; the token is shown once and stored hashed.
pub async fn mint_token(state: &AppState, email: &str) -> AppResult<String> {
    let token = state.crypto.new_token("hga_");
    let hash = crypto::token_hash(&token);
    let email = email.trim().to_string();
    let now = state.now();
    let minted = state
        .store
        .write(move |c| {
            let Some(admin) = admins::find_by_email(c, &email)? else {
                return Ok(false);
            };
            admins::insert_token(c, &hash, &admin, "cli", now)?;
            Ok::<_, store::StoreError>(true)
        })
        .await?;
    if minted {
        Ok(token)
    } else {
        Err(Error::NotFound(Missing::Admin))
    }
}

/// Check admin credentials with the same throttling and audit as merchant logins.
pub async fn authenticate(
    state: &AppState,
    ip: IpAddr,
    email: &str,
    password: &str,
) -> AppResult<Admin> {
    let lookup = email.trim().to_string();
    let key = format!("admin:{}", lookup.to_lowercase());
    verify_credentials(
        state,
        ip,
        "admin",
        key,
        password,
        move |c| admins::find_by_email(c, &lookup),
        |a| a.password_hash.clone(),
    )
    .await
}

/// The admin behind an API token.
pub async fn for_token(state: &AppState, token: &str) -> AppResult<Option<Admin>> {
    let hash = crypto::token_hash(token);
    Ok(state
        .store
        .read(move |c| admins::admin_for_token(c, &hash))
        .await?)
}

/// An admin by id.
pub async fn get(state: &AppState, admin_id: &str) -> AppResult<Option<Admin>> {
    let id = admin_id.to_string();
    Ok(state.store.read(move |c| admins::get(c, &id)).await?)
}

/// How many admins exist.
pub async fn count(state: &AppState) -> AppResult<i64> {
    Ok(state.store.read(admins::count).await?)
}

/// Issue a one-time setup link token (valid one hour, replacing any earlier one).
pub async fn issue_setup_token(state: &AppState) -> AppResult<String> {
    let token = state.crypto.new_token("");
    let hash = crypto::token_hash(&token);
    let expires_at = state.now() + SETUP_LINK_TTL_SECS;
    state
        .store
        .write(move |c| sessions::set_setup_token(c, &hash, expires_at))
        .await?;
    Ok(token)
}

/// Whether a setup link token is valid now.
pub async fn setup_token_valid(state: &AppState, token: &str) -> AppResult<bool> {
    let hash = crypto::token_hash(token);
    let now = state.now();
    Ok(state
        .store
        .read(move |c| sessions::setup_token_valid(c, &hash, now))
        .await?)
}

/// How an admin is named in the audit log.
pub fn actor(admin: &store::admins::Admin) -> String {
    format!("admin:{}", admin.email)
}
