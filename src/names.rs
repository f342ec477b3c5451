//! Closed sets of words: the enums whose values are typed by people,
//! written into the database and shown back (roles, statuses, kinds,
//! severities, delivery states…), and the one macro that gives each of
//! them its name, `Display` and `FromStr`.
//!
//! Domain code: no IO. Before this module every such enum wrote the same
//! three blocks by hand (a `match` from variant to word, a `Display` that
//! writes it, a `FromStr` that finds it again, and a hand-typed list of the
//! words for its error message), and the copies had begun to differ: one
//! parsed case-sensitively, some had no `Display` or no `FromStr`.
//! [`named_enum!`] generates them from one table, so the word a value is
//! written as, the word it is read back from and the words an error lists
//! cannot disagree.

/// A word that is not one of a closed set's, and the words that are.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown {what} {given:?} (expected one of: {expected})")]
pub struct UnknownName {
    /// What the set is called in the message ("role", "severity").
    pub what: &'static str,
    /// The text as it was given, untrimmed.
    pub given: String,
    /// The set's words, comma-separated, in table order.
    pub expected: &'static str,
}

/// Finds the value whose word (or one of whose other accepted spellings)
/// is `text`, ignoring ASCII case and surrounding white space, or says
/// which words are accepted. This is the one place the rule lives; the
/// `FromStr` that [`named_enum!`] generates calls it.
pub fn find_name<T: Copy>(
    table: &[(T, &[&str])],
    what: &'static str,
    expected: &'static str,
    text: &str,
) -> Result<T, UnknownName> {
    let word = text.trim();
    table
        .iter()
        .find(|(_, words)| words.iter().any(|known| known.eq_ignore_ascii_case(word)))
        .map(|(value, _)| *value)
        .ok_or_else(|| UnknownName {
            what,
            given: text.to_owned(),
            expected,
        })
}

/// Gives an existing fieldless enum its words, from one table:
///
/// ```text
/// named_enum! {
///     /// The name as typed and shown.
///     pub fn as_str for Severity, "severity" {
///         Low => "low",
///         High => "high" | "important",
///     }
/// }
/// ```
///
/// It generates, with the visibility given:
/// - the method named in the header (`as_str`, or `name`, as the enum
///   has always called it) from each variant to its word;
/// - `ALL`, every variant in table order (the order words are listed and
///   shown in);
/// - `Display`, which writes the word;
/// - `FromStr`, with [`UnknownName`] as its error: a word is found whatever
///   its ASCII case and surrounding white space, and so is any spelling
///   after `|` (accepted, never written); anything else is refused with
///   `unknown severity "x" (expected one of: low, high)`, the set's name
///   being the string after the enum.
///
/// The enum itself stays written out where it is, with its documentation
/// and derives; the table's `match` is exhaustive, so a variant added to
/// the enum and not to the table does not compile. Use it as
/// `crate::names::named_enum!`.
macro_rules! named_enum {
    (
        $(#[$doc:meta])*
        $vis:vis fn $method:ident for $enum:ty, $what:literal {
            $($variant:ident => $word:literal $(| $alias:literal)*),+ $(,)?
        }
    ) => {
        impl $enum {
            /// Every value, in the order their words are listed and shown.
            #[allow(dead_code, reason = "a set that is never listed leaves it unused")]
            $vis const ALL: [Self; [$($word),+].len()] = [$(Self::$variant),+];

            $(#[$doc])*
            $vis fn $method(self) -> &'static str {
                match self {
                    $(Self::$variant => $word,)+
                }
            }
        }

        impl ::std::fmt::Display for $enum {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.$method())
            }
        }

        impl ::std::str::FromStr for $enum {
            type Err = $crate::names::UnknownName;

            fn from_str(text: &str) -> ::std::result::Result<Self, Self::Err> {
                $crate::names::find_name(
                    &[$((Self::$variant, &[$word $(, $alias)*])),+],
                    $what,
                    $crate::names::join_words!($($word),+),
                    text,
                )
            }
        }
    };
}

