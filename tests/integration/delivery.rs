//! Delivery: the outbox, `queue run`, the maildir transport, and what
//! happens at and around the scheduled instant (fixed clocks).

use crate::common::member::{Member, TITLE_CANARY, announced, read_as_member};
use crate::common::outbox::{copies, maildir, of_kind};
use crate::common::{Env, NOW, path, who};

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

#[test]
fn nothing_goes_one_second_before_the_instant_and_everything_right_after() {
    let env = Env::new();
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.add_active(who::ERIN, who::ALICE, &[]);
    env.ok(&["queue", "run"]);
    env.draft("DF-2026-0002", "Timing", "low");
    env.ok(&[
        "advisory",
        "announce",
        "DF-2026-0002",
        "--at",
        "2026-06-01T13:00:00Z",
    ]);
    let sealed = of_kind(&env, "notice");
    assert_eq!(
        sealed.len(),
        3,
        "sealed for every active member at scheduling"
    );
    let before = env.run_at("2026-06-01T12:59:59Z", &["queue", "run", "--json"]);
    assert_eq!(before.code, 0, "{}", before.stderr);
    assert!(of_kind(&env, "notice").iter().all(|(_, s)| s == "queued"));
    assert_eq!(env.sql("SELECT status FROM advisories").trim(), "scheduled");
    let after = env.run_at("2026-06-01T13:00:01Z", &["queue", "run"]);
    assert_eq!(after.code, 0, "{}", after.stderr);
    assert!(
        of_kind(&env, "notice").iter().all(|(_, s)| s == "sent"),
        "{:?}",
        copies(&env)
    );
    assert_eq!(env.sql("SELECT status FROM advisories").trim(), "notified");
    let _ = NOW;
}

/// Regression: the outer `Date:` of a copy sealed at announce time was the
/// sealing time, hours before the copy was sent. It is the send time.
#[test]
fn the_outer_date_of_a_pre_sealed_copy_is_the_send_time() {
    let env = scheduled_for_one_pm();
    let files_before = maildir(&env).len();
    let run = env.run_at("2026-06-01T13:00:07Z", &["queue", "run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sent: Vec<String> = maildir(&env)[files_before..]
        .iter()
        .map(|file| String::from_utf8_lossy(&std::fs::read(file).expect("read mail")).into_owned())
        .collect();
    assert_eq!(sent.len(), 3, "the notices to Alice, Dave and Erin");
    for mail in &sent {
        let headers = mail.split("\r\n\r\n").next().unwrap_or_default();
        let dates: Vec<&str> = headers
            .lines()
            .filter(|line| line.to_ascii_lowercase().starts_with("date:"))
            .collect();
        assert_eq!(
            dates,
            vec!["Date: Mon, 01 Jun 2026 13:00:07 +0000"],
            "{headers}"
        );
    }
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
fn a_member_removed_after_scheduling_receives_nothing() {
    let env = scheduled_for_one_pm();
    assert_eq!(of_kind(&env, "notice").len(), 3);
    env.ok(&[
        "member",
        "remove",
        who::ERIN,
        "--reason",
        "left the company",
    ]);
    let files_before = maildir(&env).len();
    let run = env.run_at(ONE_PM, &["queue", "run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let notices = of_kind(&env, "notice");
    assert!(
        notices.contains(&(who::ERIN.to_owned(), "dropped".to_owned())),
        "{notices:?}"
    );
    assert!(
        notices.contains(&(who::DAVE.to_owned(), "sent".to_owned())),
        "{notices:?}"
    );
    let new_files: Vec<_> = maildir(&env).into_iter().skip(files_before).collect();
    assert_eq!(new_files.len(), 2, "Alice and Dave only");
    // Erin's only mail is her confirm and welcome, from before.
    assert_eq!(maildir_with(&env, &format!("To: {}", who::ERIN)).len(), 2);
    let erin_after = env.sql(&format!(
        "SELECT count(*) FROM deliveries WHERE recipient = '{}' AND state = 'sent' AND announcement_id IN \
         (SELECT id FROM announcements WHERE advisory_id IS NOT NULL)",
        who::ERIN
    ));
    assert_eq!(erin_after.trim(), "0");
}

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

#[test]
fn an_update_reaches_only_members_already_told() {
    let env = Env::new();
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.draft("DF-2026-0004", "Updated", "high");
    env.ok(&["advisory", "announce", "DF-2026-0004"]);
    env.ok(&["queue", "run"]);
    // Erin joins after the notice went out, and has not been told yet.
    env.add_active(who::ERIN, who::ALICE, &[]);
    env.ok(&["advisory", "edit", "DF-2026-0004", "--severity", "critical"]);
    let updates = of_kind(&env, "update");
    let mut told: Vec<&str> = updates.iter().map(|(r, _)| r.as_str()).collect();
    told.sort();
    assert_eq!(told, vec![who::ALICE, who::DAVE]);
    // Erin's notice of revision 1 (sealed when she was confirmed, not yet
    // sent) stopped; she gets the notice of the new revision instead.
    let erin_notices = env.sql(&format!(
        "SELECT a.revision || ' ' || d.state FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
         WHERE a.kind = 'notice' AND d.recipient = '{}' ORDER BY d.id",
        who::ERIN
    ));
    assert_eq!(erin_notices, "1 dropped\n2 queued\n");
    env.ok(&["queue", "run"]);
    assert!(of_kind(&env, "update").iter().all(|(_, s)| s == "sent"));
}

#[test]
fn the_daily_key_expiry_check_warns_the_member_and_maintainers() {
    let env = Env::new();
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.add_active(who::EXPIRING_SUBKEY, who::ALICE, &[]);
    // The first run starts the schedule; the check runs at the next 06:00.
    env.ok(&["queue", "run"]);
    let early = env.run_at("2026-06-02T05:59:59Z", &["queue", "run"]);
    assert_eq!(early.code, 0, "{}", early.stderr);
    assert!(of_kind(&env, "key-expiry").is_empty());
    let due = env.run_at("2026-06-02T06:00:01Z", &["queue", "run"]);
    assert_eq!(due.code, 0, "{}", due.stderr);
    assert_eq!(
        of_kind(&env, "key-expiry"),
        vec![(who::EXPIRING_SUBKEY.to_owned(), "sent".to_owned())]
    );
    assert_eq!(
        of_kind(&env, "report"),
        vec![(who::ALICE.to_owned(), "sent".to_owned())]
    );
    // Once a day, not on every run.
    let again = env.run_at("2026-06-02T07:00:00Z", &["queue", "run"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(of_kind(&env, "key-expiry").len(), 1);
    // Confirm, welcome and the warning, each encrypted to the member.
    let mails = maildir_with(&env, &format!("To: {}", who::EXPIRING_SUBKEY));
    assert_eq!(mails.len(), 3);
    assert!(
        mails
            .iter()
            .all(|eml| String::from_utf8_lossy(eml).contains("multipart/encrypted"))
    );
}

#[test]
fn a_member_who_joins_during_an_embargo_gets_the_notice_when_confirmed() {
    let env = announced();
    env.ok(&["queue", "run"]);
    let token = env.add(who::ERIN, who::ALICE, &[]);
    assert!(!of_kind(&env, "notice").iter().any(|(r, _)| r == who::ERIN));
    env.ok(&["member", "confirm", who::ERIN, "--token", &token]);
    assert!(
        of_kind(&env, "notice").contains(&(who::ERIN.to_owned(), "queued".to_owned())),
        "{:?}",
        copies(&env)
    );
}
