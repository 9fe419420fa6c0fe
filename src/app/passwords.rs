//! Password hashing for the use cases, through the process's bounded hashing slots.

use super::{AppResult, Error};
use crate::{limits::RateLimited, passwords::Busy, state::AppState};

/// Every slot stayed busy for the whole wait: the caller gets 429 with `Retry-After: 1`.
fn busy(state: &AppState) -> impl FnOnce(Busy) -> Error + '_ {
    move |Busy| {
        state.passwords.count_refusal();
        Error::RateLimited(RateLimited {
            retry_after_secs: 1,
        })
    }
}

/// The PHC string of a new password.
pub async fn hash(state: &AppState, password: &str) -> AppResult<String> {
    let salt = state.crypto.random_bytes::<16>();
    state
        .passwords
        .hash(password.to_string(), salt)
        .await
        .map_err(busy(state))
}

/// Whether `password` matches `stored`; `None` (no such account) takes as long and is false.
pub async fn verify(state: &AppState, password: &str, stored: Option<String>) -> AppResult<bool> {
    let salt = state.crypto.random_bytes::<16>();
    state
        .passwords
        .verify(password.to_string(), stored, salt)
        .await
        .map_err(busy(state))
}
