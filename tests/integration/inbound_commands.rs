//! Signed mail commands from issue 9's review: every command binds to the
//! certificate it names, refusals never reveal who is on the roster, an
//! ACK counts only from a member the advisory reached, and only the
//! member's own text speaks (not a copy of our notice quoted back).

use std::process::Command;

use mail_parser::MessageParser;

use crate::common::commands::{cert, command, fingerprint, last_lines, list, stored_fingerprint};
use crate::common::mail::Attachment;
use crate::common::outbox::maildir;
use crate::common::{Env, ingest, keys, who};

/// Sends what is queued and returns the text of every message to `email`
/// that GnuPG, with that member's secret key, decrypts.
pub fn read_mail_of(env: &Env, email: &str) -> Vec<String> {
    env.ok(&["queue", "run"]);
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
    let mut texts = Vec::new();
    for file in maildir(env) {
        let eml = std::fs::read(&file).expect("mail");
        if !String::from_utf8_lossy(&eml).contains(&format!("To: {email}")) {
            continue;
        }
        let message = MessageParser::default().parse(&eml).expect("parses");
        let Some(payload) = message.part(2) else {
            continue;
        };
        let ciphertext = env.file("payload.asc", payload.contents());
        let out = gpg(&["--decrypt"], &ciphertext);
        if !out.status.success() {
            continue;
        }
        let inner = MessageParser::default()
            .parse(&out.stdout)
            .expect("inner MIME");
        if let Some(text) = inner.body_text(0) {
            texts.push(text.replace("\r\n", "\n"));
        }
    }
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(home.path())
        .args(["--kill", "all"])
        .status();
    texts
}

fn sponsor_lines(email: &str, key: Option<&str>) -> String {
    let key = key.map(|k| format!("Key: {k}\n")).unwrap_or_default();
    format!(
        "SPONSOR {email}\nName: New Member\nOrg: Org\nKind: vendor\nStatement: I know them\n{key}"
    )
}

/// Two SPONSOR commands in one message both used the first attached
/// certificate: the second member was stored with the first member's key,
/// their confirmation was encrypted to it, and it then succeeded.
#[test]
fn two_sponsors_in_one_message_each_get_their_own_certificate() {
    let env = list();
    let (frank, erin) = (fingerprint(&env, who::FRANK), fingerprint(&env, who::ERIN));
    let message = command(
        who::ALICE,
        &format!(
            "{}{}",
            sponsor_lines(who::FRANK, None),
            sponsor_lines(who::ERIN, None)
        ),
        &[cert(who::FRANK), cert(who::ERIN)],
    );
    assert_eq!(ingest(&env, &message), 0);
    assert_eq!(stored_fingerprint(&env, who::FRANK), frank);
    assert_eq!(stored_fingerprint(&env, who::ERIN), erin);
    // Each confirmation is encrypted to that member's own key: Erin can
    // read hers with her key, and so can Frank.
    for (email, token_mail) in [(who::ERIN, "CONFIRM"), (who::FRANK, "CONFIRM")] {
        let mail = read_mail_of(&env, email);
        assert!(
            mail.iter().any(|t| t.contains(token_mail)),
            "{email}: {mail:?}"
        );
    }
    // The reply says what was done to whom, with the certificate used.
    let reply = read_mail_of(&env, who::ALICE)
        .into_iter()
        .find(|text| text.contains("read your signed message"))
        .expect("Alice's reply");
    for (email, fpr) in [(who::FRANK, &frank), (who::ERIN, &erin)] {
        assert!(
            reply.contains(&format!(
                "SPONSOR {email}: added as pending with certificate {fpr}"
            )),
            "{reply}"
        );
    }
}

