//! The mail rows of the matrix: every signed command sent to beta's
//! request address by alpha's admin, and by a person on both lists naming
//! alpha; and one message naming both lists.

use super::{
    ALPHA, ALPHA_ADDRESS, ALPHA_REQUEST, BETA, BETA_ADDRESS, BETA_ADVISORY, BETA_REQUEST, deliver,
    done_on_beta, dumps, mail, unchanged, world,
};
use crate::common::lists::{copy, ingest_to, ok_on};
use crate::common::mail::{
    Attachment, Headers, SIGNED_NOW, cleartext_signed, signed_encrypted_mime,
};
use crate::common::{Env, keys, revoked_update, who};

/// Every mail command, as beta's Dave would send it to beta (what it
/// names is beta's), with its attachments.
fn mail_commands() -> Vec<(&'static str, String, Vec<Attachment>)> {
    let bob = Attachment::pgp_keys(keys().public(who::BOB));
    let dave_update = Attachment::pgp_keys(&revoked_update(who::DAVE));
    vec![
        (
            "SPONSOR",
            format!(
                "SPONSOR {}\nName: Bob\nOrg: Org\nKind: vendor\nStatement: known",
                who::BOB
            ),
            vec![bob],
        ),
        ("SET-KEY", "SET-KEY".to_owned(), vec![dave_update]),
        ("UNSUBSCRIBE", "UNSUBSCRIBE".to_owned(), vec![]),
        ("ACK", format!("ACK {BETA_ADVISORY} affected"), vec![]),
        (
            "APPROVE",
            format!("APPROVE {}", who::EXPIRING_SUBKEY),
            vec![],
        ),
        ("SUSPEND", format!("SUSPEND {}", who::CERTIFIED), vec![]),
        (
            "HOLD",
            format!("HOLD {BETA_ADVISORY} 2026-06-10T14:00:00Z patch slipped"),
            vec![],
        ),
    ]
}

/// Every mail command, sent to beta's request address: signed by alpha's
/// admin (naming beta, or alpha), and signed by Dave — on both lists with
/// one key — naming alpha. None is carried out, none answered, no row of
/// either list changes. Dave's same message naming beta is carried out (on
/// a copy).
#[test]
fn no_mail_command_acts_on_beta_unless_it_names_beta() {
    let world = world();
    let env = &world.env;
    let help = env.ok(&["help", "commands"]).stdout;
    let mut commands = mail_commands();
    commands.push(("CONFIRM", format!("CONFIRM {}", world.alpha_token), vec![]));
    for (verb, _, _) in &commands {
        assert!(
            help.contains(&format!("  {verb} ")),
            "{verb} is not in `help commands`"
        );
    }
    let documented = help
        .lines()
        .filter(|l| l.starts_with("  ") && l.len() > 2 && l.as_bytes()[2].is_ascii_uppercase())
        .count();
    assert_eq!(
        documented,
        commands.len(),
        "a mail command the matrix does not cover:\n{help}"
    );
    let _smtp = deliver(env);
    let before = dumps(env);
    let mut runs = 0;
    for (verb, lines, attachments) in &commands {
        let signer = if *verb == "CONFIRM" {
            who::RSA2048
        } else {
            who::DAVE
        };
        let attempts = [
            (who::ALICE, BETA_REQUEST, BETA_ADDRESS),
            (who::ALICE, ALPHA_REQUEST, ALPHA_ADDRESS),
            (signer, ALPHA_REQUEST, ALPHA_ADDRESS),
        ];
        for (from, to, list) in attempts {
            let message = mail(from, to, list, lines, attachments);
            assert_eq!(
                ingest_to(env, BETA_REQUEST, &message),
                0,
                "{verb} by {from}"
            );
            unchanged(
                env,
                &before,
                &format!("{verb} signed by {from} naming {list}"),
            );
            runs += 1;
        }
        if *verb != "CONFIRM" {
            let control = copy(env);
            let message = mail(signer, BETA_REQUEST, BETA_ADDRESS, lines, attachments);
            assert_eq!(ingest_to(&control, BETA_REQUEST, &message), 0);
            assert_eq!(
                done_on_beta(&control),
                1,
                "{verb} naming beta was not carried out on beta"
            );
        }
    }
    runs += other_forms_naming_alpha(env, &commands, &before);
    println!(
        "mail matrix: {} commands x 3 senders + 3 other forms = {runs} refused messages",
        commands.len()
    );
}

