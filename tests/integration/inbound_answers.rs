//! What the list answers a member, and what it records: refusals that
//! never reveal who is on the roster, ACKs that count only from members an
//! advisory reached, and commands only from the member's own text.

use crate::common::commands::{cert, command, fingerprint, last_lines, list};
use crate::common::ingest;
use crate::common::{Env, who};

fn sponsor_lines(email: &str) -> String {
    format!("SPONSOR {email}\nName: New Member\nOrg: Org\nKind: vendor\nStatement: I know them\n")
}

/// Refusals recorded in the audit log for maintainers, as (command,
/// reason) text.
fn refusal_audit(env: &Env) -> String {
    env.sql("SELECT detail FROM audit_log WHERE action = 'inbound.refuse' ORDER BY seq")
}

/// SET-KEY refusals named the member holding a certificate ("already
/// registered to alice@…"), so any member could probe the roster with
/// public keys. Now the answer is the same whether the certificate is an
/// active member's or a removed member's, and names nobody.
#[test]
fn set_key_refusals_do_not_name_who_holds_the_certificate() {
    let env = list();
    env.add_active(who::ERIN, who::ALICE, &[]);
    env.add_active(who::FRANK, who::ALICE, &[]);
    env.ok(&["member", "remove", who::FRANK, "--reason", "left"]);
    let (erin, frank) = (fingerprint(&env, who::ERIN), fingerprint(&env, who::FRANK));
    let message = command(
        who::DAVE,
        &format!("SET-KEY {erin}\nSET-KEY {frank}"),
        &[cert(who::ERIN), cert(who::FRANK)],
    );
    assert_eq!(ingest(&env, &message), 0);
    let lines = last_lines(&env, 2);
    assert_eq!(lines[0], lines[1], "the answers differ: {lines:?}");
    for line in &lines {
        assert!(line.starts_with("SET-KEY refused:"), "{line}");
        for who in [who::ERIN, who::FRANK, "erin", "frank", "removed", "active"] {
            assert!(!line.contains(who), "{line} reveals {who}");
        }
    }
    // Maintainers see who holds each certificate in the audit log.
    let audit = refusal_audit(&env);
    assert!(
        audit.contains(who::ERIN) && audit.contains(who::FRANK),
        "{audit}"
    );
}

/// The class: SPONSOR of an address on the roster (active or removed) or
/// with a certificate someone holds reads the same; a non-sponsor's
/// SPONSOR and a non-maintainer's SUSPEND read the same for members and
/// strangers.
#[test]
fn refusals_read_the_same_for_members_removed_members_and_strangers() {
    let env = list();
    env.add_active(who::FRANK, who::ALICE, &[]);
    env.ok(&["member", "remove", who::FRANK, "--reason", "left"]);
    let nobody = "nobody@elsewhere.example";
    // Alice may sponsor: the existing address, the removed one and a new
    // address with Dave's certificate all get one answer.
    let message = command(
        who::ALICE,
        &format!(
            "{}Key: {}\n{}Key: {}\n{}Key: {}\n",
            sponsor_lines(who::DAVE),
            fingerprint(&env, who::ERIN),
            sponsor_lines(who::FRANK),
            fingerprint(&env, who::FRANK),
            sponsor_lines(nobody),
            fingerprint(&env, who::DAVE),
        ),
        &[cert(who::ERIN), cert(who::FRANK), cert(who::DAVE)],
    );
    assert_eq!(ingest(&env, &message), 0);
    let lines = last_lines(&env, 3);
    let generic: Vec<String> = lines
        .iter()
        .zip([who::DAVE, who::FRANK, nobody])
        .map(|(line, email)| line.replace(email, "X"))
        .collect();
    assert_eq!(generic[0], generic[1], "{lines:?}");
    assert_eq!(generic[1], generic[2], "{lines:?}");
    assert!(!lines[2].contains(who::DAVE), "{lines:?}");
    assert!(
        env.sql(&format!("SELECT 1 FROM members WHERE email = '{nobody}'"))
            .trim()
            .is_empty()
    );

    // Dave may not sponsor or suspend: members and strangers alike.
    let message = command(
        who::DAVE,
        &format!(
            "{}Key: {}\n{}Key: {}\nSUSPEND {}\nSUSPEND {nobody}",
            sponsor_lines(who::ALICE),
            fingerprint(&env, who::ERIN),
            sponsor_lines(nobody),
            fingerprint(&env, who::CAROL),
            who::ALICE
        ),
        &[cert(who::ERIN), cert(who::CAROL)],
    );
    assert_eq!(ingest(&env, &message), 0);
    let lines = last_lines(&env, 4);
    assert_eq!(
        lines[0].replace(who::ALICE, "X"),
        lines[1].replace(nobody, "X"),
        "{lines:?}"
    );
    assert_eq!(lines[2], lines[3], "{lines:?}");
    assert!(lines[0].contains("committer or advisor"), "{lines:?}");
}

