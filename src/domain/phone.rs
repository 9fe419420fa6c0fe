//! Phone numbers: E.164-like, with the usual separators allowed on input.

/// The message for a number that does not parse.
pub const PHONE_HINT: &str = "must be a phone number such as +2348123456789";

/// Parse a phone number: spaces, dashes, dots and parentheses are dropped; what remains is an
/// optional `+` and 7 to 15 digits. Returns the compact form.
pub fn parse_phone(raw: &str) -> Result<String, &'static str> {
    let compact: String = raw.chars().filter(|c| !" -().".contains(*c)).collect();
    let digits = compact.strip_prefix('+').unwrap_or(&compact);
    if (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(compact)
    } else {
        Err(PHONE_HINT)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_phone;

    #[test]
    fn numbers_are_compacted_and_bounded() {
        assert_eq!(
            parse_phone("+234 812 345-6789").as_deref(),
            Ok("+2348123456789")
        );
        assert_eq!(parse_phone("(030) 1234567").as_deref(), Ok("0301234567"));
        for bad in [
            "",
            "+",
            "123456",
            "1234567890123456",
            "call me",
            "+12 34a5678",
        ] {
            assert!(parse_phone(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
