//! Browser sessions as the application sees them: random ids stored only as hashes, idle and
//! absolute expiry, a new id at every login. Cookies and CSRF are the web layer's business.

use super::AppResult;
use crate::{
    crypto::token_hash,
    state::AppState,
    store::sessions::{self, Session, SessionKind},
};

/// Sessions end after this long without activity.
pub const IDLE_TIMEOUT_SECS: i64 = 30 * 60;
/// Sessions end this long after login, active or not.
pub const ABSOLUTE_TIMEOUT_SECS: i64 = 12 * 3600;
/// Revealing a secret asks for the password again when the last entry is older than this.
pub const REAUTH_AFTER_SECS: i64 = 10 * 60;
/// Activity is recorded at most this often, so browsing is not a write per page.
const TOUCH_EVERY_SECS: i64 = 60;

/// The live session of `kind` behind a session id, if any (an expired one is deleted).
pub async fn live(state: &AppState, id: &str, kind: SessionKind) -> AppResult<Option<Session>> {
    let hash = token_hash(id);
    let lookup = hash.clone();
    let Some(session) = state.store.read(move |c| sessions::get(c, &lookup)).await? else {
        return Ok(None);
    };
    if session.kind != kind {
        return Ok(None);
    }
    let now = state.now();
    if now - session.last_seen_at > IDLE_TIMEOUT_SECS
        || now - session.created_at > ABSOLUTE_TIMEOUT_SECS
    {
        state
            .store
            .write(move |c| sessions::delete(c, &hash))
            .await?;
        return Ok(None);
    }
    if now - session.last_seen_at > TOUCH_EVERY_SECS {
        state
            .store
            .write(move |c| sessions::touch(c, &hash, now))
            .await?;
    }
    Ok(Some(session))
}

/// Whether the password was entered recently enough for sensitive actions.
pub fn recently_authenticated(state: &AppState, session: &Session) -> bool {
    state.now() - session.authenticated_at <= REAUTH_AFTER_SECS
}

/// Start a session for `subject_id` after a successful login, ending the browser's earlier
/// session (`previous_id`) so that an id is never reused across a login; returns the new id.
pub async fn start(
    state: &AppState,
    previous_id: Option<&str>,
    kind: SessionKind,
    subject_id: &str,
) -> AppResult<String> {
    if let Some(old) = previous_id {
        end(state, old).await?;
    }
    let id = state.crypto.new_token("");
    let hash = token_hash(&id);
    let subject = subject_id.to_string();
    let now = state.now();
    state
        .store
        .write(move |c| sessions::create(c, &hash, kind, &subject, now))
        .await?;
    Ok(id)
}

/// End a session.
pub async fn end(state: &AppState, id: &str) -> AppResult<()> {
    let hash = token_hash(id);
    state
        .store
        .write(move |c| sessions::delete(c, &hash))
        .await?;
    Ok(())
}

/// Record that the password was just entered again in this session.
pub async fn reauthenticated(state: &AppState, id: &str) -> AppResult<()> {
    let hash = token_hash(id);
    let now = state.now();
    state
        .store
        .write(move |c| sessions::reauthenticated(c, &hash, now))
        .await?;
    Ok(())
}

/// Delete expired sessions.
pub async fn purge_expired(state: &AppState) -> AppResult<usize> {
    let now = state.now();
    let (idle, absolute) = (now - IDLE_TIMEOUT_SECS, now - ABSOLUTE_TIMEOUT_SECS);
    super::maintenance::in_batches(state, move |c, limit| {
        sessions::purge(c, idle, absolute, limit)
    })
    .await
}
