//! Admins: creation (one path for the CLI and the first-run setup page), API tokens, logins and
//! the one-time setup link printed at start.

use super::{AppResult, Error, Missing, accounts::verify_credentials};
use crate::{
    crypto,
    domain::{Email, Password, Violation, text},
    limits::check,
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

/// What a new admin API token is called and how long it lives.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    /// Shown in listings; `None` names it "cli".
    pub name: Option<String>,
    /// From minting to expiry; `None` never expires.
    pub expires_in: Option<std::time::Duration>,
}

/// Longest token name.
pub const MAX_TOKEN_NAME_CHARS: usize = 100;

/// A freshly minted admin API token, shown once.
pub struct MintedToken {
    pub token: String,
    pub id: String,
    pub expires_at: Option<i64>,
}

/// Mint an API token for the admin with this email; the token is shown once and stored hashed.
pub async fn mint_token(
    state: &AppState,
    email: &str,
    request: TokenRequest,
    actor: &str,
) -> AppResult<MintedToken> {
    let name = match request.name.as_deref() {
        None => "cli".to_string(),
        Some(raw) => {
            let name = text::name("name", Some(raw))?;
            if name.chars().count() > MAX_TOKEN_NAME_CHARS {
                return Err(Violation::new(
                    "name",
                    format!("must be at most {MAX_TOKEN_NAME_CHARS} characters"),
                )
                .into());
            }
            name
        }
    };
    if request.expires_in.is_some_and(|d| d.is_zero()) {
        return Err(Violation::new("expires", "must be longer than zero").into());
    }
    let token = state.crypto.new_token("hga_");
    let hash = crypto::token_hash(&token);
    let email = email.trim().to_string();
    let now = state.now();
    let new = admins::NewToken {
        id: format!("tok_{}", hex::encode(state.crypto.random_bytes::<6>())),
        name,
        expires_at: request.expires_in.map(|d| now + d.as_secs() as i64),
    };
    let (id, expires_at) = (new.id.clone(), new.expires_at);
    let actor = actor.to_string();
    let minted = state
        .store
        .write(move |c| {
            let Some(admin) = admins::find_by_email(c, &email)? else {
                return Ok(false);
            };
            admins::insert_token(c, &hash, &admin, &new, &actor, now)?;
            Ok::<_, store::StoreError>(true)
        })
        .await?;
    if minted {
        Ok(MintedToken {
            token,
            id,
            expires_at,
        })
    } else {
        Err(Error::NotFound(Missing::Admin))
    }
}

/// Admin API tokens, newest first: of the admin with this email, or of every admin.
pub async fn tokens(state: &AppState, email: Option<&str>) -> AppResult<Vec<admins::TokenRow>> {
    let email = email.map(|e| e.trim().to_string());
    state
        .store
        .read(move |c| {
            let admin_id = match email {
                None => None,
                Some(e) => match admins::find_by_email(c, &e)? {
                    Some(a) => Some(a.id),
                    None => return Ok(None),
                },
            };
            admins::tokens(c, admin_id.as_deref()).map(Some)
        })
        .await?
        .ok_or(Error::NotFound(Missing::Admin))
}

/// Revoke an admin API token by its id; it answers 401 from then on.
pub async fn revoke_token(state: &AppState, actor: &str, token_id: &str) -> AppResult<()> {
    let (id, actor, now) = (token_id.trim().to_string(), actor.to_string(), state.now());
    let revoked = state
        .store
        .write(move |c| admins::revoke_token(c, &id, &actor, now))
        .await?;
    if revoked {
        Ok(())
    } else {
        Err(Error::NotFound(Missing::Token))
    }
}

/// Every admin, by email.
pub async fn list(state: &AppState) -> AppResult<Vec<admins::AdminSummary>> {
    let now = state.now();
    Ok(state.store.read(move |c| admins::list(c, now)).await?)
}

/// An admin changes their own password in the console: the current one is required (with the
/// login throttle per account), the new one is checked like at creation, and every other
/// session of the admin ends (`session_id`, the one in use, stays).
pub async fn change_password(
    state: &AppState,
    admin: &Admin,
    session_id: &str,
    current: &str,
    new: &str,
) -> AppResult<()> {
    check(
        &state.limits.auth_account,
        &format!("admin:{}", admin.email.to_lowercase()),
    )?;
    let mut v = Vec::new();
    let ok = !current.is_empty()
        && super::passwords::verify(state, current, Some(admin.password_hash.clone())).await?;
    if !ok {
        v.push(Violation::new("current_password", "is wrong"));
    }
    let password = Password::parse(new)
        .map_err(|m| v.push(Violation::new("new_password", m)))
        .ok();
    let Some(password) = password.filter(|_| v.is_empty()) else {
        return Err(Error::Invalid(v));
    };
    let keep = crypto::token_hash(session_id);
    set_password(state, admin.clone(), password, Some(keep), actor(admin)).await
}

/// `hookgate admin password`: set the password of the admin with this email, by whoever runs
/// the binary on the host; every session of that admin ends.
pub async fn reset_password_cli(state: &AppState, email: &str, new: &str) -> AppResult<()> {
    let password = Password::parse(new).map_err(|m| Violation::new("password", m))?;
    let lookup = email.trim().to_string();
    let admin = state
        .store
        .read(move |c| admins::find_by_email(c, &lookup))
        .await?
        .ok_or(Error::NotFound(Missing::Admin))?;
    set_password(state, admin, password, None, "cli".to_string()).await
}

async fn set_password(
    state: &AppState,
    admin: Admin,
    password: Password,
    keep: Option<Vec<u8>>,
    actor: String,
) -> AppResult<()> {
    let password_hash = super::passwords::hash(state, password.expose()).await?;
    let now = state.now();
    state
        .store
        .write(move |c| {
            admins::set_password(c, &admin, &password_hash, keep.as_deref(), &actor, now)
        })
        .await?;
    Ok(())
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

/// A token's last use is recorded at most this often, so API calls are not a write each.
const TOKEN_USE_EVERY_SECS: i64 = 60;

/// The admin behind an API token that is neither expired nor revoked.
pub async fn for_token(state: &AppState, token: &str) -> AppResult<Option<Admin>> {
    let hash = crypto::token_hash(token);
    let now = state.now();
    let Some((admin, used)) = state
        .store
        .read(move |c| admins::admin_for_token(c, &hash, now))
        .await?
    else {
        return Ok(None);
    };
    if used
        .last_used_at
        .is_none_or(|at| now - at >= TOKEN_USE_EVERY_SECS)
    {
        // Best effort: a token that checks out is not refused because its use went unrecorded.
        if let Err(e) = state
            .store
            .write(move |c| admins::token_used(c, &used.id, now))
            .await
        {
            tracing::debug!(error = %e, "an admin token's last use was not recorded");
        }
    }
    Ok(Some(admin))
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
