//! Refusals of bad input, typed by the input they are about.
//!
//! A use case that refuses what it was given returns an [`InputError`]
//! (inside `anyhow::Error`, where callers downcast it) naming the [`Field`]
//! and the [`Problem`], in nobody's words: the same use case serves the
//! command line, where the hold time is `--until`, and a maintainer's
//! signed `HOLD`, whose time is the second word of its line. Each caller
//! renders the field in its own words with [`InputError::render`]
//! (`commands::flags` for the CLI, `app::commands` for mail replies), so a
//! member is never told about a flag they cannot type.

use std::fmt;

use crate::advisory::time::TimeError;
use crate::text::{Reason, TextError};

/// The input a use case refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The member acting for the operator (the CLI's `--by`).
    Actor,
    /// The member a change is about.
    Member,
    /// The member vouching for a new one.
    Sponsor,
    /// A new member's name.
    Name,
    /// A new member's organisation.
    Org,
    /// A sponsor's statement about a new member.
    Statement,
    /// A new member's certificate.
    Key,
    /// A member's replacement for their certificate.
    NewKey,
    /// An update of a member's current certificate (same primary key).
    KeyUpdate,
    /// Why a change is made, for the audit log.
    Reason,
    /// The time a hold moves a disclosure to.
    HoldUntil,
    /// An advisory's disclosure time.
    DiscloseAt,
    /// The time an advisory's first notice goes out.
    AnnounceAt,
    /// An advisory's title.
    Title,
    /// An advisory's severity.
    Severity,
    /// The product an advisory is about.
    Product,
    /// An advisory's description.
    Body,
    /// The member whose sealed copy a preview shows.
    PreviewFor,
    /// A member's note about an advisory (`ACK`).
    Note,
    /// An advisory's id.
    Advisory,
}

impl Field {
    /// Every field, for tests that hold a rendering to all of them.
    pub const ALL: [Field; 20] = [
        Field::Actor,
        Field::Member,
        Field::Sponsor,
        Field::Name,
        Field::Org,
        Field::Statement,
        Field::Key,
        Field::NewKey,
        Field::KeyUpdate,
        Field::Reason,
        Field::HoldUntil,
        Field::DiscloseAt,
        Field::AnnounceAt,
        Field::Title,
        Field::Severity,
        Field::Product,
        Field::Body,
        Field::PreviewFor,
        Field::Note,
        Field::Advisory,
    ];

    /// The field's plain name, for logs and the audit log, where no caller
    /// renders it.
    pub fn noun(self) -> &'static str {
        match self {
            Field::Actor => "acting member",
            Field::Member => "member address",
            Field::Sponsor => "sponsor address",
            Field::Name => "name",
            Field::Org => "organisation",
            Field::Statement => "statement",
            Field::Key => "member certificate",
            Field::NewKey => "new certificate",
            Field::KeyUpdate => "certificate update",
            Field::Reason => "reason",
            Field::HoldUntil => "hold time",
            Field::DiscloseAt => "disclosure time",
            Field::AnnounceAt => "announce time",
            Field::Title => "title",
            Field::Severity => "severity",
            Field::Product => "product",
            Field::Body => "body",
            Field::PreviewFor => "preview member",
            Field::Note => "note",
            Field::Advisory => "advisory id",
        }
    }
}

/// What is wrong with an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// It was not given; `doing` is what needs it ("removing a member").
    Missing { doing: &'static str },
    /// It was not given and `by` cannot do without it ("a new advisory").
    Required { by: &'static str },
    /// A time that is not of an accepted form.
    Time(TimeError),
    /// Text that is empty, too long or holds a control character.
    Text(TextError),
    /// A time that must be in the future is not.
    NotFuture,
    /// Refused for the reason given (an unreadable address, nobody with
    /// that address), which does not name the field itself.
    Refused(String),
}

/// A use case's refusal of one input. Displayed on its own (in a log or
/// the audit log) it uses [`Field::noun`]; callers use [`InputError::render`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InputError {
    pub field: Field,
    pub problem: Problem,
}

impl InputError {
    pub fn new(field: Field, problem: Problem) -> Self {
        Self { field, problem }
    }

    /// The input was needed for `doing` and not given.
    pub fn missing(field: Field, doing: &'static str) -> Self {
        Self::new(field, Problem::Missing { doing })
    }

    /// The input was refused for `why`.
    pub fn refused(field: Field, why: impl fmt::Display) -> Self {
        Self::new(field, Problem::Refused(why.to_string()))
    }

    /// The sentence a caller shows, with the field called `name`. A
    /// [`Problem::Refused`] is `name` followed by the reason after a colon.
    pub fn render(&self, name: &'static str) -> String {
        match &self.problem {
            Problem::Missing { doing } => format!("{doing} needs {name}"),
            Problem::Required { by } => format!("{name} is required for {by}"),
            Problem::Time(err) => err.named(name).to_string(),
            Problem::Text(err) => err.named(name).to_string(),
            Problem::NotFuture => format!("{name} must be in the future"),
            Problem::Refused(why) => format!("{name}: {why}"),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(self.field.noun()))
    }
}

/// Checks one line of text for `field` (see [`crate::text::single_line`]).
pub fn line(field: Field, text: &str, max: usize) -> Result<String, InputError> {
    crate::text::single_line(field.noun(), text, max)
        .map_err(|err| InputError::new(field, Problem::Text(err)))
}

/// Checks text of several lines for `field` (see
/// [`crate::text::multi_line`]).
pub fn lines(field: Field, text: &str, max: usize) -> Result<String, InputError> {
    crate::text::multi_line(field.noun(), text, max)
        .map_err(|err| InputError::new(field, Problem::Text(err)))
}

/// Checks a typed reason (see [`Reason::parse`]).
pub fn reason(text: &str) -> Result<Reason, InputError> {
    Reason::parse(text).map_err(|err| InputError::new(Field::Reason, Problem::Text(err)))
}

/// Reads an instant for `field` (see [`crate::advisory::time::parse_instant`]).
pub fn instant(field: Field, text: &str) -> Result<chrono::DateTime<chrono::Utc>, InputError> {
    crate::advisory::time::parse_instant(field.noun(), text)
        .map_err(|err| InputError::new(field, Problem::Time(err)))
}

/// Reads an address for `field`.
pub fn email(field: Field, text: &str) -> Result<crate::roster::Email, InputError> {
    crate::roster::Email::parse(text).map_err(|err| InputError::refused(field, err))
}

/// The [`InputError`] in `err`'s chain, if the refusal was about input.
pub fn input_error(err: &anyhow::Error) -> Option<&InputError> {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<InputError>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_caller_names_the_field_in_its_own_words() {
        let err = instant(Field::HoldUntil, "2026-06-10 14:00").unwrap_err();
        assert!(
            err.render("--until")
                .starts_with("--until \"2026-06-10 14:00\" has no UTC")
        );
        assert!(
            err.render("HOLD's time")
                .starts_with("HOLD's time \"2026-06-10")
        );
        assert!(err.to_string().starts_with("hold time \""));
        let err = line(Field::Reason, "a\nb", 10).unwrap_err();
        assert_eq!(
            err.render("HOLD's reason"),
            "HOLD's reason must be one line without control characters (found LF)"
        );
        let err = InputError::missing(Field::Reason, "removing a member");
        assert_eq!(err.render("--reason"), "removing a member needs --reason");
        let err = email(Field::Member, "nobody").unwrap_err();
        assert!(
            err.render("SUSPEND's address")
                .starts_with("SUSPEND's address: email address")
        );
    }
}
