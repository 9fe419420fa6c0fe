//! The HTTP error type: one place maps every failure to a status and a contract-shaped body.

use crate::{
    app::{self, Missing, ingest::Rejection},
    domain::source::{Kind, Refusal},
};
use actix_web::{HttpResponse, ResponseError, http::StatusCode, http::header};
use serde::Serialize;
use std::fmt;

pub use crate::domain::Violation;

/// An error answered to an API client as `{"error", "message", "violations"?}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub violations: Vec<Violation>,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
}

/// The JSON body of every API error.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// A snake_case code, stable for programs to match on.
    error: &'a str,
    /// One human sentence.
    message: &'a str,
    /// The fields at fault, on validation failures only.
    #[serde(skip_serializing_if = "<[Violation]>::is_empty")]
    #[schema(required = false)]
    violations: &'a [Violation],
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            violations: Vec::new(),
            retry_after: None,
        }
    }

    pub fn validation(violations: Vec<Violation>) -> Self {
        let mut e = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "The request has invalid fields; see violations.",
        );
        e.violations = violations;
        e
    }

    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "A valid bearer token is required.",
        )
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests; retry after the time in Retry-After.",
        );
        e.retry_after = Some(retry_after_secs.max(1));
        e
    }

    pub fn storage_unavailable() -> Self {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            "Storage is temporarily unavailable; nothing was stored. Retry later.",
        );
        e.retry_after = Some(5);
        e
    }

    pub fn internal() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side; it has been logged.",
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        res.json(ErrorBody {
            error: self.code,
            message: &self.message,
            violations: &self.violations,
        })
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            StoreError::Unavailable(reason) => {
                // The writer logs the change of state once; a line per request would flood.
                tracing::debug!(%reason, "storage unavailable");
                ApiError::storage_unavailable()
            }
            StoreError::Internal(reason) => {
                tracing::error!(%reason, "storage error");
                ApiError::internal()
            }
        }
    }
}

impl From<app::Error> for ApiError {
    /// The one mapping from what a use case says to what the client is answered.
    fn from(e: app::Error) -> Self {
        use app::Error as E;
        match e {
            E::Invalid(violations) => ApiError::validation(violations),
            E::NotFound(missing) => not_found(missing),
            E::Refused(r) => ApiError::conflict(r.code(), r.message()),
            E::EmailTaken => {
                ApiError::conflict("email_taken", "An account with this email already exists.")
            }
            E::AdminExists => {
                ApiError::conflict("admin_exists", "An admin with this email already exists.")
            }
            E::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "Email or password is wrong.",
            ),
            E::EmailUnverified => {
                ApiError::forbidden("email_unverified", "Verify your email address first.")
            }
            E::WrongCode { burned: false } => {
                ApiError::bad_request("invalid_code", "The code is not correct.")
            }
            E::WrongCode { burned: true } => ApiError::bad_request(
                "invalid_code",
                "The code is not correct and can no longer be used; request a new one.",
            ),
            E::CodeExpired => ApiError::new(
                StatusCode::GONE,
                "code_expired",
                "The code has expired; request a new one.",
            ),
            E::ResetCodeInvalid => ApiError::bad_request(
                "invalid_code",
                "This code does not work: it may be mistyped, expired (codes last 15 minutes) or \
                 used up (5 wrong tries). Request a new one.",
            ),
            E::KycRequired { revoked: false } => ApiError::forbidden(
                "kyc_required",
                "Webhook secrets are available once your KYC is approved.",
            ),
            E::KycRequired { revoked: true } => ApiError::forbidden(
                "kyc_required",
                "No active secret: your approval may have been revoked.",
            ),
            E::SetupLinkInvalid => ApiError::not_found(
                "setup_link_invalid",
                "This setup link is invalid, expired or already used. Restart hookgate for a new one, or use `hookgate admin create`.",
            ),
            E::RateLimited(r) => ApiError::rate_limited(r.retry_after_secs),
            E::SlugTaken => ApiError::conflict("slug_taken", "A source with this slug exists."),
            E::UnknownSource => {
                ApiError::not_found("unknown_source", "No enabled source has this address.")
            }
            E::SourceRefused { refusal, kind } => source_refusal(refusal, kind),
            E::ChallengeRefused => ApiError::forbidden(
                "invalid_verify_token",
                "hub.mode must be subscribe and hub.verify_token the source's verify token.",
            ),
            E::MethodNotAllowed => ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Only Meta sources answer GET (the subscription check); send webhooks with POST.",
            ),
            E::Webhook(r) => rejection(r),
            E::Recovery(r) => recovery_refusal(r),
            E::Storage(e) => e.into(),
            E::Internal => ApiError::internal(),
        }
    }
}

