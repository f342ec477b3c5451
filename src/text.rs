//! Checks for text that people type and that later lands in mail headers,
//! logs or the audit log.
//!
//! A value that will ever be placed in a header must not be able to create
//! or split one, so single-line fields refuse every control character
//! (CR, LF and NUL among them) instead of trying to repair them.

use thiserror::Error;

/// Why a piece of typed text was refused.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum TextError {
    /// The value was empty after trimming.
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    /// A one-line value holds a control character such as CR, LF or NUL.
    #[error("{field} must be one line without control characters (found {found})")]
    ControlCharacter { field: &'static str, found: String },
    /// A multi-line value holds a control character other than a line
    /// break or a tab (NUL, BEL, ESC…).
    #[error(
        "{field} contains the control character {found}; only line breaks and tabs are allowed"
    )]
    ForbiddenControl { field: &'static str, found: String },
    /// The value is longer than the field allows.
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
}

impl TextError {
    /// The same refusal with the field called `name`, so each caller can
    /// name it in its own words (a flag, a mail command's word).
    pub fn named(&self, name: &'static str) -> Self {
        let mut named = self.clone();
        match &mut named {
            TextError::Empty { field }
            | TextError::ControlCharacter { field, .. }
            | TextError::ForbiddenControl { field, .. }
            | TextError::TooLong { field, .. } => *field = name,
        }
        named
    }
}

/// Trims `value` and checks that it is one non-empty line of at most `max`
/// characters without control characters.
pub fn single_line(field: &'static str, value: &str, max: usize) -> Result<String, TextError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(TextError::Empty { field });
    }
    if let Some(found) = trimmed.chars().find(|c| c.is_control()) {
        return Err(TextError::ControlCharacter {
            field,
            found: describe(found),
        });
    }
    if trimmed.chars().count() > max {
        return Err(TextError::TooLong { field, max });
    }
    Ok(trimmed.to_owned())
}

/// Trims `value` and checks that it holds no control characters other than
/// line feeds and tabs; CRLF line ends are normalised to LF.
pub fn multi_line(field: &'static str, value: &str, max: usize) -> Result<String, TextError> {
    let normalised = value.replace("\r\n", "\n");
    let trimmed = normalised.trim();
    if trimmed.is_empty() {
        return Err(TextError::Empty { field });
    }
    if let Some(found) = trimmed
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')
    {
        return Err(TextError::ForbiddenControl {
            field,
            found: describe(found),
        });
    }
    if trimmed.chars().count() > max {
        return Err(TextError::TooLong { field, max });
    }
    Ok(trimmed.to_owned())
}

/// Why someone made a change (held a disclosure, cancelled an advisory,
/// broke an embargo early, suspended or removed a member), as they typed it
/// for the audit log: one line of at most [`Reason::MAX`] characters
/// without control characters. It is checked once, where the input is
/// read, and crosses every seam after that as this type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    /// The longest reason, in characters.
    pub const MAX: usize = 1000;

    /// Checks a typed reason (trimmed; see [`single_line`]).
    pub fn parse(text: &str) -> Result<Self, TextError> {
        single_line("reason", text, Self::MAX).map(Reason)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Folds `text` into one line for a header: every control character (CR,
/// LF, NUL…) becomes a space and runs of white space shrink to one, so no
/// value can start or split a header, whatever was checked before.
pub fn fold_line(text: &str) -> String {
    let spaced: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn describe(c: char) -> String {
    match c {
        '\r' => "CR".to_owned(),
        '\n' => "LF".to_owned(),
        '\0' => "NUL (U+0000)".to_owned(),
        '\u{1b}' => "ESC (U+001B)".to_owned(),
        other => format!("U+{:04X}", u32::from(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_one_checked_line() {
        assert_eq!(
            Reason::parse("  patch slipped ").map(|r| r.to_string()),
            Ok("patch slipped".to_owned())
        );
        assert!(Reason::parse("a\nb").is_err());
        assert!(Reason::parse("").is_err());
        assert!(Reason::parse(&"x".repeat(Reason::MAX + 1)).is_err());
        assert!(Reason::parse(&"x".repeat(Reason::MAX)).is_ok());
    }

    #[test]
    fn single_line_refuses_every_line_break_and_nul() {
        for bad in ["a\rb", "a\nb", "a\r\nBcc: x@y.z", "a\0b", "a\u{0085}b"] {
            assert!(
                matches!(
                    single_line("name", bad, 100),
                    Err(TextError::ControlCharacter { .. })
                ),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn single_line_trims_and_keeps_unicode() {
        assert_eq!(
            single_line("name", "  Zoë Ünal ", 100).as_deref(),
            Ok("Zoë Ünal")
        );
    }

    #[test]
    fn multi_line_keeps_paragraphs_but_not_other_controls() {
        assert_eq!(
            multi_line("statement", "one\r\ntwo\n", 100).as_deref(),
            Ok("one\ntwo")
        );
        assert!(multi_line("statement", "one\u{7}two", 100).is_err());
    }

    /// A NUL byte in a statement was reported as "must be one line",
    /// which a multi-line field is not asked to be.
    #[test]
    fn a_control_character_in_a_multi_line_field_is_named_as_such() {
        for (bad, named) in [
            ("one\0two", "NUL"),
            ("one\ntwo\u{7}", "U+0007"),
            ("x\u{1b}[31m", "ESC"),
            ("a\rb", "CR"),
        ] {
            let err = multi_line("statement", bad, 100).expect_err(bad);
            let text = err.to_string();
            assert!(text.contains(named), "{bad:?}: {text}");
            assert!(text.contains("control character"), "{text}");
            assert!(!text.contains("one line"), "{text}");
        }
    }

    #[test]
    fn limits_are_enforced() {
        assert_eq!(
            single_line("name", "   ", 10),
            Err(TextError::Empty { field: "name" })
        );
        assert_eq!(
            single_line("name", "abcdef", 5),
            Err(TextError::TooLong {
                field: "name",
                max: 5
            })
        );
    }
}
