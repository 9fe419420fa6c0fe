//! The use cases: plain async functions over `&AppState`, called by the HTTP handlers, the pages,
//! the background jobs and the CLI alike. They decide with `domain`, persist through `store` and
//! return typed errors; no actix type crosses this boundary. `error.rs` maps `Error` to the wire
//! once, and pages match on its variants.

pub mod accounts;
pub mod admins;
pub mod alerts;
pub mod backup;
pub mod deliveries;
pub mod delivery_health;
pub mod destinations;
pub mod dispatch;
pub mod events;
pub mod failures;
pub mod health;
pub mod ingest;
pub mod keys;
pub mod kyc;
pub mod maintenance;
pub mod operations;
pub mod orders;
pub mod paging;
pub mod passwords;
pub mod records;
pub mod recovery;
pub mod secrets;
pub mod sessions;
pub mod settings;
pub mod setup;
pub mod source_ingest;
pub mod sources;

use crate::{
    domain::{Violation, kyc::TransitionRefused},
    limits::RateLimited,
    store::StoreError,
};

/// What a use case can refuse or fail with.
#[derive(Debug)]
pub enum Error {
    /// The input is invalid; every violation at once.
    Invalid(Vec<Violation>),
    /// There is no such thing.
    NotFound(Missing),
    /// The KYC lifecycle does not allow this step from the current state.
    Refused(TransitionRefused),
    /// A merchant account with this email exists.
    EmailTaken,
    /// An admin with this email exists.
    AdminExists,
    /// Wrong email or password (the same answer for an unknown email).
    InvalidCredentials,
    /// The password was right, but the email is not verified yet.
    EmailUnverified,
    /// A wrong verification code; `burned` when the code can no longer be used.
    WrongCode { burned: bool },
    /// The verification code expired.
    CodeExpired,
    /// A password reset code that does not work, whatever the reason (unknown email, wrong,
    /// expired, used up): one answer, so that it reveals nothing about the account.
    ResetCodeInvalid,
    /// Secrets exist only for approved merchants; `revoked` when the approval was withdrawn.
    KycRequired { revoked: bool },
    /// The one-time setup link is unknown, used or expired.
    SetupLinkInvalid,
    /// Over a rate limit.
    RateLimited(RateLimited),
    /// A source with this slug exists.
    SlugTaken,
    /// No enabled source has this slug.
    UnknownSource,
    /// A provider's request failed verification.
    SourceRefused {
        refusal: crate::domain::source::Refusal,
        kind: crate::domain::source::Kind,
    },
    /// Meta's subscription check with a wrong or missing verify token.
    ChallengeRefused,
    /// `GET` on the ingest URL of a source that is not Meta.
    MethodNotAllowed,
    /// An inbound webhook refused by the ingestion pipeline.
    Webhook(ingest::Rejection),
    /// A retry or redelivery the delivery's or event's state does not allow.
    Recovery(recovery::Refusal),
    /// The store failed.
    Storage(StoreError),
    /// A bug or corrupt data, already logged where it happened.
    Internal,
}

/// The kind of thing that was not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Kyc,
    Merchant,
    Admin,
    Event,
    Order,
    Source,
    Destination,
    Delivery,
    /// An admin API token, by its id.
    Token,
}

impl Error {
    /// Whether the request itself is at fault (a form shows it to the user), rather than the
    /// server (storage or a bug).
    pub fn is_users_fault(&self) -> bool {
        !matches!(self, Error::Storage(_) | Error::Internal)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Storage(e) => e.fmt(f),
            other => write!(f, "{other:?}"),
        }
    }
}

impl std::error::Error for Error {}

/// Result of a use case.
pub type AppResult<T> = Result<T, Error>;

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Storage(e)
    }
}

impl From<RateLimited> for Error {
    fn from(e: RateLimited) -> Self {
        Error::RateLimited(e)
    }
}

impl From<Violation> for Error {
    fn from(v: Violation) -> Self {
        Error::Invalid(vec![v])
    }
}

impl From<TransitionRefused> for Error {
    fn from(r: TransitionRefused) -> Self {
        Error::Refused(r)
    }
}

impl From<ingest::Rejection> for Error {
    fn from(r: ingest::Rejection) -> Self {
        Error::Webhook(r)
    }
}