fn not_found(missing: Missing) -> ApiError {
    let (code, message) = match missing {
        Missing::Kyc => ("kyc_not_found", "No KYC submission with this id."),
        Missing::Merchant => ("merchant_not_found", "No merchant with this id."),
        Missing::Admin => ("admin_not_found", "No admin with this email."),
        Missing::Event => ("event_not_found", "No event with this id."),
        Missing::Order => ("order_not_found", "No such order."),
        Missing::Source => ("source_not_found", "No source with this id."),
        Missing::Destination => ("destination_not_found", "No destination with this id."),
        Missing::Delivery => ("delivery_not_found", "No delivery with this id."),
        Missing::Token => ("token_not_found", "No admin API token with this id."),
    };
    ApiError::not_found(code, message)
}

fn recovery_refusal(r: app::recovery::Refusal) -> ApiError {
    use app::recovery::Refusal;
    match r {
        Refusal::NotRetryable { status } if status == "succeeded" => ApiError::conflict(
            "delivery_not_retryable",
            "This delivery succeeded; only failed or pending ones are retried. To send succeeded \
             deliveries again, replay the destination with status \"succeeded\".",
        ),
        Refusal::NotRetryable { status } => ApiError::conflict(
            "delivery_not_retryable",
            format!("Only failed or pending deliveries can be retried; this one is {status}."),
        ),
        Refusal::InFlight => ApiError::conflict(
            "delivery_in_flight",
            "An attempt of this delivery is in flight; retry it once that attempt has reported.",
        ),
        Refusal::EventExpired => ApiError::conflict(
            "event_expired",
            "The event of this delivery is past retention and its body is gone; it cannot be sent again.",
        ),
        Refusal::EventNotAccepted => ApiError::conflict(
            "event_not_accepted",
            "This event was rejected at ingest; only accepted events are delivered.",
        ),
    }
}

fn source_refusal(refusal: Refusal, kind: Kind) -> ApiError {
    let label = kind.label();
    let message = match refusal {
        Refusal::MissingSignature => {
            format!("The request carries no {label} signature (or its timestamp).")
        }
        Refusal::InvalidSignature => format!(
            "The {label} signature does not match the body; check the secret configured for \
             this source."
        ),
        Refusal::TimestampOutOfTolerance => {
            "The signature's timestamp is outside the accepted window; check the sender's clock \
             or a replay."
                .to_string()
        }
    };
    ApiError::new(StatusCode::UNAUTHORIZED, refusal.code(), message)
}

fn rejection(r: Rejection) -> ApiError {
    let code = r.code();
    let unauthorized = |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, code, message);
    match r {
        Rejection::MissingHeaders(names) => {
            unauthorized(&format!("Missing header(s): {}.", names.join(", ")))
        }
        Rejection::WebhookIdTooLong => unauthorized("webhook-id is longer than 256 characters."),
        Rejection::UnknownKeyId => unauthorized("The X-API-Key is not a known key id."),
        Rejection::KycNotApproved => ApiError::forbidden(
            code,
            "This merchant's KYC is not approved; webhooks are refused.",
        ),
        Rejection::MalformedTimestamp => unauthorized("webhook-timestamp must be unix seconds."),
        Rejection::TimestampOutOfTolerance => unauthorized(
            "webhook-timestamp is outside the accepted window; check the sender's clock.",
        ),
        Rejection::InvalidSignature => {
            unauthorized("The webhook-signature does not match the body.")
        }
        Rejection::SecretExpired => unauthorized(
            "This webhook was signed with an expired secret; a new secret has been generated. \
             Fetch it from your dashboard or GET /api/v1/webhook/secret/ and sign with it.",
        ),
        Rejection::UnsupportedMediaType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code,
            "Send the webhook body as application/json.",
        ),
        Rejection::InvalidJson => ApiError::bad_request(code, "The body is not valid JSON."),
        Rejection::IdempotencyConflict => ApiError::conflict(
            code,
            "This webhook-id was already used with a different body.",
        ),
    }
}
