//! Inbound commands: what a member may write in a signed message, and how
//! it is read. Domain code: no IO, no wall clock.
//!
//! One command per line, case-insensitive, in the signed text only (the
//! caller hands over nothing else), and only in the member's own text:
//! quoted lines are skipped and an unquoted copy of earlier mail ends it
//! (see [`own_text_ends`]), so a line of our notice quoted back the way
//! Outlook quotes cannot speak for the member. Lines that are not commands
//! — greetings, prose — are ignored. A message must name this list (a
//! `List:` line, or the list's address in the signed headers), so a
//! command signed for another instance cannot be replayed here.

pub mod auth_results;
pub mod case_address;
mod quote;
pub mod thread;
pub mod verp;

pub use quote::{OUR_OPENING_LINES, own_text_ends};

use std::fmt;

/// Most commands one message may carry.
pub const MAX_COMMANDS: usize = 20;

/// A member's answer about an advisory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckStatus {
    Received,
    Affected,
    NotAffected,
    Fixed,
}

crate::names::named_enum! {
    /// The word as a member writes it and a reply shows it. Members'
    /// clients and fingers also write the compound one run together or
    /// with an underscore; those spellings are read, never written.
    pub fn as_str for AckStatus, "ACK status" {
        Received => "received",
        Affected => "affected",
        NotAffected => "not-affected" | "notaffected" | "not_affected",
        Fixed => "fixed",
    }
}

/// One command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Vouch for a new member; their certificate is attached.
    Sponsor {
        email: String,
        name: Option<String>,
        org: Option<String>,
        kind: Option<String>,
        statement: Option<String>,
        /// The attached certificate meant, by fingerprint (`Key:` line).
        key: Option<String>,
    },
    /// A pending member returns their token.
    Confirm { token: String },
    /// A member replaces their certificate with an attached one, named by
    /// fingerprint (`SET-KEY <fingerprint>` or a `Key:` line) or the only
    /// one that fits.
    SetKey { key: Option<String> },
    /// A member leaves.
    Unsubscribe,
    /// A member answers about an advisory.
    Ack {
        advisory: String,
        status: AckStatus,
        note: Option<String>,
    },
    /// A maintainer re-activates a suspended member.
    Approve { email: String },
    /// A maintainer suspends a member.
    Suspend { email: String },
    /// A maintainer holds an advisory's disclosure until a new time.
    Hold {
        advisory: String,
        until: String,
        reason: String,
    },
}

impl Command {
    /// The command's keyword, for replies and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Sponsor { .. } => "SPONSOR",
            Command::Confirm { .. } => "CONFIRM",
            Command::SetKey { .. } => "SET-KEY",
            Command::Unsubscribe => "UNSUBSCRIBE",
            Command::Ack { .. } => "ACK",
            Command::Approve { .. } => "APPROVE",
            Command::Suspend { .. } => "SUSPEND",
            Command::Hold { .. } => "HOLD",
        }
    }
}

impl Command {
    /// Whether this command takes an attached certificate.
    pub fn takes_key(&self) -> bool {
        matches!(self, Command::Sponsor { .. } | Command::SetKey { .. })
    }

    /// The fingerprint the command names for its certificate, if any.
    pub fn named_key(&self) -> Option<&str> {
        match self {
            Command::Sponsor { key, .. } | Command::SetKey { key } => key.as_deref(),
            _ => None,
        }
    }
}

/// A line that looked like a command but could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub line: usize,
    pub problem: String,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

/// What a signed text says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub commands: Vec<Command>,
    /// The value of the `List:` line, if any.
    pub list: Option<String>,
    pub malformed: Vec<Malformed>,
}

