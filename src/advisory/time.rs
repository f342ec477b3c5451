//! The instants and dates people type, and how they are shown.
//!
//! An embargo ends at an instant, so a time without an offset is refused:
//! "14:00" on a server that missed a daylight-saving change is how an
//! embargoed story went out an hour early elsewhere.

use chrono::{DateTime, NaiveDate, Utc};
use thiserror::Error;

/// The forms an instant may be typed in, for error messages.
pub const ACCEPTED_FORMS: &str =
    "2026-12-01T14:00:00Z, 2026-12-01T14:00Z, 2026-12-01T15:00:00+01:00 or 2026-12-01 14:00 +00:00";

/// The forms of [`ACCEPTED_FORMS`] that are one word, for a time written
/// in a mail command's line, whose words are split at spaces.
pub const ONE_WORD_FORMS: &str =
    "2026-12-01T14:00:00Z, 2026-12-01T14:00Z or 2026-12-01T15:00:00+01:00";

/// Why a typed instant or date was refused.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum TimeError {
    #[error("{what} {given:?} has no UTC offset; give one explicitly, e.g. {ACCEPTED_FORMS}")]
    NoOffset { what: &'static str, given: String },
    #[error("{what} {given:?} is not a time; accepted forms: {ACCEPTED_FORMS}")]
    Unparsable { what: &'static str, given: String },
    #[error("{what} {given:?} is not a date (expected YYYY-MM-DD)")]
    Date { what: &'static str, given: String },
}

impl TimeError {
    /// The same refusal with the input called `what`, so each caller can
    /// name it in its own words (a flag, a mail command's word).
    pub fn named(&self, what: &'static str) -> Self {
        let mut named = self.clone();
        match &mut named {
            TimeError::NoOffset { what: name, .. }
            | TimeError::Unparsable { what: name, .. }
            | TimeError::Date { what: name, .. } => *name = what,
        }
        named
    }
}

/// Parses an instant that must carry an offset (`Z` or `±HH:MM`).
pub fn parse_instant(what: &'static str, text: &str) -> Result<DateTime<Utc>, TimeError> {
    let given = text.trim();
    let mut normalized = given.replacen(' ', "T", 1).replace(' ', "");
    if normalized.ends_with(['Z', 'z']) {
        normalized.pop();
        normalized.push_str("+00:00");
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%z",
    ] {
        if let Ok(instant) = DateTime::parse_from_str(&normalized, format) {
            return Ok(instant.with_timezone(&Utc));
        }
    }
    let local = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d"];
    let looks_local = local.iter().any(|format| {
        chrono::NaiveDateTime::parse_from_str(&normalized, format).is_ok()
            || NaiveDate::parse_from_str(&normalized, format).is_ok()
    });
    if looks_local {
        Err(TimeError::NoOffset {
            what,
            given: given.to_owned(),
        })
    } else {
        Err(TimeError::Unparsable {
            what,
            given: given.to_owned(),
        })
    }
}

/// Parses a calendar date `YYYY-MM-DD`.
pub fn parse_date(what: &'static str, text: &str) -> Result<NaiveDate, TimeError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| TimeError::Date {
        what,
        given: text.trim().to_owned(),
    })
}

/// An instant as people read it in mail: `2026-12-01 14:00 UTC`.
pub fn format_utc(instant: DateTime<Utc>) -> String {
    instant.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("2026-12-01T14:00:00Z")]
    #[case("2026-12-01T14:00Z")]
    #[case("2026-12-01T15:00:00+01:00")]
    #[case("2026-12-01T09:00:00-05:00")]
    #[case("2026-12-01 14:00 +00:00")]
    #[case("2026-12-01T14:00:00.000Z")]
    fn instants_with_an_offset_are_accepted(#[case] text: &str) {
        let instant = parse_instant("disclosure time", text).expect("accepted");
        assert_eq!(format_utc(instant), "2026-12-01 14:00 UTC");
    }

    #[rstest]
    #[case("2026-12-01T14:00:00")]
    #[case("2026-12-01T14:00")]
    #[case("2026-12-01 14:00")]
    #[case("2026-12-01")]
    fn local_times_are_refused_with_the_accepted_forms(#[case] text: &str) {
        let err = parse_instant("disclosure time", text).expect_err("refused");
        assert!(matches!(err, TimeError::NoOffset { .. }), "{err}");
        assert!(err.to_string().contains("2026-12-01T14:00:00Z"));
    }

    #[test]
    fn nonsense_is_refused() {
        assert!(matches!(
            parse_instant("disclosure time", "next tuesday"),
            Err(TimeError::Unparsable { .. })
        ));
        assert!(parse_date("patch date", "2026-13-01").is_err());
        assert!(parse_date("patch date", "2026-12-01").is_ok());
    }
}