/// The class next to one command per message: every command of Dave's in
/// one message, a cleartext signature, and a message signed and encrypted
/// to beta's own key (so beta reads it) — all naming alpha, all sent to
/// beta. None changes anything. Answers how many were sent.
fn other_forms_naming_alpha(
    env: &Env,
    commands: &[(&str, String, Vec<Attachment>)],
    before: &(String, String),
) -> usize {
    let daves: Vec<&(&str, String, Vec<Attachment>)> = commands
        .iter()
        .filter(|(verb, _, _)| *verb != "CONFIRM")
        .collect();
    let all_lines: Vec<&str> = daves.iter().map(|(_, lines, _)| lines.as_str()).collect();
    let all_lines = all_lines.join("\n");
    let text = format!("Hello,\n\nList: {ALPHA_ADDRESS}\nUNSUBSCRIBE\n");
    let beta_key = ok_on(env, BETA, &["key", "export"]).stdout;
    let headers = || Headers::new(who::DAVE, BETA_REQUEST);
    let messages = [
        mail(who::DAVE, BETA_REQUEST, ALPHA_ADDRESS, &all_lines, &[]),
        cleartext_signed(who::DAVE, &headers(), &text, "", SIGNED_NOW),
        signed_encrypted_mime(
            who::DAVE,
            beta_key.as_bytes(),
            &headers(),
            &text,
            &[],
            SIGNED_NOW,
        ),
    ];
    for (n, message) in messages.iter().enumerate() {
        assert_eq!(ingest_to(env, BETA_REQUEST, message), 0);
        unchanged(
            env,
            before,
            &format!("form {n} of Dave's mail naming alpha"),
        );
    }
    // Naming beta, the same forms are carried out there (on a copy).
    let control = copy(env);
    let text = text.replace(ALPHA_ADDRESS, BETA_ADDRESS);
    let message = signed_encrypted_mime(
        who::DAVE,
        beta_key.as_bytes(),
        &headers(),
        &text,
        &[],
        SIGNED_NOW,
    );
    assert_eq!(ingest_to(&control, BETA_REQUEST, &message), 0);
    assert_eq!(
        done_on_beta(&control),
        1,
        "encrypted UNSUBSCRIBE naming beta"
    );
    messages.len()
}

/// One signed message addressed to both lists (its own, signed To: names
/// both request addresses), as the MTA hands it to each: the replay record
/// was one for the whole instance, so the first list's record made the
/// second list drop the message as "already used" — Dave left alpha and
/// stayed on beta. Each list now keeps its own replay record: the message
/// counts once on each, and a second delivery to either is a replay.
#[test]
fn a_message_to_both_lists_is_carried_out_on_each_and_replayed_on_neither() {
    let world = world();
    let env = &world.env;
    let (gpg, fpr) = crate::common::gnupg::GnuPg::with_secret(who::DAVE, SIGNED_NOW);
    let signed = format!(
        "To: {ALPHA_REQUEST}, {BETA_REQUEST}\r\nContent-Type: text/plain; charset=us-ascii\r\n\
         Content-Transfer-Encoding: 7bit\r\n\r\nHello both lists,\r\n\r\nUNSUBSCRIBE\r\n"
    );
    let signature = gpg.detach_sign(&fpr, signed.as_bytes(), SIGNED_NOW, None);
    let boundary = crate::common::mail::boundary();
    let mut entity = format!(
        "Content-Type: multipart/signed; boundary=\"{boundary}\";\r\n micalg={};\r\n \
         protocol=\"application/pgp-signature\"\r\n\r\n--{boundary}\r\n{signed}\r\n--{boundary}\r\n\
         Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n\r\n",
        signature.micalg
    )
    .into_bytes();
    entity.extend_from_slice(&signature.armor);
    entity.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let message = crate::common::mail::rewrap(
        &Headers::new(who::DAVE, &format!("{ALPHA_REQUEST}, {BETA_REQUEST}")),
        &entity,
    );
    let status = |list: &str| {
        env.sql(&format!(
            "SELECT status FROM members WHERE email = '{}' AND list_id = (SELECT id FROM lists WHERE name = '{list}')",
            who::DAVE
        ))
        .trim()
        .to_owned()
    };
    for (recipient, list) in [(ALPHA_REQUEST, ALPHA), (BETA_REQUEST, BETA)] {
        assert_eq!(ingest_to(env, recipient, &message), 0);
        assert_eq!(
            status(list),
            "removed",
            "UNSUBSCRIBE was not carried out on {list}"
        );
    }
    let before = dumps(env);
    for recipient in [ALPHA_REQUEST, BETA_REQUEST] {
        assert_eq!(ingest_to(env, recipient, &message), 0);
        unchanged(
            env,
            &before,
            &format!("the same message again to {recipient}"),
        );
    }
}

/// `ingest --list alpha --recipient <beta's request address>` (a `--list`
/// or an EMBARGO_LIST left in the MTA's environment) ran beta's mail as
/// alpha, which dropped it as not its own and exited 0: the message was
/// lost. A `--list` that names another list than the recipient is now a
/// temporary failure (75), so the MTA keeps the message, and nothing
/// changes; the same list both ways, or a recipient of no list, is read
/// as before.
#[test]
fn ingest_refuses_a_list_that_is_not_the_recipients() {
    let world = world();
    let env = &world.env;
    let text = "UNSUBSCRIBE";
    let message = mail(who::DAVE, BETA_REQUEST, BETA_ADDRESS, text, &[]);
    let before = dumps(env);
    let ingest = |list: &str, recipient: &str| {
        env.command()
            .args(["--list", list, "ingest", "--recipient", recipient])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write as _;
                child.stdin.take().expect("stdin").write_all(&message)?;
                child.wait_with_output()
            })
            .expect("run embargo ingest")
    };
    for recipient in [BETA_REQUEST, BETA_ADDRESS, "Beta-Request@Lists.Example"] {
        let out = ingest(ALPHA, recipient);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(75), "{stderr}");
        assert!(stderr.contains("another list"), "{stderr}");
        unchanged(
            env,
            &before,
            &format!("--list alpha --recipient {recipient}"),
        );
    }
    let out = ingest(BETA, BETA_REQUEST);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(done_on_beta(env), 1, "beta's own mail was not carried out");
}
