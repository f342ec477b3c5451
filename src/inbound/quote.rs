//! Where the member's own text ends. A reply that copies earlier mail
//! without `>` (as Outlook does) carries our notice's command lines, such
//! as `ACK <id> received`; read as commands, they would override the
//! member's answer above them. Lines starting with `>` are skipped by the
//! parser wherever they are (so bottom-posting keeps working); the markers
//! here end the own text, and nothing after one is read.

/// The first lines of the list's own mail that quote commands back: a
/// copy of one of these, pasted without `>`, is not the member's text.
pub const OUR_OPENING_LINES: &[&str] = &[
    "this is an embargoed pre-disclosure notice from",
    "the embargoed advisory",
    "a reminder from",
];

/// Whether `line` (with `next`, the next non-empty line) starts something
/// that is not the member's own text, after which no command is read.
pub fn own_text_ends(line: &str, next: Option<&str>) -> bool {
    if line.trim_end() == "--" {
        return true;
    }
    let trimmed = line.trim();
    let lower = trimmed.to_ascii_lowercase();
    let rule = |c: char| trimmed.len() >= 5 && trimmed.starts_with(&*c.to_string().repeat(5));
    if rule('-') || rule('_') || lower.starts_with("from:") {
        return true;
    }
    if lower.ends_with("wrote:") && !next.is_some_and(|next| next.trim_start().starts_with('>')) {
        return true;
    }
    OUR_OPENING_LINES
        .iter()
        .any(|opening| lower.starts_with(opening))
}

#[cfg(test)]
mod tests {
    use super::super::{AckStatus, Command, Parsed, parse};

    /// The notice as our template renders it, pasted below a reply
    /// without `>` (as Outlook quotes).
    const NOTICE_COPY: &str = "This is an embargoed pre-disclosure notice from Project Security.\nKeep it within your security team until 2026-06-09 14:00 UTC.\n\nAdvisory:    DF-2026-0001 (revision 1)\n\nPlease acknowledge with a signed reply to security-announce-request@project.example:\n  ACK DF-2026-0001 received\n\n-- \nProject Security <security-announce@project.example>\n";

    fn acks(parsed: &Parsed) -> Vec<AckStatus> {
        parsed
            .commands
            .iter()
            .filter_map(|c| match c {
                Command::Ack { status, .. } => Some(*status),
                _ => None,
            })
            .collect()
    }

    /// A line of the notice quoted back without `>` overrode the member's
    /// own answer: `ACK … received` from the copy came after (and so won
    /// over) the member's `ACK … affected`.
    #[test]
    fn an_unquoted_copy_of_the_notice_does_not_override_the_members_answer() {
        let own = "List: security-announce@project.example\nACK DF-2026-0001 affected\n\n";
        // The copy straight below, below an Outlook header block, below an
        // "Original Message" rule, below an underscore rule, and below an
        // attribution line with no `>` after it.
        for separator in [
            "",
            "From: Project Security <security-announce@project.example>\nSent: Monday, June 1, 2026 12:00 PM\nTo: dave@vendor.example\nSubject: [DF-2026-0001] EMBARGOED\n\n",
            "-----Original Message-----\n",
            "________________________________\n",
            "On Mon, 1 Jun 2026 at 12:00, Project Security wrote:\n",
        ] {
            let parsed = parse(&format!("{own}{separator}{NOTICE_COPY}"));
            assert_eq!(acks(&parsed), vec![AckStatus::Affected], "{separator:?}");
            assert_eq!(
                parsed.list.as_deref(),
                Some("security-announce@project.example")
            );
        }
        // Each of the list's advisory mails starts a copy.
        for opening in [
            "The embargoed advisory DF-2026-0001 changed. It is still embargoed",
            "A reminder from Project Security: the embargo on DF-2026-0001",
        ] {
            let parsed = parse(&format!("{own}{opening}\n  ACK DF-2026-0001 fixed\n"));
            assert_eq!(acks(&parsed), vec![AckStatus::Affected], "{opening}");
        }
    }

    #[test]
    fn commands_below_a_copy_are_ignored_and_commands_below_a_quote_count() {
        // Nothing of the member's own above the copy: nothing counts.
        let parsed = parse(&format!("Thanks!\n{NOTICE_COPY}ACK DF-2026-0001 fixed\n"));
        assert!(parsed.commands.is_empty(), "{parsed:?}");
        // Bottom-posting below `>` quoting keeps working, attribution
        // line and all.
        let parsed = parse(
            "On Mon, 1 Jun 2026, Project Security wrote:\n> This is an embargoed pre-disclosure notice from X.\n>   ACK DF-2026-0001 received\n\nACK DF-2026-0001 not-affected\n",
        );
        assert_eq!(acks(&parsed), vec![AckStatus::NotAffected]);
        // The signature separator ends the own text too.
        let parsed = parse("UNSUBSCRIBE\n-- \nACK DF-2026-0001 fixed\n");
        assert_eq!(parsed.commands, vec![Command::Unsubscribe]);
    }
}
