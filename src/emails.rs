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

/// A revoked merchant is approved again, with a new signing secret.
pub fn kyc_reinstated(to: &str, key_id: &str, reason: &str, public_url: &str) -> OutgoingEmail {
    email(
        to,
        "Your hookgate approval is reinstated",
        format!(
            "Your KYC approval is reinstated and webhooks are accepted again.\n\nReason: {reason}\n\n\
         Your key id is still {key_id}. A new webhook signing secret was issued (the revoked ones \
         stay revoked): copy it from your dashboard and deploy it: {public_url}/\n"
        ),
    )
}

/// The one-time password reset code, redacted from the outbox at `expires_at` at the latest.
pub fn password_reset_code(to: &str, code: &str, expires_at: i64, minutes: i64) -> OutgoingEmail {
    let mut message = email(
        to,
        format!("Your hookgate password reset code: {code}"),
        format!(
            "Your password reset code is {code}.\n\nIt expires in {minutes} minutes and works once. \
         If you did not ask to reset your password, ignore this email: your password stays as it \
         is.\n"
        ),
    );
    message.redact_at = Some(expires_at);
    message
}

/// The password of a merchant account was reset.
pub fn password_changed(to: &str, public_url: &str) -> OutgoingEmail {
    email(
        to,
        "Your hookgate password was changed",
        format!(
            "The password of your hookgate account was just reset with a code sent to this \
         address. Every session and API token of the account was ended.\n\nIf this was not you, \
         reset your password again at once: {public_url}/password/forgot\n"
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

/// What happened to a destination, for the alert its admins get (CONTRACT section 10, "Dead
/// letters and alerts"). Times are RFC 3339.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestinationAlert<'a> {
    pub destination_id: &'a str,
    pub name: &'a str,
    /// When it happened.
    pub at: &'a str,
    /// Its circuit opened, until this moment.
    pub circuit_open_until: Option<&'a str>,
    /// It was disabled by its own answer, for this reason (`gone`).
    pub disabled_reason: Option<&'a str>,
    /// Deliveries that failed their last attempt (dead letters).
    pub dead_letters: u32,
}

/// A destination needs an admin: what happened, when, and where to look.
pub fn destination_alert(to: &str, a: &DestinationAlert<'_>, public_url: &str) -> OutgoingEmail {
    // The name is the admins' own text; a line break would break the subject header.
    let name: String = a
        .name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let id = a.destination_id;
    let mut summary = Vec::new();
    let mut happened = String::new();
    if let Some(reason) = a.disabled_reason {
        summary.push(format!("was disabled ({reason})"));
        let cause = if reason == "gone" {
            "it answered 410 Gone and was disabled".to_string()
        } else {
            format!("it was disabled ({reason})")
        };
        happened.push_str(&format!(
            "- {cause}. Its deliveries wait, without using attempts, until it is enabled again.\n"
        ));
    }
    if let Some(until) = a.circuit_open_until {
        summary.push("has its circuit open".to_string());
        happened.push_str(&format!(
            "- its circuit opened after consecutive failed attempts. Nothing is sent to it until \
             {until}; then one probe decides.\n"
        ));
    }
    if a.dead_letters > 0 {
        let n = a.dead_letters;
        let deliveries = if n == 1 { "delivery" } else { "deliveries" };
        summary.push(format!("has {n} failed {deliveries}"));
        happened.push_str(&format!(
            "- {n} {deliveries} failed the last attempt: dead letters, kept until retried or \
             replayed.\n"
        ));
    }
    let api = format!("{public_url}/api/v1/admin");
    let mut look = format!(
        "- In the admin console: {public_url}/admin/destinations/{id}\n\
         - The destination and its queue: {api}/destinations/{id}\n\
         - Its deliveries and their attempts: {api}/deliveries?destination_id={id}\n"
    );
    if a.disabled_reason.is_some() {
        look.push_str(&format!(
            "- Once it is fixed, enable it again: PATCH {api}/destinations/{id} with \
             {{\"enabled\": true}}\n"
        ));
    }
    if a.dead_letters > 0 {
        look.push_str(&format!(
            "- Send the failed deliveries again: POST {api}/destinations/{id}/replay with \
             {{\"status\": \"failed\"}}\n"
        ));
    }
    email(
        to,
        format!("hookgate alert: destination {name} {}", summary.join(", ")),
        format!(
            "Destination {name} ({id}) needs attention.\n\nAt {}:\n{happened}\nWhere to look:\n\
             {look}\nYou will not get another alert about this destination for an hour.\n",
            a.at
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destination_alert_says_what_happened_when_and_where_to_look() {
        let alert = DestinationAlert {
            destination_id: "dst_1",
            name: "Fulfil\r\nment",
            at: "2030-01-01T00:00:00Z",
            circuit_open_until: Some("2030-01-01T00:01:00Z"),
            disabled_reason: Some("gone"),
            dead_letters: 2,
        };
        let e = destination_alert("root@x.example", &alert, "https://hg.example");
        assert_eq!(e.to, "root@x.example");
        assert!(!e.subject.contains(['\r', '\n']), "{}", e.subject);
        assert!(
            e.subject.contains("Fulfil  ment was disabled (gone)"),
            "{}",
            e.subject
        );
        for part in [
            "At 2030-01-01T00:00:00Z",
            "410 Gone",
            "until 2030-01-01T00:01:00Z",
            "2 deliveries failed",
            "https://hg.example/api/v1/admin/destinations/dst_1",
            "https://hg.example/api/v1/admin/deliveries?destination_id=dst_1",
            "{\"enabled\": true}",
            "/replay",
            "for an hour",
        ] {
            assert!(e.body.contains(part), "{part} in\n{}", e.body);
        }
        let dead = DestinationAlert {
            circuit_open_until: None,
            disabled_reason: None,
            dead_letters: 1,
            ..alert
        };
        let e = destination_alert("a@x.example", &dead, "u");
        assert!(
            e.subject.ends_with("has 1 failed delivery"),
            "{}",
            e.subject
        );
        assert!(!e.body.contains("enabled"), "{}", e.body);
    }
}
