//! Delivery: the outbox, `queue run`, the maildir transport, and what
//! happens at and around the scheduled instant (fixed clocks).

use crate::common::member::{Member, TITLE_CANARY, announced, read_as_member};
use crate::common::outbox::{copies, maildir, of_kind};
use crate::common::{Env, path, who};

fn maildir_with(env: &Env, needle: &str) -> Vec<Vec<u8>> {
    maildir(env)
        .into_iter()
        .map(|file| std::fs::read(file).expect("read mail"))
        .filter(|bytes| String::from_utf8_lossy(bytes).contains(needle))
        .collect()
}

#[test]
fn announce_seals_every_copy_and_queue_run_delivers_them_into_the_maildir() {
    let env = announced();
    // Sealed at announce time, before anything is sent.
    let notices = of_kind(&env, "notice");
    assert_eq!(
        notices,
        vec![
            (who::ALICE.to_owned(), "queued".to_owned()),
            (who::DAVE.to_owned(), "queued".to_owned())
        ]
    );
    let stored: String =
        env.sql("SELECT count(*) FROM deliveries WHERE message LIKE '%Zyzzogeton%'");
    assert_eq!(stored.trim(), "0", "clear text at rest in the outbox");
    assert!(maildir(&env).is_empty());

    let run = env.ok(&["queue", "run", "--json"]);
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert!(
        summary["delivered"]["sent"].as_u64().expect("sent") >= 2,
        "{summary}"
    );
    assert!(
        of_kind(&env, "notice")
            .iter()
            .all(|(_, state)| state == "sent"),
        "{:?}",
        copies(&env)
    );
    // Dave's copy decrypts and verifies as Dave.
    let member = Member::new(&env, who::DAVE);
    let daves: Vec<Vec<u8>> = maildir_with(&env, &format!("To: {}", who::DAVE));
    let text = daves
        .iter()
        .map(|eml| read_as_member(&env, &member, eml))
        .find(|text| text.contains("embargoed pre-disclosure notice"))
        .expect("Dave's notice in the maildir");
    assert!(text.contains(TITLE_CANARY));

    // A second run sends nothing again.
    let before = maildir(&env).len();
    env.ok(&["queue", "run"]);
    assert_eq!(maildir(&env).len(), before);
}

#[test]
fn member_mail_goes_out_encrypted_confirm_then_welcome() {
    let env = Env::new();
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    assert_eq!(
        of_kind(&env, "confirm"),
        vec![(who::DAVE.to_owned(), "queued".to_owned())]
    );
    assert_eq!(
        of_kind(&env, "welcome"),
        vec![(who::DAVE.to_owned(), "queued".to_owned())]
    );
    env.ok(&["queue", "run"]);
    let member = Member::new(&env, who::DAVE);
    let texts: Vec<String> = maildir_with(&env, &format!("To: {}", who::DAVE))
        .iter()
        .map(|eml| read_as_member(&env, &member, eml))
        .collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("CONFIRM ")), "{texts:?}");
    assert!(
        texts.iter().any(|t| t.contains("You are now a member")),
        "{texts:?}"
    );
}

/// A list with Alice (admin) and Dave and Erin active, nothing queued, and
/// an advisory announced for 13:00 on the test day.
fn scheduled_for_one_pm() -> Env {
    let env = Env::new();
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.add_active(who::ERIN, who::ALICE, &[]);
    env.ok(&["queue", "run"]);
    env.draft("DF-2026-0003", "Scheduled", "high");
    env.ok(&[
        "advisory",
        "announce",
        "DF-2026-0003",
        "--at",
        "2026-06-01T13:00:00Z",
    ]);
    env
}

const ONE_PM: &str = "2026-06-01T13:00:01Z";

#[test]
fn a_member_whose_key_was_revoked_after_scheduling_gets_only_missed() {
    let env = scheduled_for_one_pm();
    let update = env.file(
        "dave-revoked.asc",
        &crate::common::revoked_update(who::DAVE),
    );
    let run = env.ok(&["member", "set-key", who::DAVE, "--key", path(&update)]);
    assert!(run.stderr.contains("missed"), "{}", run.stderr);
    let run = env.run_at(ONE_PM, &["queue", "run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let notices = of_kind(&env, "notice");
    assert!(
        notices.contains(&(who::DAVE.to_owned(), "missed".to_owned())),
        "{notices:?}"
    );
    assert!(
        notices.contains(&(who::ERIN.to_owned(), "sent".to_owned())),
        "{notices:?}"
    );
    // Dave got the content-free notice, signed and not encrypted; nothing
    // else about the advisory.
    let missed = of_kind(&env, "missed");
    assert_eq!(missed, vec![(who::DAVE.to_owned(), "sent".to_owned())]);
    let daves = maildir_with(&env, &format!("To: {}", who::DAVE));
    let advisory_mail: Vec<_> = daves
        .iter()
        .filter(|eml| {
            let text = String::from_utf8_lossy(eml);
            text.contains("multipart/encrypted")
        })
        .collect();
    // Confirm and welcome were encrypted before the revocation; nothing after.
    assert_eq!(
        advisory_mail.len(),
        2,
        "only confirm and welcome were encrypted to Dave"
    );
    assert!(
        daves
            .iter()
            .any(|eml| String::from_utf8_lossy(eml).contains("could not be encrypted"))
    );
    // Maintainers (Alice, admin) were told, encrypted.
    let reports = of_kind(&env, "report");
    assert_eq!(reports, vec![(who::ALICE.to_owned(), "sent".to_owned())]);
}
