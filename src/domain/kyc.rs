//! The KYC state machine and submission validation.

use super::Violation;
use std::fmt;

/// Where a merchant stands in KYC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KycStatus {
    None,
    Pending,
    Approved,
    Rejected,
    ChangesRequested,
    Revoked,
}

/// What can happen to a KYC case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KycAction {
    Submit,
    Approve,
    Reject,
    RequestChanges,
    Revoke,
    /// An admin lifts a revocation: the merchant is approved again.
    Reinstate,
}

/// A refused transition, with the API code that describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransitionRefused {
    pub from: KycStatus,
    pub action: KycAction,
}

impl TransitionRefused {
    /// The snake_case error code for this refusal.
    pub fn code(&self) -> &'static str {
        match (self.action, self.from) {
            (KycAction::Submit, KycStatus::Pending) => "kyc_already_pending",
            (KycAction::Submit, KycStatus::Approved) => "kyc_already_approved",
            (KycAction::Submit, KycStatus::Revoked) => "kyc_revoked",
            _ => "invalid_transition",
        }
    }

    pub fn message(&self) -> String {
        match self.code() {
            "kyc_already_pending" => "A KYC submission is already waiting for review.".into(),
            "kyc_already_approved" => "KYC is already approved.".into(),
            "kyc_revoked" => "KYC was revoked; contact the operator.".into(),
            _ => format!("Cannot {} a KYC case that is {}.", self.action, self.from),
        }
    }
}

/// The one transition function of the KYC lifecycle.
pub fn transition(from: KycStatus, action: KycAction) -> Result<KycStatus, TransitionRefused> {
    use KycAction as A;
    use KycStatus as S;
    match (from, action) {
        (S::None | S::Rejected | S::ChangesRequested, A::Submit) => Ok(S::Pending),
        (S::Pending, A::Approve) => Ok(S::Approved),
        (S::Pending, A::Reject) => Ok(S::Rejected),
        (S::Pending, A::RequestChanges) => Ok(S::ChangesRequested),
        (S::Approved, A::Revoke) => Ok(S::Revoked),
        (S::Revoked, A::Reinstate) => Ok(S::Approved),
        _ => Err(TransitionRefused { from, action }),
    }
}

impl KycStatus {
    pub const ALL: [KycStatus; 6] = [
        KycStatus::None,
        KycStatus::Pending,
        KycStatus::Approved,
        KycStatus::Rejected,
        KycStatus::ChangesRequested,
        KycStatus::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KycStatus::None => "none",
            KycStatus::Pending => "pending",
            KycStatus::Approved => "approved",
            KycStatus::Rejected => "rejected",
            KycStatus::ChangesRequested => "changes_requested",
            KycStatus::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<KycStatus> {
        KycStatus::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The status as people read it.
    pub fn label(self) -> &'static str {
        match self {
            KycStatus::None => "Not submitted",
            KycStatus::Pending => "Waiting for review",
            KycStatus::Approved => "Approved",
            KycStatus::Rejected => "Rejected",
            KycStatus::ChangesRequested => "Changes requested",
            KycStatus::Revoked => "Revoked",
        }
    }
}

impl fmt::Display for KycStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl KycAction {
    pub fn as_str(self) -> &'static str {
        match self {
            KycAction::Submit => "submit",
            KycAction::Approve => "approve",
            KycAction::Reject => "reject",
            KycAction::RequestChanges => "request changes on",
            KycAction::Revoke => "revoke",
            KycAction::Reinstate => "reinstate",
        }
    }
}

impl fmt::Display for KycAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Accepted document kinds, decided by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Pdf,
    Png,
    Jpeg,
}

/// Largest accepted KYC document.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024 * 1024;

impl DocumentKind {
    /// Sniff the type from magic bytes; the client's Content-Type and file name are ignored.
    pub fn sniff(bytes: &[u8]) -> Option<DocumentKind> {
        if bytes.starts_with(b"%PDF-") {
            Some(DocumentKind::Pdf)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(DocumentKind::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(DocumentKind::Jpeg)
        } else {
            None
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            DocumentKind::Pdf => "application/pdf",
            DocumentKind::Png => "image/png",
            DocumentKind::Jpeg => "image/jpeg",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            DocumentKind::Pdf => "pdf",
            DocumentKind::Png => "png",
            DocumentKind::Jpeg => "jpg",
        }
    }

    pub fn from_mime(mime: &str) -> Option<DocumentKind> {
        [DocumentKind::Pdf, DocumentKind::Png, DocumentKind::Jpeg]
            .into_iter()
            .find(|k| k.mime() == mime)
    }
}

/// The text part of a KYC submission, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KycDetails {
    pub legal_name: String,
    pub registration_number: String,
    pub country: String,
    pub address: String,
    pub contact_phone: String,
}

/// Raw text fields as received (any may be missing).
#[derive(Debug, Default, Clone)]
pub struct KycForm {
    pub legal_name: Option<String>,
    pub registration_number: Option<String>,
    pub country: Option<String>,
    pub address: Option<String>,
    pub contact_phone: Option<String>,
}

