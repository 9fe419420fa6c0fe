//! The text of every email hookgate sends. Pure functions: the outbox stores their result.

/// An email about to be written to the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// For an email carrying a one-time secret: kept readable until it is sent or until this
    /// time (unix seconds), whichever comes first, then redacted.
    pub redact_at: Option<i64>,
}

/// What a redacted email says instead of its subject and body.
pub const REDACTED_SUBJECT: &str = "[redacted] one-time code email";
pub const REDACTED_BODY: &str = "This email carried a one-time code. It was removed once the email was sent or the code expired.";

fn email(to: &str, subject: impl Into<String>, body: String) -> OutgoingEmail {
    OutgoingEmail {
        to: to.to_string(),
        subject: subject.into(),
        body,
        redact_at: None,
    }
}

/// The one-time email verification code, redacted from the outbox at `expires_at` at the latest.
pub fn verification_code(to: &str, code: &str, expires_at: i64, minutes: i64) -> OutgoingEmail {
    let mut message = email(
        to,
        format!("Your hookgate verification code: {code}"),
        format!(
            "Your verification code is {code}.\n\nIt expires in {minutes} minutes. If you did not \
         sign up for hookgate, ignore this email.\n"
        ),
    );
    message.redact_at = Some(expires_at);
    message
}

/// KYC approved: the merchant can fetch their signing secret.
pub fn kyc_approved(
    to: &str,
    business_name: &str,
    key_id: &str,
    public_url: &str,
) -> OutgoingEmail {
    email(
        to,
        "Your hookgate account is approved",
        format!(
            "Good news: the KYC review of {business_name} is approved.\n\nYour key id is {key_id}. \
         Your webhook signing secret is ready in your dashboard: {public_url}/\n"
        ),
    )
}

/// KYC rejected.
pub fn kyc_rejected(to: &str, reason: &str, public_url: &str) -> OutgoingEmail {
    email(
        to,
        "Your hookgate KYC submission was rejected",
        format!(
            "Your KYC submission was rejected.\n\nReason: {reason}\n\nYou may submit again: \
         {public_url}/\n"
        ),
    )
}

/// KYC needs changes.
pub fn kyc_changes_requested(to: &str, reason: &str, public_url: &str) -> OutgoingEmail {
    email(
        to,
        "Changes requested on your hookgate KYC submission",
        format!(
            "Our review asks for changes to your KYC submission.\n\nWhat to change: {reason}\n\n\
         Submit again here: {public_url}/\n"
        ),
    )
}

/// Approval revoked; secrets no longer verify.
pub fn kyc_revoked(to: &str, reason: &str) -> OutgoingEmail {
    email(
        to,
        "Your hookgate approval was revoked",
        format!(
            "Your KYC approval was revoked and your webhook signing secrets no longer verify.\n\n\
         Reason: {reason}\n"
        ),
    )
}

/// A successor secret was issued automatically.
pub fn secret_rotated(to: &str, old_valid_until: &str, public_url: &str) -> OutgoingEmail {
    email(
        to,
        "Your hookgate signing secret was rotated",
        format!(
            "A new webhook signing secret was issued because the current one is about to expire.\n\n\
         The previous secret keeps verifying until {old_valid_until}. Copy the new one from your \
         dashboard and deploy it before then: {public_url}/\n"
        ),
    )
}

/// Order confirmation / status update to the merchant's customer.
pub fn order_status(
    to: &str,
    business_name: &str,
    order_id: &str,
    status: crate::domain::order::TrackingStatus,
    created: bool,
) -> OutgoingEmail {
    let status = status.as_str().replace('_', " ").to_lowercase();
    if created {
        email(
            to,
            format!("Your order with {business_name} is confirmed"),
            format!(
                "Thank you for your order with {business_name}.\n\nOrder: {order_id}\nStatus: {status}\n\n\
             You will get an email each time its status changes.\n"
            ),
        )
    } else {
        email(
            to,
            format!("Your order with {business_name} is now {status}"),
            format!(
                "The status of your order {order_id} with {business_name} changed.\n\nStatus: {status}\n"
            ),
        )
    }
}

/// A webhook arrived signed with an expired secret; a replacement was issued.
pub fn secret_replaced(to: &str, public_url: &str) -> OutgoingEmail {
    email(
        to,
        "Your hookgate signing secret expired and was replaced",
        format!(
            "A webhook arrived signed with your expired secret and was refused. A new signing secret \
         has been generated: copy it from your dashboard and deploy it: {public_url}/\n"
        ),
    )
}