/// The class: the certificates in the other order, both in one attachment
/// (a keyring), and SPONSOR with SET-KEY in one message, each binds to
/// the certificate it names.
#[test]
fn every_command_binds_to_the_certificate_it_names_whatever_the_attachment_order() {
    let env = list();
    let (frank, erin) = (fingerprint(&env, who::FRANK), fingerprint(&env, who::ERIN));
    let keyring = [keys().public(who::ERIN), keys().public(who::FRANK)].concat();
    let message = command(
        who::ALICE,
        &format!(
            "{}{}",
            sponsor_lines(who::FRANK, None),
            sponsor_lines(who::ERIN, None)
        ),
        &[Attachment::pgp_keys(&keyring)],
    );
    assert_eq!(ingest(&env, &message), 0);
    assert_eq!(stored_fingerprint(&env, who::FRANK), frank);
    assert_eq!(stored_fingerprint(&env, who::ERIN), erin);

    // Dave sponsors nobody, but rotates his key, named by fingerprint,
    // while the other attachment (listed first) names him nowhere.
    let certified = fingerprint(&env, who::CERTIFIED);
    let spaced: String = certified
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let message = command(
        who::DAVE,
        &format!("SET-KEY {spaced}"),
        &[cert(who::RSA2048), cert(who::CERTIFIED)],
    );
    assert_eq!(ingest(&env, &message), 0);
    assert_eq!(stored_fingerprint(&env, who::DAVE), certified);
    let lines = last_lines(&env, 1);
    assert_eq!(
        lines,
        vec![format!(
            "SET-KEY: the certificate of {} is now {certified}",
            who::DAVE
        )]
    );

    // SPONSOR and SET-KEY in one message: Alice sponsors Carol (by the
    // user ID) and takes the RSA-2048 certificate (by its Key: line).
    let rsa = fingerprint(&env, who::RSA2048);
    let carol = fingerprint(&env, who::CAROL);
    let message = command(
        who::ALICE,
        &format!("{}SET-KEY\nKey: {rsa}", sponsor_lines(who::CAROL, None)),
        &[cert(who::RSA2048), cert(who::CAROL)],
    );
    assert_eq!(ingest(&env, &message), 0);
    assert_eq!(stored_fingerprint(&env, who::CAROL), carol);
    assert_eq!(stored_fingerprint(&env, who::ALICE), rsa);
}

/// Ambiguity is refused, nothing is guessed: two SET-KEYs for one
/// certificate, a SPONSOR whose certificate is not attached next to one
/// that is, and an attachment nobody used.
#[test]
fn an_ambiguous_certificate_is_refused_and_an_unused_one_is_named() {
    let env = list();
    let dave = stored_fingerprint(&env, who::DAVE);
    let before = env.dump();
    let message = command(who::DAVE, "SET-KEY\nSET-KEY", &[cert(who::CERTIFIED)]);
    assert_eq!(ingest(&env, &message), 0);
    assert_eq!(stored_fingerprint(&env, who::DAVE), dave);
    let lines = last_lines(&env, 2);
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("SET-KEY refused:") && l.contains("Key: <fingerprint>")),
        "{lines:?}"
    );
    // Both naming the one certificate explicitly is no better.
    let certified = fingerprint(&env, who::CERTIFIED);
    let message = command(
        who::DAVE,
        &format!(
            "SET-KEY {certified}
SET-KEY {certified}"
        ),
        &[cert(who::CERTIFIED)],
    );
    assert_eq!(ingest(&env, &message), 0);
    assert_eq!(stored_fingerprint(&env, who::DAVE), dave);
    assert!(
        last_lines(&env, 2)
            .iter()
            .all(|l| l.contains("would serve more than one command")),
        "{:?}",
        last_lines(&env, 2)
    );
    assert_ne!(env.dump(), before, "the refusals are recorded");

    let frank = fingerprint(&env, who::FRANK);
    let message = command(
        who::ALICE,
        &format!(
            "{}{}",
            sponsor_lines(who::FRANK, None),
            sponsor_lines(who::ERIN, None)
        ),
        &[cert(who::FRANK), cert(who::RSA2048)],
    );
    assert_eq!(ingest(&env, &message), 0);
    assert_eq!(stored_fingerprint(&env, who::FRANK), frank);
    assert!(
        env.sql(&format!(
            "SELECT 1 FROM members WHERE email = '{}'",
            who::ERIN
        ))
        .trim()
        .is_empty()
    );
    let lines = last_lines(&env, 2);
    assert!(lines[0].contains(&frank), "{lines:?}");
    assert!(
        lines[1].starts_with("SPONSOR refused: no attached certificate names erin@distro.example"),
        "{lines:?}"
    );
    let reply = read_mail_of(&env, who::ALICE)
        .into_iter()
        .find(|text| text.contains(&frank))
        .expect("Alice's reply");
    let rsa = fingerprint(&env, who::RSA2048);
    assert!(
        reply.contains(&format!("attached certificate {rsa} was not used")),
        "{reply}"
    );
}
