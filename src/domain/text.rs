//! Bounds on free text that people type: names, reasons, notes.

use super::Violation;

/// Longest business name.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest reason or note of an admin decision.
pub const MAX_REASON_CHARS: usize = 2000;

/// A required, printable name of at most `MAX_NAME_CHARS`, trimmed.
pub fn name(field: &str, raw: Option<&str>) -> Result<String, Violation> {
    let name = raw.unwrap_or_default().trim();
    if name.is_empty() {
        return Err(Violation::new(field, "is required"));
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(Violation::new(
            field,
            format!("must be at most {MAX_NAME_CHARS} printable characters"),
        ));
    }
    Ok(name.to_string())
}

/// A required reason of at most `MAX_REASON_CHARS`, trimmed.
pub fn reason(raw: Option<&str>) -> Result<String, Violation> {
    let reason = raw.unwrap_or_default().trim();
    if reason.is_empty() {
        return Err(Violation::new("reason", "is required"));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(Violation::new(
            "reason",
            format!("must be at most {MAX_REASON_CHARS} characters"),
        ));
    }
    Ok(reason.to_string())
}

/// An optional note: blank means none.
pub fn optional_note(raw: Option<&str>) -> Result<Option<String>, Violation> {
    let note = raw.unwrap_or_default().trim();
    if note.chars().count() > MAX_REASON_CHARS {
        return Err(Violation::new(
            "note",
            format!("must be at most {MAX_REASON_CHARS} characters"),
        ));
    }
    Ok((!note.is_empty()).then(|| note.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_required_and_bounded() {
        assert_eq!(name("n", Some("  Acme ")).unwrap(), "Acme");
        assert_eq!(name("n", Some(" ")).unwrap_err().message, "is required");
        assert!(name("n", Some(&"x".repeat(201))).is_err());
        assert!(name("n", Some("a\u{7}b")).is_err());
    }

    #[test]
    fn reasons_are_required_and_notes_optional() {
        assert_eq!(reason(None).unwrap_err().field, "reason");
        assert_eq!(reason(Some(" why ")).unwrap(), "why");
        assert!(reason(Some(&"x".repeat(2001))).is_err());
        assert_eq!(optional_note(Some("  ")).unwrap(), None);
        assert_eq!(optional_note(Some("ok")).unwrap().as_deref(), Some("ok"));
    }
}
