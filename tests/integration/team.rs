//! The security team's own list (issue 12, in progress): a team member's
//! signed post to `[team] address` is re-sealed to exactly the active
//! team, each copy readable by its member alone, naming the verified
//! sender, with the post's real headers inside and generic ones outside.

use std::io::Write as _;
use std::process::Command;

use mail_parser::MessageParser;

use crate::common::lists::ingest_to;
use crate::common::mail::{Headers, SIGNED_NOW, signed_mime};
use crate::common::outbox::maildir;
use crate::common::{Env, keys, who};

const TEAM: &str = "security@project.example";
const SECRET_SUBJECT: &str = "Heap overflow in the frobnicator";
const SECRET_BODY: &str = "CanaryTeamPostBody-5521: the overflow is in parse_frob.";

/// Alice (admin, from `init`), Bob (committer) and Carol (advisor) are
/// the team; Dave (a subscriber) is not; Erin is a committer, suspended.
fn team_env() -> Env {
    let env = Env::new();
    env.init();
    env.add_active(
        who::BOB,
        who::ALICE,
        &["--role", "committer", "--by", who::ALICE],
    );
    env.add_active(
        who::CAROL,
        who::ALICE,
        &["--role", "advisor", "--by", who::ALICE],
    );
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.add_active(
        who::ERIN,
        who::ALICE,
        &["--role", "committer", "--by", who::ALICE],
    );
    env.ok(&["member", "suspend", who::ERIN, "--reason", "on leave"]);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&env.config)
        .expect("config");
    write!(file, "\n[team]\naddress = \"{TEAM}\"\n").expect("write config");
    env
}

fn post_by(signer: &str) -> Vec<u8> {
    let mut headers = Headers::new(signer, TEAM);
    headers.subject = SECRET_SUBJECT.to_owned();
    signed_mime(
        signer,
        &headers,
        &format!("{SECRET_BODY}\n"),
        &[],
        SIGNED_NOW,
    )
}

fn team_post_recipients(env: &Env) -> Vec<String> {
    env.sql(
        "SELECT d.recipient FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
         WHERE a.kind = 'team-post' ORDER BY d.recipient",
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

/// Every active member holding maintainer, committer or advisor.
fn expected_team(env: &Env) -> Vec<String> {
    env.sql(
        "SELECT email FROM members WHERE status = 'active' AND \
         (',' || roles || ',' LIKE '%,maintainer,%' OR ',' || roles || ',' LIKE '%,committer,%' \
          OR ',' || roles || ',' LIKE '%,advisor,%') ORDER BY email",
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

/// The decrypted inner entities of the copies to `email`, read with
/// that member's secret key alone.
fn decrypted_copies_of(env: &Env, email: &str) -> Vec<Vec<u8>> {
    let home = tempfile::tempdir().expect("GnuPG home");
    let gpg = |args: &[&str], file: &std::path::Path| {
        Command::new("gpg")
            .arg("--homedir")
            .arg(home.path())
            .args([
                "--batch",
                "--no-tty",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .arg(file)
            .output()
            .expect("run gpg")
    };
    let secret = env.file("reader-secret.asc", keys().secret(email));
    assert!(gpg(&["--import"], &secret).status.success());
    let mut found = Vec::new();
    for file in maildir(env) {
        let eml = std::fs::read(&file).expect("mail");
        let message = MessageParser::default().parse(&eml).expect("parses");
        let to = message
            .to()
            .and_then(|to| to.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned();
        let Some(payload) = message.part(2) else {
            continue;
        };
        let ciphertext = env.file("payload.asc", payload.contents());
        let out = gpg(&["--decrypt"], &ciphertext);
        if to == email {
            assert!(out.status.success(), "{email} cannot read their own copy");
            found.push(out.stdout);
        } else if String::from_utf8_lossy(&eml).contains("multipart/encrypted") {
            assert!(!out.status.success(), "{email} can read {to}'s copy");
        }
    }
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(home.path())
        .args(["--kill", "all"])
        .status();
    found
}

#[test]
fn a_team_members_post_is_resealed_to_exactly_the_active_team() {
    let env = team_env();
    assert_eq!(ingest_to(&env, TEAM, &post_by(who::BOB)), 0);
    let team = expected_team(&env);
    assert!(team.contains(&who::BOB.to_owned()) && team.contains(&who::CAROL.to_owned()));
    assert!(!team.contains(&who::DAVE.to_owned()) && !team.contains(&who::ERIN.to_owned()));
    assert_eq!(
        team_post_recipients(&env),
        team,
        "the active team, no one else"
    );

    env.ok(&["queue", "run"]);
    for file in maildir(&env) {
        let eml = String::from_utf8_lossy(&std::fs::read(&file).expect("mail")).into_owned();
        assert!(!eml.contains(SECRET_SUBJECT) && !eml.contains("CanaryTeamPostBody"));
    }
    let fingerprint = crate::common::commands::stored_fingerprint(&env, who::BOB);
    for member in [who::BOB, who::CAROL] {
        let copies = decrypted_copies_of(&env, member);
        let posts: Vec<&Vec<u8>> = copies
            .iter()
            .filter(|inner| String::from_utf8_lossy(inner).contains("CanaryTeamPostBody"))
            .collect();
        assert_eq!(posts.len(), 1, "{member} gets the post once");
        let inner = MessageParser::default().parse(posts[0]).expect("inner");
        let text = String::from_utf8_lossy(posts[0]);
        // The signed inner entity's first part carries the protected headers.
        assert!(
            text.contains(&format!("Subject: {SECRET_SUBJECT}")),
            "{text}"
        );
        assert!(text.contains(&format!("From: {}", who::BOB)), "{text}");
        assert!(text.contains("protected-headers=\"v1\""));
        let preface = inner.body_text(0).unwrap_or_default();
        assert!(
            preface.contains("posted this to the security team"),
            "{preface}"
        );
        assert!(
            preface.contains(who::BOB) && preface.contains(&fingerprint),
            "{preface}"
        );
    }
}

#[test]
fn a_post_not_signed_by_an_active_team_member_is_never_relayed_as_theirs() {
    let env = team_env();
    // A subscriber, a suspended committer, and a stranger writing Bob's From.
    assert_eq!(ingest_to(&env, TEAM, &post_by(who::DAVE)), 0);
    assert_eq!(ingest_to(&env, TEAM, &post_by(who::ERIN)), 0);
    let forged = format!(
        "From: {}\r\nTo: {TEAM}\r\nSubject: {SECRET_SUBJECT}\r\nMessage-ID: <forged@attacker.example>\r\n\r\n{SECRET_BODY}\r\n",
        who::BOB
    );
    assert_eq!(ingest_to(&env, TEAM, forged.as_bytes()), 0);
    assert!(team_post_recipients(&env).is_empty());
    // The same post of Bob's, twice: relayed once.
    let post = post_by(who::BOB);
    assert_eq!(ingest_to(&env, TEAM, &post), 0);
    assert_eq!(ingest_to(&env, TEAM, &post), 0);
    assert_eq!(team_post_recipients(&env), expected_team(&env));
}
