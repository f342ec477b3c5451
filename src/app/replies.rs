//! What a reply tells a member about a refused command. It never names
//! another member (a refusal over a taken address or certificate reads
//! the same whoever holds it), and it names the command's inputs by their
//! place in the command line a member wrote, never by the CLI's flags:
//! the use cases are shared with the command line and refuse input with
//! an [`InputError`](super::input::InputError) that names only the field.

use super::input::{self, Field};
use super::roster::Taken;
use crate::advisory::time::{ACCEPTED_FORMS, ONE_WORD_FORMS};
use crate::inbound::Command;

/// What a refusal tells the member. A refusal because the address or the
/// certificate is already someone's reads the same whoever holds it (a
/// member, a removed member) and names nobody; the audit entry keeps the
/// detail for maintainers.
pub(crate) fn member_text(command: &Command, err: &anyhow::Error) -> String {
    let taken = err
        .chain()
        .any(|cause| cause.downcast_ref::<Taken>().is_some());
    match command {
        Command::Sponsor { email, .. } if taken => format!(
            "{email} cannot be added with this certificate; a maintainer can see why in the audit log"
        ),
        _ if taken => {
            "this certificate cannot be used; a maintainer can see why in the audit log".to_owned()
        }
        _ => match input::input_error(err) {
            // A command line is split at spaces: only the one-word forms
            // of a time can be written there.
            Some(input) => input
                .render(mail_word(command, input.field))
                .replace(ACCEPTED_FORMS, ONE_WORD_FORMS),
            None => format!("{err:#}"),
        },
    }
}

/// How a reply names an input of `command`: by its place in the command
/// line as `embargo help commands` writes it (`HOLD <time>`, the `Name:`
/// line), never by the command line's flags, which a member cannot type.
fn mail_word(command: &Command, field: Field) -> &'static str {
    match (command, field) {
        (Command::Sponsor { .. }, Field::Member) => "SPONSOR <email>",
        (Command::Sponsor { .. }, Field::Name) => "the Name: line",
        (Command::Sponsor { .. }, Field::Org) => "the Org: line",
        (Command::Sponsor { .. }, Field::Statement) => "the Statement: line",
        (_, Field::Key | Field::NewKey | Field::KeyUpdate) => "the attached certificate",
        (Command::Approve { .. }, Field::Member) => "APPROVE <email>",
        (Command::Suspend { .. }, Field::Member) => "SUSPEND <email>",
        (Command::Hold { .. }, Field::Advisory) => "HOLD <advisory>",
        (Command::Hold { .. }, Field::HoldUntil) => "HOLD <time>",
        (Command::Hold { .. }, Field::Reason) => "HOLD <reason>",
        (Command::Ack { .. }, Field::Advisory) => "ACK <advisory>",
        (Command::Ack { .. }, Field::Note) => "the note after ACK <advisory> <status>",
        // The signer is the acting member and, for their own membership,
        // the member: the address their key was registered with.
        (_, Field::Actor | Field::Member | Field::Sponsor) => "your address",
        (_, field) => field.noun(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::input::{InputError, Problem};
    use crate::inbound::AckStatus;

    // The class of "mail commands are told about `--until` and `--by`":
    // whatever field a use case refuses, for whichever command, a reply
    // names no flag of the command line.
    #[test]
    fn no_reply_names_a_flag_whatever_the_field() {
        let commands = [
            Command::Sponsor {
                email: "x@example.org".to_owned(),
                name: None,
                org: None,
                kind: None,
                statement: None,
                key: None,
            },
            Command::Confirm {
                token: "t".to_owned(),
            },
            Command::SetKey { key: None },
            Command::Unsubscribe,
            Command::Ack {
                advisory: "DF-1".to_owned(),
                status: AckStatus::Received,
                note: None,
            },
            Command::Approve {
                email: "x@example.org".to_owned(),
            },
            Command::Suspend {
                email: "x@example.org".to_owned(),
            },
            Command::Hold {
                advisory: "DF-1".to_owned(),
                until: "soon".to_owned(),
                reason: "r".to_owned(),
            },
        ];
        for command in &commands {
            for field in Field::ALL {
                for problem in [
                    Problem::Missing { doing: "doing it" },
                    Problem::Required { by: "it" },
                    Problem::NotFuture,
                    Problem::Refused("why".to_owned()),
                ] {
                    let err = anyhow::Error::from(InputError::new(field, problem));
                    let text = member_text(command, &err.context("while doing it"));
                    assert!(!text.contains("--"), "{} {field:?}: {text}", command.name());
                }
            }
        }
    }
}