/// The documentation `embargo help commands` prints.
pub const HELP: &str = "\
Commands are sent by mail to the list's request address, one per line, in
the text of a message signed with your OpenPGP key (PGP/MIME, signed and
encrypted to the list key, or an inline cleartext signature). Only the
signed text counts, and only a current signature by an active member's key.
Every message must name the list it is for: a line `List: <list address>`.

  SPONSOR <email>            vouch for a new member (committers, advisors);
    Name: <name>             attach their certificate (application/pgp-keys)
    Org: <organisation>
    Kind: vendor|distribution|user|individual
    Statement: <why you vouch>
    Key: <fingerprint>       which attached certificate is theirs
  CONFIRM <token>            become active (sign with the key you were added with)
  SET-KEY [<fingerprint>]    replace your certificate with the attached one
  UNSUBSCRIBE                leave the list
  ACK <advisory> <received|affected|not-affected|fixed> [note]
  APPROVE <email>            maintainers: re-activate a suspended member
  SUSPEND <email>            maintainers: suspend a member
  HOLD <advisory> <time> <reason>
                             maintainers: move a disclosure LATER, to a new
                             time (with Z or an offset, e.g.
                             2026-12-03T14:00:00Z); never earlier (an early
                             disclosure is the operator's `advisory disclose
                             --now --reason`), and not past the embargo
                             policy's maximum (only an operator can force);
                             members told get an update with the new date

Each command that takes a certificate uses exactly one: the attached
certificate with the fingerprint it names (a `Key:` line, or after
SET-KEY), else the one attached certificate whose user IDs name the
address (the new member's for SPONSOR, yours for SET-KEY), else the only
certificate attached when the message has only one such command. When
that is not clear the command is refused; nothing is guessed. SET-KEY
takes effect after the message's other commands. An ACK counts only for
an advisory the list sent you; any other id gets the same answer as an
unknown one.

Only your own text counts. Lines starting with `>` are quoted and
skipped wherever they are, so commands below a quote still count. Your
text ends, and nothing after it is read, at the first of:
  - the signature separator `-- `;
  - an unquoted copy of earlier mail: a line `-----Original Message-----`
    (or another rule of dashes or underscores), a `From:` header line, or
    an attribution line ending in `wrote:` that is not followed by `>`;
  - the first line of the list's own notice, update, reminder or
    cancellation (\"This is an embargoed pre-disclosure notice from\",
    \"The embargoed advisory\", \"A reminder from\").
Write your commands above any copy of the list's mail.

The list answers with a message signed by the list key and encrypted to
you, saying what was done to whom (addresses and fingerprints) or which
rule refused it. A signature older than two days, from the future, or used
before is ignored.
";

/// A fingerprint as typed (`0x` prefix, spaces, any case) in the form the
/// roster stores: upper-case hex without spaces.
fn fingerprint_text(text: &str) -> String {
    let joined: String = text.split_whitespace().collect();
    let bare = joined
        .strip_prefix("0x")
        .or_else(|| joined.strip_prefix("0X"))
        .unwrap_or(&joined);
    bare.to_ascii_uppercase()
}

/// The sender's own lines of `text`, trimmed, with their line numbers
/// (from 1): not empty, not quoted (`>`), and only up to where their own
/// text ends ([`own_text_ends`]). Commands are read from these alone, and
/// so are the team's `ACK` and a reporter's `AGREE`.
pub fn own_lines(text: &str) -> Vec<(usize, &str)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut own = Vec::new();
    for (index, raw) in lines.iter().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('>') {
            continue;
        }
        let next = lines[index + 1..]
            .iter()
            .find(|next| !next.trim().is_empty())
            .copied();
        if own_text_ends(raw, next) {
            break;
        }
        own.push((index + 1, line));
    }
    own
}

/// Reads the commands in `text`.
pub fn parse(text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    for (number, line) in own_lines(text) {
        let (word, rest) = match line.split_once(char::is_whitespace) {
            Some((word, rest)) => (word, rest.trim()),
            None => (line, ""),
        };
        let keyword = word.to_ascii_uppercase();
        // Fields of the SPONSOR above.
        if let Some(field) = keyword.strip_suffix(':') {
            if field == "LIST" {
                if parsed.list.is_none() && !rest.is_empty() {
                    parsed.list = Some(rest.to_owned());
                }
                continue;
            }
            match parsed.commands.last_mut() {
                Some(Command::Sponsor {
                    name,
                    org,
                    kind,
                    statement,
                    key,
                    ..
                }) => {
                    let (slot, value) = match field {
                        "NAME" => (name, rest.to_owned()),
                        "ORG" | "ORGANISATION" | "ORGANIZATION" => (org, rest.to_owned()),
                        "KIND" => (kind, rest.to_owned()),
                        "STATEMENT" => (statement, rest.to_owned()),
                        "KEY" | "FINGERPRINT" => (key, fingerprint_text(rest)),
                        _ => continue,
                    };
                    if slot.is_none() && !value.is_empty() {
                        *slot = Some(value);
                    }
                }
                Some(Command::SetKey { key })
                    if matches!(field, "KEY" | "FINGERPRINT")
                        && key.is_none()
                        && !rest.is_empty() =>
                {
                    *key = Some(fingerprint_text(rest));
                }
                _ => {}
            }
            continue;
        }
        let mut args = rest.split_whitespace();
        let command = match keyword.as_str() {
            "SPONSOR" => match args.next() {
                Some(email) => Command::Sponsor {
                    email: email.to_owned(),
                    name: None,
                    org: None,
                    kind: None,
                    statement: None,
                    key: None,
                },
                None => {
                    parsed.malformed.push(Malformed {
                        line: number,
                        problem: "SPONSOR needs an address".to_owned(),
                    });
                    continue;
                }
            },
            "CONFIRM" => match args.next() {
                Some(token) => Command::Confirm {
                    token: token.to_owned(),
                },
                None => {
                    parsed.malformed.push(Malformed {
                        line: number,
                        problem: "CONFIRM needs the token".to_owned(),
                    });
                    continue;
                }
            },
            "SET-KEY" | "SETKEY" => Command::SetKey {
                key: (!rest.is_empty()).then(|| fingerprint_text(rest)),
            },
            "UNSUBSCRIBE" => Command::Unsubscribe,
            "ACK" => {
                let advisory = args.next();
                let status = args.next().and_then(|word| word.parse::<AckStatus>().ok());
                match (advisory, status) {
                    (Some(advisory), Some(status)) => {
                        let note: Vec<&str> = args.collect();
                        Command::Ack {
                            advisory: advisory.to_owned(),
                            status,
                            note: (!note.is_empty()).then(|| note.join(" ")),
                        }
                    }
                    _ => {
                        parsed.malformed.push(Malformed {
                            line: number,
                            problem: "ACK needs an advisory id and one of received, affected, not-affected, fixed".to_owned(),
                        });
                        continue;
                    }
                }
            }
            "APPROVE" | "SUSPEND" => match args.next() {
                Some(email) if keyword == "APPROVE" => Command::Approve {
                    email: email.to_owned(),
                },
                Some(email) => Command::Suspend {
                    email: email.to_owned(),
                },
                None => {
                    parsed.malformed.push(Malformed {
                        line: number,
                        problem: format!("{keyword} needs an address"),
                    });
                    continue;
                }
            },
            "HOLD" => {
                let advisory = args.next();
                let until = args.next();
                let reason: Vec<&str> = args.collect();
                match (advisory, until) {
                    (Some(advisory), Some(until)) if !reason.is_empty() => Command::Hold {
                        advisory: advisory.to_owned(),
                        until: until.to_owned(),
                        reason: reason.join(" "),
                    },
                    _ => {
                        parsed.malformed.push(Malformed {
                            line: number,
                            problem: "HOLD needs an advisory id, a new time and a reason"
                                .to_owned(),
                        });
                        continue;
                    }
                }
            }
            _ => continue,
        };
        if parsed.commands.len() >= MAX_COMMANDS {
            parsed.malformed.push(Malformed {
                line: number,
                problem: format!("more than {MAX_COMMANDS} commands; the rest are ignored"),
            });
            break;
        }
        parsed.commands.push(command);
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_read_one_per_line_whatever_the_case() {
        let parsed = parse(
            "Hello,\n\nList: security-announce@project.example\nsponsor sam@distro.example\nName: Sam Roe\norg: Distro\nKind: distribution\nStatement: runs security\n  ack DF-2026-0001 Not-Affected we ship 1.3\n> CONFIRM quoted-is-ignored\nUNSUBSCRIBE\n-- \nAlice\n",
        );
        assert_eq!(
            parsed.list.as_deref(),
            Some("security-announce@project.example")
        );
        assert_eq!(
            parsed.commands,
            vec![
                Command::Sponsor {
                    email: "sam@distro.example".to_owned(),
                    name: Some("Sam Roe".to_owned()),
                    org: Some("Distro".to_owned()),
                    kind: Some("distribution".to_owned()),
                    statement: Some("runs security".to_owned()),
                    key: None,
                },
                Command::Ack {
                    advisory: "DF-2026-0001".to_owned(),
                    status: AckStatus::NotAffected,
                    note: Some("we ship 1.3".to_owned()),
                },
                Command::Unsubscribe,
            ]
        );
    }

    #[test]
    fn malformed_commands_are_named_and_nothing_is_guessed() {
        let parsed = parse("ACK DF-1 maybe\nHOLD DF-1 2026-12-01T00:00:00Z\nSPONSOR\nCONFIRM\n");
        assert!(parsed.commands.is_empty());
        assert_eq!(parsed.malformed.len(), 4);
        assert_eq!(parsed.malformed[0].line, 1);
    }

    #[test]
    fn a_flood_of_commands_is_cut_off() {
        let text = "UNSUBSCRIBE\n".repeat(1000);
        let parsed = parse(&text);
        assert_eq!(parsed.commands.len(), MAX_COMMANDS);
        assert_eq!(parsed.malformed.len(), 1);
    }

    #[test]
    fn key_lines_name_certificates_in_the_stored_form() {
        let parsed = parse(
            "SPONSOR sam@x.example\nKey: 0xabcd 1234 ABCD 1234 abcd  1234 ABCD 1234 abcd 1234\nSET-KEY 0011 2233 4455 6677 8899 aabb ccdd eeff 0011 2233\nSET-KEY\nkey: ffff\n",
        );
        assert_eq!(
            parsed.commands[0].named_key(),
            Some("ABCD1234ABCD1234ABCD1234ABCD1234ABCD1234")
        );
        assert_eq!(
            parsed.commands[1].named_key(),
            Some("00112233445566778899AABBCCDDEEFF00112233")
        );
        assert_eq!(parsed.commands[2].named_key(), Some("FFFF"));
        assert!(parsed.commands.iter().all(Command::takes_key));
    }

    #[test]
    fn field_lines_without_a_sponsor_do_nothing() {
        let parsed = parse("Name: Eve\nStatement: trust me\n");
        assert_eq!(parsed, Parsed::default());
    }
}