/// An ACK for an advisory whose notice had not reached the member was
/// recorded, and answered differently from an unknown id, which revealed
/// that the advisory exists.
#[test]
fn an_ack_for_an_advisory_that_never_reached_the_member_is_answered_as_unknown() {
    let env = list();
    // Reached Dave: sent.
    env.draft("DF-2026-0044", "Sent", "low");
    env.ok(&["advisory", "announce", "DF-2026-0044"]);
    env.ok(&["queue", "run"]);
    // Frank joins after that: his copy is sealed but not sent yet.
    env.add_active(who::FRANK, who::ALICE, &[]);
    // A draft; announced but not sent; scheduled for later; cancelled
    // before its notice went out.
    env.draft("DF-2026-0040", "Draft", "low");
    env.draft("DF-2026-0041", "Queued", "low");
    env.ok(&["advisory", "announce", "DF-2026-0041"]);
    env.draft("DF-2026-0042", "Later", "low");
    env.ok(&[
        "advisory",
        "announce",
        "DF-2026-0042",
        "--at",
        "2026-06-03T12:00:00Z",
    ]);
    env.draft("DF-2026-0043", "Cancelled", "low");
    env.ok(&["advisory", "announce", "DF-2026-0043"]);
    env.ok(&[
        "advisory",
        "cancel",
        "DF-2026-0043",
        "--reason",
        "not a bug",
    ]);
    let ids = [
        "DF-2026-0099",
        "DF-2026-0040",
        "DF-2026-0041",
        "DF-2026-0042",
        "DF-2026-0043",
    ];
    let text: String = ids
        .iter()
        .chain(["DF-2026-0044"].iter())
        .map(|id| format!("ACK {id} affected\n"))
        .collect();
    let acks_before = env.sql("SELECT count(*) FROM acks");
    assert_eq!(ingest(&env, &command(who::DAVE, &text, &[])), 0);
    let lines = last_lines(&env, ids.len() + 1);
    for (line, id) in lines.iter().zip(ids) {
        assert_eq!(
            line,
            &format!("ACK refused: no advisory {id} was sent to you")
        );
    }
    assert_eq!(lines[ids.len()], "ACK DF-2026-0044 affected: recorded");
    // Sent only to others: Frank's copy is still queued.
    assert_eq!(
        ingest(&env, &command(who::FRANK, "ACK DF-2026-0044 fixed", &[])),
        0
    );
    assert_eq!(
        last_lines(&env, 1),
        vec!["ACK refused: no advisory DF-2026-0044 was sent to you".to_owned()]
    );
    // Only Dave's answer about the advisory he got is recorded.
    assert_eq!(
        env.sql("SELECT count(*) FROM acks")
            .trim()
            .parse::<i64>()
            .unwrap_or(-1),
        acks_before.trim().parse::<i64>().unwrap_or(-1) + 1
    );
    assert_eq!(
        env.sql("SELECT count(*) FROM audit_log WHERE action = 'advisory.ack'")
            .trim(),
        "1"
    );
}

/// A line of the notice quoted back without `>` (as Outlook quotes)
/// overrode the member's own answer: the notice's `ACK … received` came
/// after the member's `ACK … affected` and was recorded last.
#[test]
fn an_unquoted_copy_of_the_notice_does_not_override_the_members_answer() {
    let env = list();
    env.draft("DF-2026-0050", "Quoted", "low");
    env.ok(&["advisory", "announce", "DF-2026-0050"]);
    env.ok(&["queue", "run"]);
    let preview = env
        .ok(&["advisory", "preview", "DF-2026-0050", "--kind", "notice"])
        .stdout;
    let (_, notice) = preview.split_once("\n\n").expect("subject and body");
    assert!(notice.contains("ACK DF-2026-0050 received"), "{notice}");
    for separator in [
        "",
        "-----Original Message-----\nFrom: Test list\nSent: Monday\n\n",
    ] {
        let message = command(
            who::DAVE,
            &format!("ACK DF-2026-0050 affected\n\n{separator}{notice}"),
            &[],
        );
        assert_eq!(ingest(&env, &message), 0);
        let status = env.sql(
            "SELECT acks.status FROM acks JOIN advisories ON advisories.id = acks.advisory_id \
             WHERE ident = 'DF-2026-0050'",
        );
        assert_eq!(status.trim(), "affected", "{separator:?}");
        assert_eq!(
            last_lines(&env, 1),
            vec!["ACK DF-2026-0050 affected: recorded".to_owned()]
        );
    }
}
