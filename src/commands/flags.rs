//! The command line's words for the inputs a use case refuses.
//!
//! `app` refuses bad input with an [`InputError`] naming the field, not a
//! flag (the same use case answers signed mail); here the CLI renders it
//! as the flag or argument the operator typed, so its messages read as
//! they always have (`--until must be in the future`).

use anyhow::Result;

use crate::app::input::{self, Field, InputError, Problem};
use crate::text::Reason;

/// Reads a reason typed at the command line, once, into the type every
/// use case takes.
pub fn reason(text: &str) -> Result<Reason> {
    Ok(input::reason(text)?)
}

/// [`reason`] for an optional `--reason`.
pub fn optional_reason(text: Option<&str>) -> Result<Option<Reason>> {
    text.map(reason).transpose()
}

/// Renders an input refusal at the top of `err` in the command line's
/// words; any other error is returned as it is.
pub fn render(err: anyhow::Error) -> anyhow::Error {
    match err.downcast::<InputError>() {
        Ok(input) => {
            let name = cli_word(&input);
            match &input.problem {
                // Shown as before: the input's name, then why.
                Problem::Refused(why) => anyhow::Error::msg(why.clone()).context(name),
                _ => anyhow::Error::msg(input.render(name)),
            }
        }
        Err(err) => err,
    }
}

/// The flag or argument that gave a field. A missing input is named with
/// what to type; checked text keeps the plain name of its field, as it
/// may come from a file as well as a flag.
fn cli_word(input: &InputError) -> &'static str {
    match (&input.problem, input.field) {
        (Problem::Text(_), field) => field.noun(),
        (Problem::Missing { .. }, Field::HoldUntil) => "--until TIME, the new disclosure time",
        (_, Field::Actor) => "--by",
        (_, Field::Reason) => "--reason",
        (_, Field::HoldUntil) => "--until",
        (Problem::Required { .. }, Field::DiscloseAt) => "--disclose-at",
        (Problem::Required { .. }, Field::Title) => "--title",
        (Problem::Required { .. }, Field::Severity) => "--severity",
        (Problem::Required { .. }, Field::Product) => "--product",
        (Problem::Required { .. }, Field::Body) => "--body",
        (_, Field::PreviewFor) => "--for",
        (_, field) => field.noun(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The CLI's texts for refused input stay what they were before the
    // refusals were typed.
    #[test]
    fn the_cli_names_each_flag_as_before() {
        let cases = [
            (
                InputError::missing(Field::HoldUntil, "holding a disclosure"),
                "holding a disclosure needs --until TIME, the new disclosure time",
            ),
            (
                InputError::new(Field::HoldUntil, Problem::NotFuture),
                "--until must be in the future",
            ),
            (
                InputError::missing(Field::Reason, "removing a member"),
                "removing a member needs --reason",
            ),
            (
                InputError::new(
                    Field::Title,
                    Problem::Required {
                        by: "a new advisory",
                    },
                ),
                "--title is required for a new advisory",
            ),
        ];
        for (err, text) in cases {
            assert_eq!(render(err.into()).to_string(), text);
        }
        let err = render(InputError::refused(Field::Actor, "no member with address x@y.z").into());
        assert_eq!(format!("{err:#}"), "--by: no member with address x@y.z");
        let err = render(input::reason("a\nb").unwrap_err().into());
        assert_eq!(
            err.to_string(),
            "reason must be one line without control characters (found LF)"
        );
        let err = render(input::instant(Field::HoldUntil, "soon").unwrap_err().into());
        assert!(
            err.to_string()
                .starts_with("--until \"soon\" is not a time")
        );
    }
}