/// The words of a table as one literal, `"a, b, c"`, for an error message
/// that needs no allocation. A part of [`named_enum!`].
macro_rules! join_words {
    ($only:literal) => {
        $only
    };
    ($first:literal, $($rest:literal),+) => {
        concat!($first, ", ", $crate::names::join_words!($($rest),+))
    };
}

pub(crate) use {join_words, named_enum};

#[cfg(test)]
pub(crate) mod tests {
    use std::fmt::{Debug, Display};
    use std::str::FromStr;

    use super::UnknownName;

    /// Every value is written as its word and read back from it (also in
    /// upper case and padded), and an unknown word is refused with the
    /// enum's own message, which the CLI and mail replies show as is.
    pub(crate) fn round_trip<T>(all: &[T], refusal: &str)
    where
        T: Copy + Debug + PartialEq + Display + FromStr<Err = UnknownName>,
    {
        assert!(!all.is_empty());
        for &value in all {
            let word = value.to_string();
            assert_eq!(word.parse::<T>(), Ok(value), "{word}");
            assert_eq!(format!(" {} ", word.to_uppercase()).parse::<T>(), Ok(value));
        }
        let err = "bogus".parse::<T>().expect_err("an unknown word");
        assert_eq!(err.to_string(), refusal);
    }

    #[test]
    fn every_named_enum_round_trips_and_refuses_with_its_own_message() {
        // `export::cvss::Minor` is private to `export`; its own tests cover it.
        use crate::{advisory, compose, inbound, roster, store};
        // One line an enum: its type, then its refusal of "bogus".
        macro_rules! round_trips {
            ($($enum:ty => $refusal:literal,)+) => {
                $(round_trip(&<$enum>::ALL, $refusal);)+
            };
        }
        round_trips! {
            roster::Role => r#"unknown role "bogus" (expected one of: admin, maintainer, committer, advisor, subscriber)"#,
            roster::Kind => r#"unknown kind "bogus" (expected one of: vendor, distribution, user, individual)"#,
            roster::Status => r#"unknown status "bogus" (expected one of: pending, active, suspended, removed)"#,
            advisory::Severity => r#"unknown severity "bogus" (expected one of: low, moderate, high, critical)"#,
            advisory::Permission => r#"unknown permission "bogus" (expected one of: deploy, ship-binaries, notify-customers)"#,
            advisory::Status => r#"unknown advisory status "bogus" (expected one of: draft, scheduled, notified, disclosed, cancelled)"#,
            compose::Kind => r#"unknown mail kind "bogus" (expected one of: notice, update, reminder, disclosure, cancellation, confirm, welcome, missed, key-expiry, report, reply, digest, team-post, case-report, case-notice, case-mail)"#,
            inbound::AckStatus => r#"unknown ACK status "bogus" (expected one of: received, affected, not-affected, fixed)"#,
            store::DeliveryState => r#"unknown delivery state "bogus" (expected one of: queued, sending, sent, uncertain, failed, missed, dropped)"#,
        }
    }

    /// `ALL` holds every variant once, in table order, so listings and
    /// error messages show them as documented.
    #[test]
    fn all_lists_every_variant_in_table_order() {
        use crate::roster::Role;
        assert_eq!(
            Role::ALL.map(Role::as_str),
            ["admin", "maintainer", "committer", "advisor", "subscriber"]
        );
        assert_eq!(crate::compose::Kind::ALL.len(), 16);
    }

    /// Other spellings after `|` are read as the variant but never
    /// written; the refusal lists only the written words, and keeps the
    /// text as given (untrimmed) so the user sees what was refused.
    #[test]
    fn other_spellings_are_read_and_never_written() {
        use crate::inbound::AckStatus;
        for text in [
            "not-affected",
            "NotAffected",
            "not_affected",
            " NOT-AFFECTED\t",
        ] {
            assert_eq!(text.parse(), Ok(AckStatus::NotAffected), "{text:?}");
        }
        assert_eq!(AckStatus::NotAffected.to_string(), "not-affected");
        let err = " not affected "
            .parse::<AckStatus>()
            .expect_err("two words");
        assert_eq!(err.given, " not affected ");
        assert_eq!(err.what, "ACK status");
    }
}
