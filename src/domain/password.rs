//! Password policy.

/// A password that satisfies the policy: 12 to 1024 characters, not all the same character.
pub struct Password(String);

/// Minimum length, shown to users in forms and errors.
pub const MIN_PASSWORD_CHARS: usize = 12;

impl Password {
    pub fn parse(raw: &str) -> Result<Password, &'static str> {
        let chars = raw.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err("must be at least 12 characters");
        }
        if chars > 1024 {
            return Err("must be at most 1024 characters");
        }
        let mut it = raw.chars();
        let first = it.next();
        if it.all(|c| Some(c) == first) {
            return Err("must not be one character repeated");
        }
        Ok(Password(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Password;

    #[test]
    fn short_or_trivial_passwords_are_refused() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("aaaaaaaaaaaaaaaa").is_err());
        assert!(Password::parse("elevenchars").is_err());
        assert!(Password::parse("twelve chars").is_ok());
        assert!(Password::parse("ünïcödé-pässwörd").is_ok());
    }
}
