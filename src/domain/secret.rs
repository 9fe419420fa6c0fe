//! Webhook signing secrets: the `whsec_` format and the lifecycle rules as functions of `now`.

use super::encoding::{b64, b64_decode};
use std::fmt;

const PREFIX: &str = "whsec_";
/// Length of the HMAC key behind a secret.
pub const SECRET_BYTES: usize = 32;

/// A Standard Webhooks secret: `whsec_` + base64 of the raw HMAC key.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// Wrap fresh random key bytes.
    pub fn from_bytes(bytes: [u8; SECRET_BYTES]) -> Self {
        WebhookSecret(bytes.to_vec())
    }

    /// Parse `whsec_<base64>` (the prefix is optional, as in the Standard Webhooks libraries).
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let b64_part = raw.trim().strip_prefix(PREFIX).unwrap_or(raw.trim());
        let key = b64_decode(b64_part).ok_or("is not whsec_ followed by base64")?;
        if key.len() < 24 || key.len() > 64 {
            return Err("must decode to 24 to 64 bytes");
        }
        Ok(WebhookSecret(key))
    }

    /// The HMAC key bytes.
    pub fn key(&self) -> &[u8] {
        &self.0
    }

    /// The form shown to merchants.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}", b64(&self.0))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// What the lifecycle needs to know about one stored secret (times in unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretTimes {
    pub created_at: i64,
    pub expires_at: i64,
    /// Set when a successor was issued.
    pub superseded_at: Option<i64>,
    /// End of the grace period of a manually superseded secret (None: valid until expiry).
    pub grace_until: Option<i64>,
    pub revoked: bool,
}

/// Why a secret does not verify at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretState {
    /// The merchant's newest secret, valid.
    Current,
    /// Superseded, still verifying until `until`.
    InGrace {
        until: i64,
    },
    /// Past its expiry (it may have been the current one).
    Expired,
    /// Superseded and past its grace.
    Retired,
    Revoked,
}

impl SecretTimes {
    /// The secret's state at `now`.
    pub fn state_at(&self, now: i64) -> SecretState {
        if self.revoked {
            return SecretState::Revoked;
        }
        let valid_until = self.valid_until();
        match self.superseded_at {
            None if now < self.expires_at => SecretState::Current,
            None => SecretState::Expired,
            Some(_) if now < valid_until => SecretState::InGrace { until: valid_until },
            Some(_) if self.grace_until.is_some_and(|g| g < self.expires_at) => {
                SecretState::Retired
            }
            Some(_) => SecretState::Expired,
        }
    }

    /// Whether signatures made with this secret are accepted at `now`.
    pub fn verifies_at(&self, now: i64) -> bool {
        matches!(
            self.state_at(now),
            SecretState::Current | SecretState::InGrace { .. }
        )
    }

    /// The last moment (exclusive) this secret verifies, ignoring revocation.
    pub fn valid_until(&self) -> i64 {
        match self.grace_until {
            Some(g) => g.min(self.expires_at),
            None => self.expires_at,
        }
    }
}

/// Whether the current secret must be succeeded at `now`: within `rotate_before` of its expiry
/// (automatic rotation), or already expired.
pub fn rotation_due(current: &SecretTimes, now: i64, rotate_before_secs: i64) -> bool {
    !current.revoked
        && current.superseded_at.is_none()
        && now >= current.expires_at - rotate_before_secs
}

/// How a secret is superseded by a successor issued at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The merchant asked: the old secret verifies for `grace` more seconds (never past expiry).
    Manual { grace_secs: i64 },
    /// The rotation job: the old secret verifies until its own expiry.
    Automatic,
}

/// The `grace_until` to store on the superseded secret.
pub fn grace_after_rotation(old: &SecretTimes, now: i64, rotation: Rotation) -> Option<i64> {
    match rotation {
        Rotation::Manual { grace_secs } => Some((now + grace_secs).min(old.expires_at)),
        Rotation::Automatic => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(created: i64, ttl: i64) -> SecretTimes {
        SecretTimes {
            created_at: created,
            expires_at: created + ttl,
            superseded_at: None,
            grace_until: None,
            revoked: false,
        }
    }

    #[test]
    fn secrets_round_trip_through_the_whsec_form() {
        let s = WebhookSecret::from_bytes([42u8; 32]);
        let shown = s.expose();
        assert!(shown.starts_with("whsec_"));
        assert_eq!(WebhookSecret::parse(&shown).unwrap(), s);
        assert!(WebhookSecret::parse("whsec_!!!").is_err());
        assert!(
            WebhookSecret::parse("whsec_YWJj").is_err(),
            "3 bytes is too short"
        );
        assert!(!format!("{s:?}").contains(&shown[6..]));
    }

    #[test]
    fn a_current_secret_verifies_until_expiry_and_not_after() {
        let s = fresh(1000, 100);
        assert_eq!(s.state_at(1000), SecretState::Current);
        assert!(s.verifies_at(1099));
        assert_eq!(s.state_at(1100), SecretState::Expired);
        assert!(!s.verifies_at(1100));
    }

    #[test]
    fn a_manually_rotated_secret_verifies_through_its_grace_only() {
        let mut s = fresh(1000, 100);
        s.superseded_at = Some(1010);
        s.grace_until = grace_after_rotation(&s, 1010, Rotation::Manual { grace_secs: 20 });
        assert_eq!(s.grace_until, Some(1030));
        assert_eq!(s.state_at(1029), SecretState::InGrace { until: 1030 });
        assert_eq!(s.state_at(1030), SecretState::Retired);
        assert!(!s.verifies_at(1030));
    }

    #[test]
    fn grace_never_outlives_expiry() {
        let s = fresh(1000, 100);
        assert_eq!(
            grace_after_rotation(&s, 1090, Rotation::Manual { grace_secs: 50 }),
            Some(1100)
        );
    }

    #[test]
    fn an_automatically_rotated_secret_verifies_until_its_own_expiry() {
        let mut s = fresh(1000, 100);
        s.superseded_at = Some(1080);
        s.grace_until = grace_after_rotation(&s, 1080, Rotation::Automatic);
        assert_eq!(s.state_at(1099), SecretState::InGrace { until: 1100 });
        assert_eq!(s.state_at(1100), SecretState::Expired);
    }

    #[test]
    fn revoked_secrets_never_verify() {
        let mut s = fresh(1000, 100);
        s.revoked = true;
        assert_eq!(s.state_at(1001), SecretState::Revoked);
        assert!(!s.verifies_at(1001));
    }

    #[test]
    fn rotation_is_due_within_rotate_before_of_expiry() {
        let s = fresh(1000, 100);
        assert!(!rotation_due(&s, 1079, 20));
        assert!(rotation_due(&s, 1080, 20));
        assert!(
            rotation_due(&s, 5000, 20),
            "an expired current secret is due too"
        );
        let mut old = s;
        old.superseded_at = Some(1080);
        assert!(
            !rotation_due(&old, 1090, 20),
            "a superseded secret is not rotated again"
        );
    }
}