impl KycForm {
    /// Validate every field, collecting all violations.
    pub fn validate(&self) -> Result<KycDetails, Vec<Violation>> {
        let mut v = Vec::new();
        let mut text = |field: &str, value: &Option<String>, max: usize| -> String {
            let value = value.as_deref().map(str::trim).unwrap_or("");
            if value.is_empty() {
                v.push(Violation::new(field, "is required"));
            } else if value.chars().count() > max {
                v.push(Violation::new(
                    field,
                    format!("must be at most {max} characters"),
                ));
            } else if value.chars().any(|c| c.is_control() && c != '\n') {
                v.push(Violation::new(field, "must not contain control characters"));
            }
            value.to_string()
        };
        let legal_name = text("legal_name", &self.legal_name, 200);
        let registration_number = text("registration_number", &self.registration_number, 64);
        let address = text("address", &self.address, 500);
        let country_raw = text("country", &self.country, 2);
        let phone_raw = text("contact_phone", &self.contact_phone, 32);
        let country = country_raw.to_ascii_uppercase();
        if !country.is_empty() && country.len() == 2 && !is_iso_country(&country) {
            v.push(Violation::new(
                "country",
                "must be an ISO 3166-1 alpha-2 code such as NG or DE",
            ));
        }
        // Empty and over-long values were reported by `text` already.
        let phone = match super::phone::parse_phone(&phone_raw) {
            Ok(phone) => phone,
            Err(m) => {
                if !phone_raw.is_empty() && phone_raw.chars().count() <= 32 {
                    v.push(Violation::new("contact_phone", m));
                }
                String::new()
            }
        };
        if !v.is_empty() {
            return Err(v);
        }
        Ok(KycDetails {
            legal_name,
            registration_number,
            country,
            address,
            contact_phone: phone,
        })
    }
}

/// ISO 3166-1 alpha-2 codes (249 officially assigned).
const ISO_COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI \
BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ \
DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU \
GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA \
LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA \
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB \
SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW \
TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

fn is_iso_country(code: &str) -> bool {
    ISO_COUNTRIES.split_ascii_whitespace().any(|c| c == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use KycAction as A;
    use KycStatus as S;

    #[test]
    fn every_allowed_transition_lands_where_expected() {
        let allowed = [
            (S::None, A::Submit, S::Pending),
            (S::Rejected, A::Submit, S::Pending),
            (S::ChangesRequested, A::Submit, S::Pending),
            (S::Pending, A::Approve, S::Approved),
            (S::Pending, A::Reject, S::Rejected),
            (S::Pending, A::RequestChanges, S::ChangesRequested),
            (S::Approved, A::Revoke, S::Revoked),
            (S::Revoked, A::Reinstate, S::Approved),
        ];
        for (from, action, to) in allowed {
            assert_eq!(transition(from, action), Ok(to), "{from} --{action}-->");
        }
    }

    #[test]
    fn every_other_transition_is_refused() {
        let actions = [
            A::Submit,
            A::Approve,
            A::Reject,
            A::RequestChanges,
            A::Revoke,
            A::Reinstate,
        ];
        let mut refused = 0;
        for from in S::ALL {
            for action in actions {
                let allowed = matches!(
                    (from, action),
                    (S::None | S::Rejected | S::ChangesRequested, A::Submit)
                        | (S::Pending, A::Approve | A::Reject | A::RequestChanges)
                        | (S::Approved, A::Revoke)
                        | (S::Revoked, A::Reinstate)
                );
                if !allowed {
                    assert_eq!(
                        transition(from, action),
                        Err(TransitionRefused { from, action })
                    );
                    refused += 1;
                }
            }
        }
        assert_eq!(refused, 6 * 6 - 8);
    }

    #[test]
    fn refused_submissions_have_the_contract_codes() {
        assert_eq!(
            transition(S::Pending, A::Submit).unwrap_err().code(),
            "kyc_already_pending"
        );
        assert_eq!(
            transition(S::Approved, A::Submit).unwrap_err().code(),
            "kyc_already_approved"
        );
        assert_eq!(
            transition(S::Revoked, A::Submit).unwrap_err().code(),
            "kyc_revoked"
        );
        assert_eq!(
            transition(S::Rejected, A::Approve).unwrap_err().code(),
            "invalid_transition"
        );
    }

    #[test]
    fn statuses_round_trip_through_strings() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
        }
        assert_eq!(S::parse("bogus"), None);
    }

    #[test]
    fn documents_are_typed_by_content() {
        assert_eq!(
            DocumentKind::sniff(b"%PDF-1.7\n..."),
            Some(DocumentKind::Pdf)
        );
        assert_eq!(
            DocumentKind::sniff(b"\x89PNG\r\n\x1a\nrest"),
            Some(DocumentKind::Png)
        );
        assert_eq!(
            DocumentKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(DocumentKind::Jpeg)
        );
        assert_eq!(DocumentKind::sniff(b"MZ\x90\x00 an exe named x.pdf"), None);
        assert_eq!(DocumentKind::sniff(b""), None);
    }

    #[test]
    fn the_country_list_is_complete() {
        assert_eq!(ISO_COUNTRIES.split_ascii_whitespace().count(), 249);
        assert!(is_iso_country("NG") && is_iso_country("DE") && !is_iso_country("XX"));
    }

    #[test]
    fn kyc_forms_report_all_violations_at_once() {
        let form = KycForm {
            legal_name: Some("  ".into()),
            registration_number: Some("RC123".into()),
            country: Some("Nigeria".into()),
            address: None,
            contact_phone: Some("call me".into()),
        };
        let fields: Vec<_> = form
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            ["legal_name", "address", "country", "contact_phone"]
        );

        let ok = KycForm {
            legal_name: Some("Acme Ltd".into()),
            registration_number: Some("RC123".into()),
            country: Some("ng".into()),
            address: Some("1 Main St".into()),
            contact_phone: Some("+234 812 345 6789".into()),
        }
        .validate()
        .unwrap();
        assert_eq!(ok.country, "NG");
        assert_eq!(ok.contact_phone, "+2348123456789");
    }
}
