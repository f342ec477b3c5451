//! Member addresses.
//!
//! An address is the key people use to name a member on the command line,
//! so it is compared case-insensitively. It will also be written into the
//! `To` header and the SMTP `RCPT TO`, so anything that could create a new
//! header or recipient (CR, LF, NUL, spaces, angle brackets, commas) is
//! refused rather than cleaned up.

use std::fmt;

use serde::Serialize;
use thiserror::Error;

/// Why an address was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum EmailError {
    #[error("email address must not be empty")]
    Empty,
    #[error("email address {0:?} contains a control character (CR, LF, NUL or similar)")]
    ControlCharacter(String),
    #[error("email address {0:?} must have exactly one @ between a local part and a domain")]
    Shape(String),
    #[error("email address {0:?} has no domain (expected local@example.org)")]
    NoDomain(String),
    #[error("email address {0:?} contains {1:?}, which is not allowed in an address here")]
    Character(String, char),
    #[error("email address {0:?} is longer than 254 characters")]
    TooLong(String),
    #[error(
        "email address {0:?} has a local part (before the @) longer than 64 characters (RFC 5321)"
    )]
    LocalPartTooLong(String),
}

/// A checked email address. `Display` shows it as typed; equality and the
/// roster's uniqueness use [`Email::normalized`].
#[derive(Debug, Clone, Serialize)]
#[serde(into = "String")]
pub struct Email {
    as_typed: String,
    normalized: String,
}

impl Email {
    /// Checks `text` and returns the address.
    pub fn parse(text: &str) -> Result<Self, EmailError> {
        let text = text.trim_matches([' ', '\t']);
        if text.is_empty() {
            return Err(EmailError::Empty);
        }
        if text.chars().any(char::is_control) {
            return Err(EmailError::ControlCharacter(
                text.escape_debug().to_string(),
            ));
        }
        if text.len() > 254 {
            return Err(EmailError::TooLong(text.to_owned()));
        }
        let Some((local, domain)) = text.split_once('@') else {
            return Err(EmailError::NoDomain(text.to_owned()));
        };
        if domain.is_empty() {
            return Err(EmailError::NoDomain(text.to_owned()));
        }
        if local.is_empty() || domain.contains('@') {
            return Err(EmailError::Shape(text.to_owned()));
        }
        // RFC 5321 4.5.3.1.1: servers may refuse longer local parts, so
        // mail to one could be lost; the whole address is bounded above.
        if local.len() > 64 {
            return Err(EmailError::LocalPartTooLong(text.to_owned()));
        }
        if let Some(bad) = local.chars().find(|c| !is_local_char(*c)) {
            return Err(EmailError::Character(text.to_owned(), bad));
        }
        if let Some(bad) = domain
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
        {
            return Err(EmailError::Character(text.to_owned(), bad));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels
                .iter()
                .any(|label| label.is_empty() || label.starts_with('-') || label.ends_with('-'))
        {
            return Err(EmailError::NoDomain(text.to_owned()));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(EmailError::Shape(text.to_owned()));
        }
        Ok(Self {
            as_typed: text.to_owned(),
            normalized: text.to_ascii_lowercase(),
        })
    }

    /// An address read back from the roster only to be shown (a listing),
    /// not checked again: it was checked when it was stored, and nothing
    /// built from a listing reaches a mail header.
    pub fn displayed(stored: String) -> Self {
        let normalized = stored.to_ascii_lowercase();
        Self {
            as_typed: stored,
            normalized,
        }
    }

    /// The address as it was typed.
    pub fn as_str(&self) -> &str {
        &self.as_typed
    }

    /// The lower-case form used for comparison and uniqueness.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// The domain part, lower case.
    pub fn domain(&self) -> &str {
        self.normalized
            .split_once('@')
            .map(|(_, domain)| domain)
            .unwrap_or_default()
    }

    /// Whether this is one of the list's own addresses: the list, its
    /// request address, or the `-request`, `-owner` and `-bounces`
    /// addresses beside the list's (with any VERP suffix,
    /// `-bounces+…`). Mail to such a member would loop back into the list.
    pub fn is_list_address(&self, list: &Email, request: &Email) -> bool {
        if self == list || self == request {
            return true;
        }
        if self.domain() != list.domain() {
            return false;
        }
        let local = self.local_part().to_ascii_lowercase();
        let base = list.local_part().to_ascii_lowercase();
        let Some(suffix) = local.strip_prefix(&format!("{base}-")) else {
            return false;
        };
        matches!(suffix, "request" | "owner" | "bounces") || suffix.starts_with("bounces+")
    }

    /// The local part as typed.
    pub fn local_part(&self) -> &str {
        self.as_typed
            .split_once('@')
            .map(|(local, _)| local)
            .unwrap_or_default()
    }
}

/// The characters RFC 5322 allows in an unquoted local part (`atext` and
/// dots). Quoted local parts are not accepted: nobody on a security list
/// needs one, and they are a classic source of parser disagreements.
fn is_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c)
}

