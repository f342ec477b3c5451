//! Roster refusals from issue 9's review, at the command line (exit 1, a
//! message that says what is wrong, the database unchanged) and by signed
//! mail, and the channel every audit entry names.

use crate::common::commands::{cert, command, fingerprint, last_lines, list};
use crate::common::ingest;
use crate::common::{Env, path, who};

/// `member add EMAIL` for a new member sponsored by `sponsor`.
fn add_args<'a>(email: &'a str, key: &'a str, sponsor: &'a str) -> Vec<&'a str> {
    vec![
        "member",
        "add",
        email,
        "--name",
        "New",
        "--org",
        "Org",
        "--kind",
        "vendor",
        "--key",
        key,
        "--sponsor",
        sponsor,
    ]
}

/// The list's own addresses (the list, `-request`, `-bounces` and its
/// VERP form) were accepted as member addresses.
#[test]
fn the_lists_own_addresses_cannot_be_members() {
    let env = Env::new();
    env.init();
    let key = env.cert_file(who::FRANK);
    let before = env.dump();
    for address in [
        "security-announce@project.example",
        "Security-Announce-Request@project.example",
        "security-announce-bounces@project.example",
        "security-announce-bounces+17-0a1b2c3d@project.example",
    ] {
        env.run(&add_args(address, path(&key), who::ALICE))
            .fails_with("one of the list's own addresses");
        assert_eq!(env.dump(), before, "{address}");
    }
    // By mail too.
    let env = list();
    let message = command(
        who::ALICE,
        "SPONSOR security-announce-bounces@project.example\nName: Loop\nOrg: Org\nKind: user\nStatement: x",
        &[cert(who::FRANK)],
    );
    assert_eq!(ingest(&env, &message), 0);
    assert!(last_lines(&env, 1)[0].contains("one of the list's own addresses"));
}

/// Local parts over 64 octets (RFC 5321) were accepted.
#[test]
fn a_local_part_over_64_octets_is_refused() {
    let env = Env::new();
    env.init();
    let key = env.cert_file(who::FRANK);
    let before = env.dump();
    let long = format!("{}@vendor.example", "a".repeat(65));
    env.run(&add_args(&long, path(&key), who::ALICE))
        .fails_with("longer than 64 characters");
    let huge = format!("a@{}.example", "b".repeat(250));
    env.run(&add_args(&huge, path(&key), who::ALICE))
        .fails_with("longer than 254");
    assert_eq!(env.dump(), before);
}

/// A committer flagged as needing a new sponsor (theirs was removed) could
/// still sponsor others.
#[test]
fn a_committer_who_needs_a_sponsor_cannot_sponsor() {
    let env = Env::new();
    env.init();
    let committer = ["--role", "committer", "--by", who::ALICE];
    env.add_active(who::BOB, who::ALICE, &committer);
    env.add_active(who::CAROL, who::BOB, &committer);
    env.ok(&["member", "remove", who::BOB, "--reason", "left the project"]);
    assert_eq!(env.show(who::CAROL)["needs_sponsor"], true);
    let key = env.cert_file(who::FRANK);
    let before = env.dump();
    env.run(&add_args(who::FRANK, path(&key), who::CAROL))
        .fails_with("needs a new sponsor");
    assert_eq!(env.dump(), before);
    // Once somebody vouches for Carol again, she may sponsor.
    env.ok(&["member", "sponsor", who::CAROL, "--sponsor", who::ALICE]);
    env.ok(&add_args(who::FRANK, path(&key), who::CAROL));
}

/// A NUL byte in a multi-line field was reported as "must be one line".
#[test]
fn a_nul_byte_in_a_body_is_named_as_a_control_character() {
    let env = Env::new();
    env.init();
    let body = env.file("body.md", b"First line.\nSecond\0line.\n");
    let before = env.dump();
    env.run(&[
        "advisory",
        "new",
        "DF-2026-0070",
        "--title",
        "T",
        "--severity",
        "low",
        "--product",
        "p",
        "--body",
        path(&body),
        "--disclose-at",
        "2026-06-09T14:00:00Z",
    ])
    .fails_with("contains the control character NUL");
    assert_eq!(env.dump(), before);
}

/// A SPONSOR by signed mail was audited `via: operator cli`. Every entry
/// now names its channel: signed mail with the signer's key, the CLI, or
/// the system.
#[test]
fn audit_entries_name_the_channel_and_the_signing_key() {
    let env = list();
    let alice = fingerprint(&env, who::ALICE);
    let message = command(
        who::ALICE,
        &format!(
            "SPONSOR {}\nName: Frank\nOrg: Org\nKind: user\nStatement: known",
            who::FRANK
        ),
        &[cert(who::FRANK)],
    );
    assert_eq!(ingest(&env, &message), 0);
    let via = |subject: &str| {
        env.sql(&format!(
            "SELECT {} FROM audit_log \
             WHERE action = 'member.add' AND subject = 'member:{subject}'",
            env.json_text("detail", "via")
        ))
        .trim()
        .to_owned()
    };
    assert_eq!(via(who::FRANK), format!("signed mail, key {alice}"));
    assert_eq!(via(who::DAVE), "cli");
    // Every entry names one, the init's and the system's too.
    assert_eq!(
        env.sql(&format!(
            "SELECT count(*) FROM audit_log WHERE {} IS NULL",
            env.json_text("detail", "via")
        ))
        .trim(),
        "0"
    );
    assert!(
        !env.sql("SELECT detail FROM audit_log")
            .contains("operator cli")
    );
}
