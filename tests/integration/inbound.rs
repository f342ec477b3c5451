//! `embargo ingest`: signed commands made by GnuPG as members make them,
//! and the hostile corpus. Every refused message must leave the database
//! exactly as it was and queue no reply.

use std::io::Write as _;

use crate::common::hostile::{huge_header, many_parts, nested};
use crate::common::mail::{
    Attachment, Headers, LIST_ADDRESS, REQUEST_ADDRESS, SIGNED_30_DAYS_AGO, SIGNED_IN_AN_HOUR,
    SIGNED_NOW, bounce, cleartext_signed, expired_key_signed_mime, forwarded, mixed_with_unsigned,
    revoked_key_signed_mime, rewrap, signed_encrypted_mime, signed_entity, signed_mime,
    signed_mime_sha1, unsigned,
};
use crate::common::outbox::of_kind;
use crate::common::store::WriteLock;
use crate::common::{Env, ingest, keys, who};

/// Alice (admin, committer) and Dave (subscriber) active, member mail
/// delivered, the bounce secret made: ready for inbound mail.
fn list() -> Env {
    let env = Env::new();
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.ok(&["queue", "run"]);
    env
}

fn to_list(from: &str) -> Headers {
    Headers::new(from, REQUEST_ADDRESS)
}

fn text(lines: &str) -> String {
    format!("Hello list,\n\nList: {LIST_ADDRESS}\n{lines}\n\n-- \nsent by a member\n")
}