impl PartialEq for Email {
    fn eq(&self, other: &Self) -> bool {
        self.normalized == other.normalized
    }
}

impl Eq for Email {}

impl std::hash::Hash for Email {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.normalized.hash(state);
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_typed)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> Self {
        email.as_typed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("alice@example.org")]
    #[case("Alice.Smith+security@Mail.Example.ORG")]
    #[case("o'brien@vendor.example")]
    fn good_addresses_are_accepted(#[case] text: &str) {
        let email = Email::parse(text).expect("valid address");
        assert_eq!(email.as_str(), text);
        assert_eq!(email.normalized(), text.to_ascii_lowercase());
    }

    #[rstest]
    #[case("", "empty")]
    #[case("alice", "no domain")]
    #[case("alice@", "no domain")]
    #[case("alice@localhost", "no domain")]
    #[case("@example.org", "exactly one @")]
    #[case("a@b@example.org", "exactly one @")]
    #[case("alice@example.org\r\nBcc: eve@evil.example", "control character")]
    #[case("alice@example.org\nx", "control character")]
    #[case("alice\0@example.org", "control character")]
    #[case("alice smith@example.org", "not allowed")]
    #[case("<alice@example.org>", "not allowed")]
    #[case("alice,eve@example.org", "not allowed")]
    #[case("alice@exa mple.org", "not allowed")]
    #[case("alice@-example.org", "no domain")]
    #[case(".alice@example.org", "exactly one @")]
    fn bad_addresses_are_refused_with_a_reason(#[case] text: &str, #[case] reason: &str) {
        let err = Email::parse(text).expect_err("must be refused");
        assert!(
            err.to_string().contains(reason),
            "{text:?}: {err} does not mention {reason:?}"
        );
    }

    /// Local parts over 64 octets were accepted although RFC 5321 lets
    /// servers refuse them; the 254-octet bound on the whole address holds
    /// next to it.
    #[test]
    fn local_parts_over_64_octets_are_refused() {
        let at_limit = format!("{}@example.org", "a".repeat(64));
        assert!(Email::parse(&at_limit).is_ok());
        let over = format!("{}@example.org", "a".repeat(65));
        let err = Email::parse(&over).expect_err("65 octets");
        assert!(err.to_string().contains("longer than 64"), "{err}");
        let long_domain = format!("a@{}.example", "b".repeat(250));
        assert!(matches!(
            Email::parse(&long_domain),
            Err(EmailError::TooLong(_))
        ));
        let just_254 = format!(
            "{}@{}.{}.{}.org",
            "a".repeat(64),
            "b".repeat(60),
            "c".repeat(60),
            "d".repeat(63)
        );
        assert_eq!(just_254.len(), 254);
        assert!(Email::parse(&just_254).is_ok());
        assert!(Email::parse(&format!("a{just_254}")).is_err());
    }

    /// The list's own addresses were accepted as member addresses.
    #[rstest]
    #[case("security-announce@project.example", true)]
    #[case("Security-Announce-Request@project.example", true)]
    #[case("security-announce-bounces@project.example", true)]
    #[case("security-announce-bounces+42-abcdef@project.example", true)]
    #[case("security-announce-owner@project.example", true)]
    #[case("requests@project.example", true)]
    #[case("security-announce-bounces@other.example", false)]
    #[case("security-announcer@project.example", false)]
    #[case("alice@project.example", false)]
    fn the_lists_own_addresses_are_recognised(#[case] text: &str, #[case] own: bool) {
        let list = Email::parse("security-announce@project.example").expect("list");
        let request = Email::parse("requests@project.example").expect("request");
        let email = Email::parse(text).expect("address");
        assert_eq!(email.is_list_address(&list, &request), own, "{text}");
    }

    #[test]
    fn comparison_ignores_case() {
        let a = Email::parse("Alice@Example.org").expect("valid");
        let b = Email::parse("alice@example.ORG").expect("valid");
        assert_eq!(a.normalized(), b.normalized());
        assert_eq!(a.domain(), "example.org");
        assert_eq!(a.local_part(), "Alice");
    }
}