fn status(env: &Env, email: &str) -> String {
    env.show(email)["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn replies(env: &Env) -> Vec<(String, String)> {
    of_kind(env, "reply")
}

/// Ingests `message`, which must be taken (exit 0) and change nothing.
fn refused_silently(env: &Env, what: &str, message: &[u8]) {
    let before = env.dump();
    assert_eq!(ingest(env, message), 0, "{what}: not taken");
    let after = env.dump();
    if after != before {
        let old: std::collections::HashSet<&str> = before.lines().collect();
        let new: Vec<&str> = after.lines().filter(|l| !old.contains(l)).collect();
        panic!(
            "{what}: the database changed; new or changed rows:\n{}",
            new.join("\n")
        );
    }
}

#[test]
fn a_committer_sponsors_a_new_member_by_signed_mail() {
    let env = list();
    let frank = Attachment::pgp_keys(keys().public(who::FRANK));
    let message = signed_mime(
        who::ALICE,
        &to_list(who::ALICE),
        &text(&format!(
            "SPONSOR {}\nName: Frank Doe\nOrg: User Org\nKind: user\nStatement: runs the largest deployment we know",
            who::FRANK
        )),
        &[frank],
        SIGNED_NOW,
    );
    assert_eq!(ingest(&env, &message), 0);
    let shown = env.show(who::FRANK);
    assert_eq!(shown["status"], "pending");
    assert_eq!(shown["sponsor"], who::ALICE);
    assert_eq!(
        of_kind(&env, "confirm").last(),
        Some(&(who::FRANK.to_owned(), "queued".to_owned()))
    );
    assert_eq!(
        replies(&env),
        vec![(who::ALICE.to_owned(), "queued".to_owned())]
    );
    let audit = env.ok(&["audit", "list", "--json"]).stdout;
    assert!(audit.contains(&format!("member:{}", who::ALICE)), "{audit}");
    // The same message again changes nothing and gets no second reply.
    refused_silently(&env, "replayed SPONSOR", &message);
}

#[test]
fn a_pending_member_confirms_with_a_signed_token() {
    let env = list();
    let token = env.add(who::FRANK, who::ALICE, &[]);
    let message = signed_mime(
        who::FRANK,
        &to_list(who::FRANK),
        &text(&format!("CONFIRM {token}")),
        &[],
        SIGNED_NOW,
    );
    assert_eq!(ingest(&env, &message), 0);
    assert_eq!(status(&env, who::FRANK), "active");
    assert_eq!(
        of_kind(&env, "welcome").last(),
        Some(&(who::FRANK.to_owned(), "queued".to_owned()))
    );
}

#[test]
fn a_pending_member_can_do_nothing_but_confirm() {
    let env = list();
    env.add(who::FRANK, who::ALICE, &[]);
    let message = signed_mime(
        who::FRANK,
        &to_list(who::FRANK),
        &text("UNSUBSCRIBE"),
        &[],
        SIGNED_NOW,
    );
    assert_eq!(ingest(&env, &message), 0);
    assert_eq!(status(&env, who::FRANK), "pending");
}

#[test]
fn set_key_unsubscribe_and_acks_by_signed_mail() {
    let env = list();
    // ACK, signed and encrypted to the list key, as Thunderbird sends it.
    env.draft("DF-2026-0030", "Acked", "low");
    env.ok(&["advisory", "announce", "DF-2026-0030"]);
    // An ACK counts only from a member the notice reached: send it first.
    env.ok(&["queue", "run"]);
    let list_cert = env.ok(&["key", "export"]).stdout.into_bytes();
    let ack = signed_encrypted_mime(
        who::DAVE,
        &list_cert,
        &to_list(who::DAVE),
        &text("ACK DF-2026-0030 not-affected we ship 1.3"),
        &[],
        SIGNED_NOW,
    );
    assert_eq!(ingest(&env, &ack), 0);
    let acks: Vec<serde_json::Value> = serde_json::from_str(
        &env.ok(&["advisory", "acks", "DF-2026-0030", "--json"])
            .stdout,
    )
    .expect("json");
    let dave = acks
        .iter()
        .find(|a| a["email"] == who::DAVE)
        .expect("Dave's row");
    assert_eq!(dave["status"], "not-affected");
    assert_eq!(dave["note"], "we ship 1.3");
    let alice = acks
        .iter()
        .find(|a| a["email"] == who::ALICE)
        .expect("Alice's row");
    assert!(alice["status"].is_null());
    let table = env.ok(&["advisory", "acks", "DF-2026-0030"]).stdout;
    assert!(table.contains("1 answered, 1 not yet"), "{table}");

    // SET-KEY, as an inline cleartext signature cannot carry a key: PGP/MIME.
    let old = env.show(who::DAVE)["fingerprint"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let new_cert = Attachment::pgp_keys(keys().public(who::CERTIFIED));
    let set_key = signed_mime(
        who::DAVE,
        &to_list(who::DAVE),
        &text("SET-KEY"),
        &[new_cert],
        SIGNED_NOW,
    );
    assert_eq!(ingest(&env, &set_key), 0);
    let new = env.show(who::DAVE)["fingerprint"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(new, old);
    let audit = env.ok(&["audit", "list", "--json"]).stdout;
    assert!(
        audit.contains(&old),
        "the old fingerprint is kept in the audit log"
    );

    // UNSUBSCRIBE, now signed with the new key (cleartext signature).
    let leave = cleartext_signed(
        who::CERTIFIED,
        &to_list(who::DAVE),
        &text("UNSUBSCRIBE"),
        "",
        SIGNED_NOW,
    );
    assert_eq!(ingest(&env, &leave), 0);
    assert_eq!(status(&env, who::DAVE), "removed");
    // Maintainers (Alice) are told.
    assert!(of_kind(&env, "report").iter().any(|(r, _)| r == who::ALICE));
}

#[test]
fn maintainers_suspend_approve_and_hold_and_others_are_refused() {
    let env = list();
    let suspend = signed_mime(
        who::ALICE,
        &to_list(who::ALICE),
        &text(&format!("SUSPEND {}", who::DAVE)),
        &[],
        SIGNED_NOW,
    );
    assert_eq!(ingest(&env, &suspend), 0);
    assert_eq!(status(&env, who::DAVE), "suspended");
    let approve = signed_mime(
        who::ALICE,
        &to_list(who::ALICE),
        &text(&format!("APPROVE {}", who::DAVE)),
        &[],
        SIGNED_NOW,
    );
    assert_eq!(ingest(&env, &approve), 0);
    assert_eq!(status(&env, who::DAVE), "active");

    // Dave is no maintainer: refused, with a reply saying which rule.
    let before = env.sql("SELECT status FROM members ORDER BY id");
    let attempt = signed_mime(
        who::DAVE,
        &to_list(who::DAVE),
        &text(&format!("SUSPEND {}", who::ALICE)),
        &[],
        SIGNED_NOW,
    );
    assert_eq!(ingest(&env, &attempt), 0);
    assert_eq!(env.sql("SELECT status FROM members ORDER BY id"), before);
    assert!(replies(&env).iter().any(|(r, _)| r == who::DAVE));
    env.ok(&["queue", "run"]);
    let member = crate::common::member::Member::new(&env, who::DAVE);
    let reply = crate::common::outbox::maildir(&env)
        .into_iter()
        .map(|f| std::fs::read(f).expect("mail"))
        .filter(|eml| String::from_utf8_lossy(eml).contains(&format!("To: {}", who::DAVE)))
        .map(|eml| crate::common::member::read_as_member(&env, &member, &eml))
        .find(|text| text.contains("read your signed message"))
        .expect("Dave's reply");
    assert!(
        reply.contains("needs an active maintainer or admin"),
        "{reply}"
    );

    // HOLD by Alice.
    env.draft("DF-2026-0031", "Held", "low");
    env.ok(&["advisory", "announce", "DF-2026-0031"]);
    let hold = signed_mime(
        who::ALICE,
        &to_list(who::ALICE),
        &text("HOLD DF-2026-0031 2026-06-10T14:00:00Z the patch slipped"),
        &[],
        SIGNED_NOW,
    );
    assert_eq!(ingest(&env, &hold), 0);
    assert_eq!(
        env.sql("SELECT hold_until FROM advisories WHERE ident = 'DF-2026-0031'")
            .trim(),
        "2026-06-10T14:00:00.000000Z"
    );
}

#[test]
fn the_corpus_changes_nothing_and_gets_no_reply() {
    let env = list();
    env.ok(&[
        "member",
        "add",
        who::ERIN,
        "--name",
        "Erin",
        "--org",
        "Distro",
        "--kind",
        "distribution",
        "--key",
        crate::common::path(&env.cert_file(who::ERIN)),
        "--sponsor",
        who::ALICE,
    ]);
    env.ok(&["member", "suspend", who::DAVE]);
    env.ok(&["queue", "run"]);
    let command = text(&format!("SUSPEND {}\nUNSUBSCRIBE", who::ALICE));

    refused_silently(&env, "unsigned", &unsigned(&to_list(who::ALICE), &command));
    refused_silently(
        &env,
        "a stranger's key",
        &signed_mime(
            who::RSA2048,
            &to_list(who::ALICE),
            &command,
            &[],
            SIGNED_NOW,
        ),
    );
    refused_silently(
        &env,
        "a suspended member",
        &signed_mime(who::DAVE, &to_list(who::DAVE), &command, &[], SIGNED_NOW),
    );
    refused_silently(
        &env,
        "a stranger's key with a member's From",
        &signed_mime(who::CAROL, &to_list(who::ERIN), &command, &[], SIGNED_NOW),
    );
    let entity = signed_entity(who::ALICE, &command, &[], SIGNED_NOW);
    refused_silently(
        &env,
        "signed part beside an unsigned command",
        &mixed_with_unsigned(
            &to_list(who::ALICE),
            &entity,
            &format!("List: {LIST_ADDRESS}\nSUSPEND {}", who::ERIN),
        ),
    );
    let whole = rewrap(&to_list(who::ALICE), &entity);
    refused_silently(
        &env,
        "forwarded as message/rfc822",
        &forwarded(&to_list(who::ALICE), "see below", &whole),
    );
    refused_silently(
        &env,
        "30 days old",
        &signed_mime(
            who::ALICE,
            &to_list(who::ALICE),
            &command,
            &[],
            SIGNED_30_DAYS_AGO,
        ),
    );
    refused_silently(
        &env,
        "from the future",
        &signed_mime(
            who::ALICE,
            &to_list(who::ALICE),
            &command,
            &[],
            SIGNED_IN_AN_HOUR,
        ),
    );
    refused_silently(
        &env,
        "for another list",
        &signed_mime(
            who::ALICE,
            &to_list(who::ALICE),
            "List: other-list@elsewhere.example\nUNSUBSCRIBE\n",
            &[],
            SIGNED_NOW,
        ),
    );
    refused_silently(
        &env,
        "SHA-1",
        &signed_mime_sha1(who::ALICE, &to_list(who::ALICE), &command, SIGNED_NOW),
    );
    refused_silently(&env, "nested 1,000 deep", &nested(1000));
    refused_silently(&env, "100,000 parts", &many_parts(100_000));
    refused_silently(&env, "a 20 MiB header", &huge_header(20 * 1024 * 1024));
    for file in [
        "invalid-utf8.eml",
        "duplicate-content-type.eml",
        "boundary-tricks.eml",
        "unsigned-command.eml",
        "fake-signature.eml",
        "bare-lf.eml",
        "nested-1000.eml",
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/inbound")
            .join(file);
        refused_silently(&env, file, &std::fs::read(path).expect("corpus file"));
    }
    // A forged bounce: a VERP address with a wrong token.
    refused_silently(
        &env,
        "forged bounce",
        &bounce(
            "security-announce-bounces+1-0000000000000000@project.example",
            who::DAVE,
            "5.1.1",
            "<x@project.example>",
        ),
    );
    assert!(replies(&env).is_empty());
}

#[test]
fn the_same_signed_part_in_a_new_wrapper_is_a_replay() {
    let env = list();
    let entity = signed_entity(
        who::ALICE,
        &text(&format!("SUSPEND {}", who::DAVE)),
        &[],
        SIGNED_NOW,
    );
    assert_eq!(ingest(&env, &rewrap(&to_list(who::ALICE), &entity)), 0);
    assert_eq!(status(&env, who::DAVE), "suspended");
    env.ok(&["member", "resume", who::DAVE]);
    let mut other = to_list(who::ALICE);
    other.subject = "again".to_owned();
    refused_silently(&env, "re-wrapped", &rewrap(&other, &entity));
    assert_eq!(status(&env, who::DAVE), "active");
}

#[test]
fn a_committer_key_with_another_members_from_acts_as_the_signer() {
    let env = list();
    // From says Dave; Alice signed. UNSUBSCRIBE would remove the signer,
    // and Alice is the last admin: refused. Dave is untouched, and only
    // Alice hears about it.
    let message = signed_mime(
        who::ALICE,
        &to_list(who::DAVE),
        &text("UNSUBSCRIBE"),
        &[],
        SIGNED_NOW,
    );
    assert_eq!(ingest(&env, &message), 0);
    assert_eq!(status(&env, who::DAVE), "active");
    assert_eq!(status(&env, who::ALICE), "active");
    assert_eq!(
        replies(&env),
        vec![(who::ALICE.to_owned(), "queued".to_owned())]
    );
}

#[test]
fn text_after_a_cleartext_signature_is_ignored() {
    let env = list();
    let message = cleartext_signed(
        who::ALICE,
        &to_list(who::ALICE),
        &text("UNSUBSCRIBE-NOT-A-COMMAND"),
        &format!("SUSPEND {}\n", who::DAVE),
        SIGNED_NOW,
    );
    assert_eq!(ingest(&env, &message), 0);
    assert_eq!(status(&env, who::DAVE), "active");
}

#[test]
fn revoked_and_expired_keys_do_not_count() {
    let env = list();
    let (revoked, message) = revoked_key_signed_mime(
        who::DAVE,
        &to_list(who::DAVE),
        &text("UNSUBSCRIBE"),
        SIGNED_NOW,
    );
    let file = env.file("revoked.asc", &revoked);
    env.ok(&[
        "member",
        "set-key",
        who::DAVE,
        "--key",
        crate::common::path(&file),
    ]);
    refused_silently(&env, "a revoked key", &message);
    assert_eq!(status(&env, who::DAVE), "active");

    let (cert, message) = expired_key_signed_mime(
        "january@vendor.example",
        &to_list("january@vendor.example"),
        &text("UNSUBSCRIBE"),
    );
    let file = env.file("january.asc", &cert);
    let added = env.run_at(
        "2026-01-20T12:00:00Z",
        &[
            "member",
            "add",
            "january@vendor.example",
            "--name",
            "Jan",
            "--org",
            "O",
            "--kind",
            "vendor",
            "--key",
            crate::common::path(&file),
            "--sponsor",
            who::ALICE,
        ],
    );
    assert_eq!(added.code, 0, "{}", added.stderr);
    refused_silently(&env, "an expired key", &message);
}

#[test]
fn a_bounce_with_a_valid_token_raises_the_bounce_score() {
    use crate::common::smtp::{Rules, SmtpServer};
    let env = list();
    env.draft("DF-2026-0032", "Bounced", "low");
    env.ok(&["advisory", "announce", "DF-2026-0032"]);
    let smtp = SmtpServer::start(&env.dir.path().join("smtp"), &Rules::new());
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(&env.config)
        .expect("config");
    write!(config, "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\n[inbound]\nbounce_threshold = 1.0\n", smtp.port()).expect("config");
    drop(config);
    env.ok(&["queue", "run"]);
    let to_dave = smtp
        .accepted()
        .into_iter()
        .find(|r| r.rcpt == vec![who::DAVE.to_owned()])
        .expect("Dave's notice");
    let verp = to_dave.mail_from.clone();
    // Forged: the right id, a wrong token.
    let forged = verp.replacen(&verp[verp.len() - 30..verp.len() - 24], "ffffff", 1);
    refused_silently(
        &env,
        "forged token",
        &bounce(&forged, who::DAVE, "5.1.1", "<x@y>"),
    );
    let reports_before = of_kind(&env, "report").len();
    assert_eq!(
        ingest(
            &env,
            &bounce(
                &verp,
                who::DAVE,
                "5.1.1",
                to_dave.message_id.as_deref().unwrap_or("<x@y>")
            )
        ),
        0
    );
    assert_eq!(
        env.sql(&format!(
            "SELECT bounce_score FROM members WHERE email = '{}'",
            who::DAVE
        ))
        .trim()
        .parse::<f64>()
        .expect("a score"),
        1.0
    );
    assert_eq!(
        env.sql("SELECT count(*) FROM deliveries WHERE bounce = 'hard'")
            .trim(),
        "1"
    );
    // At the threshold maintainers are told; nobody is removed.
    assert_eq!(of_kind(&env, "report").len(), reports_before + 1);
    assert_eq!(status(&env, who::DAVE), "active");
    // The same bounce again counts once.
    assert_eq!(ingest(&env, &bounce(&verp, who::DAVE, "5.1.1", "<x@y>")), 0);
    assert_eq!(
        env.sql(&format!(
            "SELECT bounce_score FROM members WHERE email = '{}'",
            who::DAVE
        ))
        .trim()
        .parse::<f64>()
        .expect("a score"),
        1.0
    );
}

#[test]
fn help_commands_documents_every_command() {
    let env = Env::new();
    let help = env.ok(&["help", "commands"]).stdout;
    for command in [
        "SPONSOR",
        "CONFIRM",
        "SET-KEY",
        "UNSUBSCRIBE",
        "ACK",
        "APPROVE",
        "SUSPEND",
        "HOLD",
        "List:",
    ] {
        assert!(help.contains(command), "{command} missing:\n{help}");
    }
}

#[test]
fn a_busy_database_makes_the_mta_retry() {
    let env = list();
    let message = signed_mime(
        who::ALICE,
        &to_list(who::ALICE),
        &text(&format!("SUSPEND {}", who::DAVE)),
        &[],
        SIGNED_NOW,
    );
    // Hold the write lock from a database shell while ingest runs.
    let lock = WriteLock::take(&env);
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(&env.config)
        .expect("config");
    writeln!(config, "busy_timeout_ms = 200").expect("config");
    drop(config);
    let code = ingest(&env, &message);
    lock.release();
    assert_eq!(code, 75);
    assert_eq!(status(&env, who::DAVE), "active");
    // Retried later, it goes through.
    assert_eq!(ingest(&env, &message), 0);
    assert_eq!(status(&env, who::DAVE), "suspended");
}
