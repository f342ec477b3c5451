//! The scheduler pass and delivery in-process, with a clock the test moves:
//! every kind the scheduler makes, at its instant and not a microsecond
//! earlier. No child process, no GnuPG, no Python (see `common::inproc`).

use std::time::Duration;

use embargo::advisory::Severity;
use embargo::text::Reason;

use crate::common::inproc::{Inproc, maildir_name};
use crate::common::who;

const ID: &str = "DF-2026-0010";

/// Alice (admin), Dave and Erin active, their member mail delivered.
async fn list_of_three(extra: &str) -> Inproc {
    let list = Inproc::with_config(extra).await;
    list.add_active(who::DAVE, who::ALICE).await;
    list.add_active(who::ERIN, who::ALICE).await;
    list.run().await;
    list
}

/// The recipients of `copies`, sorted, each with its state.
fn sorted(mut copies: Vec<(String, String)>) -> Vec<(String, String)> {
    copies.sort();
    copies
}

/// `(recipient, state)` for each of `who`, sorted.
fn each(who: &[&str], state: &str) -> Vec<(String, String)> {
    sorted(
        who.iter()
            .map(|email| ((*email).to_owned(), state.to_owned()))
            .collect(),
    )
}

const THREE: [&str; 3] = [who::ALICE, who::DAVE, who::ERIN];

#[tokio::test]
async fn the_notice_is_sealed_at_scheduling_and_sent_at_the_announce_time_not_a_microsecond_earlier()
 {
    let list = list_of_three("").await;
    list.draft(ID, "Timing", Severity::Low).await;
    list.announce(ID, Some("2026-06-01T13:00:00Z")).await;
    assert_eq!(sorted(list.of_kind("notice").await), each(&THREE, "queued"));
    let files = list.maildir().len();

    list.set("2026-06-01T12:59:59.999999Z");
    list.prepare().await;
    assert_eq!(list.deliver().await, 0);
    assert_eq!(sorted(list.of_kind("notice").await), each(&THREE, "queued"));
    assert_eq!(list.status(ID).await, "scheduled");
    assert_eq!(list.maildir().len(), files);

    list.set("2026-06-01T13:00:00Z");
    list.prepare().await;
    list.deliver().await;
    assert_eq!(sorted(list.of_kind("notice").await), each(&THREE, "sent"));
    assert_eq!(list.status(ID).await, "notified");
    assert_eq!(list.maildir().len(), files + 3);
    // Alice, made by `init`, had no confirm or welcome.
    assert_eq!(list.mail_to(who::ALICE).len(), 1, "the notice");
    for email in [who::DAVE, who::ERIN] {
        assert_eq!(list.mail_to(email).len(), 3, "confirm, welcome, notice");
    }
}

#[tokio::test]
async fn the_reminder_is_sealed_seal_ahead_before_it_is_due_and_sent_at_its_time() {
    // Defaults: the reminder is 24 h before the disclosure (2026-06-09
    // 14:00), sealed 15 minutes ahead of that.
    let list = list_of_three("").await;
    list.draft(ID, "Reminded", Severity::High).await;
    list.announce(ID, None).await;
    list.run().await;

    list.set("2026-06-08T13:44:59.999999Z");
    list.prepare().await;
    assert!(list.of_kind("reminder").await.is_empty());

    list.set("2026-06-08T13:45:00Z");
    list.prepare().await;
    assert_eq!(
        sorted(list.of_kind("reminder").await),
        each(&THREE, "queued")
    );
    // A second pass seals nothing twice.
    list.prepare().await;
    assert_eq!(list.of_kind("reminder").await.len(), 3);

    list.set("2026-06-08T13:59:59.999999Z");
    list.deliver().await;
    assert_eq!(
        sorted(list.of_kind("reminder").await),
        each(&THREE, "queued")
    );
    list.set("2026-06-08T14:00:00Z");
    list.deliver().await;
    assert_eq!(sorted(list.of_kind("reminder").await), each(&THREE, "sent"));
}

#[tokio::test]
async fn a_planned_update_goes_to_those_told_and_a_late_joiner_gets_the_new_notice() {
    let list = Inproc::new().await;
    list.add_active(who::DAVE, who::ALICE).await;
    list.draft(ID, "Updated", Severity::High).await;
    list.announce(ID, None).await;
    list.run().await;
    list.add_active(who::ERIN, who::ALICE).await;
    let input = embargo::app::advisory::AdvisoryInput {
        severity: Some(Severity::Critical),
        ..Default::default()
    };
    list.app
        .edit_advisory(ID, &input, &Default::default())
        .await
        .expect("advisory edit");
    assert_eq!(
        sorted(list.of_kind("update").await),
        each(&[who::ALICE, who::DAVE], "queued")
    );
    list.deliver().await;
    assert_eq!(
        sorted(list.of_kind("update").await),
        each(&[who::ALICE, who::DAVE], "sent")
    );
    assert!(
        list.mail_to(who::ERIN).len() == 3,
        "confirm, welcome, notice"
    );
}

#[tokio::test]
async fn a_cancellation_goes_to_those_told_and_stops_every_unsent_notice() {
    let list = Inproc::new().await;
    list.add_active(who::DAVE, who::ALICE).await;
    list.draft(ID, "Cancelled", Severity::High).await;
    list.announce(ID, None).await;
    list.run().await;
    // Erin joins after the notice went out: hers is sealed, not yet sent.
    list.add_active(who::ERIN, who::ALICE).await;
    assert!(
        list.of_kind("notice")
            .await
            .contains(&(who::ERIN.to_owned(), "queued".to_owned()))
    );
    list.app
        .cancel_advisory(
            ID,
            &Reason::parse("not a vulnerability after all").expect("a reason"),
        )
        .await
        .expect("advisory cancel");
    assert_eq!(list.status(ID).await, "cancelled");
    assert!(
        list.of_kind("notice")
            .await
            .contains(&(who::ERIN.to_owned(), "dropped".to_owned()))
    );
    assert_eq!(
        sorted(list.of_kind("cancellation").await),
        each(&[who::ALICE, who::DAVE], "queued")
    );
    list.advance(Duration::from_secs(1));
    list.run().await;
    assert_eq!(
        sorted(list.of_kind("cancellation").await),
        each(&[who::ALICE, who::DAVE], "sent")
    );
    // Nothing about it reached Erin but her member mail.
    assert_eq!(list.mail_to(who::ERIN).len(), 2);
}

#[tokio::test]
async fn the_disclosure_is_published_at_its_time_and_not_a_microsecond_earlier() {
    let list = list_of_three("[mail]\npublic_addresses = [\"oss-security@lists.example\"]\n").await;
    list.draft(ID, "Disclosed", Severity::Moderate).await;
    list.announce(ID, None).await;
    list.run().await;

    list.set("2026-06-09T13:59:59.999999Z");
    let early = list.prepare().await;
    assert!(early.is_empty(), "{early:?}");
    assert_eq!(list.status(ID).await, "notified");
    assert!(list.of_kind("disclosure").await.is_empty());

    list.set("2026-06-09T14:00:00Z");
    let due = list.prepare().await;
    assert_eq!(due, vec![ID.to_owned()]);
    assert_eq!(list.status(ID).await, "disclosed");
    let mut public = THREE.to_vec();
    public.push("oss-security@lists.example");
    assert_eq!(
        sorted(list.of_kind("disclosure").await),
        each(&public, "queued")
    );
    list.deliver().await;
    assert_eq!(
        sorted(list.of_kind("disclosure").await),
        each(&public, "sent")
    );
    // The public copy is signed, not encrypted.
    let public_mail = list.mail_to("oss-security@lists.example");
    assert_eq!(public_mail.len(), 1);
    assert!(public_mail[0].contains("multipart/signed"));
    assert!(!public_mail[0].contains("multipart/encrypted"));
    // Later passes publish nothing again.
    list.advance(Duration::from_secs(3600));
    assert!(list.prepare().await.is_empty());
    assert_eq!(list.of_kind("disclosure").await.len(), 4);
}

#[tokio::test]
async fn a_member_whose_key_expired_gets_the_missed_notice_and_maintainers_a_report() {
    // The key-expiry job is kept out of the way (once a year), so the
    // only report is about the missed notice.
    let list = Inproc::with_config("[schedule]\nkey_expiry_check = \"0 6 1 1 *\"\n").await;
    list.add_active(who::DAVE, who::ALICE).await;
    list.add_active(who::EXPIRING_SUBKEY, who::ALICE).await;
    list.run().await;
    // The subkey expired on 2026-06-10.
    list.set("2026-06-11T12:00:00Z");
    list.draft_until(ID, "Missed", Severity::High, "2026-06-18T14:00:00Z")
        .await;
    list.announce(ID, None).await;
    let notices = list.of_kind("notice").await;
    assert!(notices.contains(&(who::EXPIRING_SUBKEY.to_owned(), "missed".to_owned())));
    assert!(notices.contains(&(who::DAVE.to_owned(), "queued".to_owned())));
    list.run().await;
    assert_eq!(
        list.of_kind("missed").await,
        vec![(who::EXPIRING_SUBKEY.to_owned(), "sent".to_owned())]
    );
    assert_eq!(
        list.of_kind("report").await,
        vec![(who::ALICE.to_owned(), "sent".to_owned())]
    );
    let missed = list.mail_to(who::EXPIRING_SUBKEY);
    assert!(
        missed
            .iter()
            .any(|mail| mail.contains("could not be encrypted"))
    );
    // Reported once: later passes add nothing.
    list.advance(Duration::from_secs(60));
    list.run().await;
    assert_eq!(list.of_kind("report").await.len(), 1);
}

#[tokio::test]
async fn a_copy_that_keeps_failing_is_given_up_reported_and_sent_on_retry_once_the_fault_clears() {
    let list = Inproc::with_config(
        "[delivery]\nretry_first = \"1m\"\nretry_max = \"1m\"\ngive_up_after = \"5m\"\n",
    )
    .await;
    list.add_active(who::DAVE, who::ALICE).await;
    list.run().await;
    list.draft(ID, "Failing", Severity::High).await;
    list.announce(ID, None).await;
    // A folder where Dave's notice (the advisory's only copy to him so far)
    // would land: the maildir cannot take it.
    let daves = list
        .rows()
        .await
        .into_iter()
        .find(|row| row.advisory.as_deref() == Some(ID) && row.recipient == who::DAVE)
        .expect("Dave's notice");
    let blocker = list
        .dir
        .path()
        .join("var/maildir/new")
        .join(maildir_name(daves.id, &daves.message_id));
    std::fs::create_dir_all(blocker.join("in-the-way")).expect("blocker");

    list.run().await;
    assert!(
        list.of_kind("notice")
            .await
            .contains(&(who::DAVE.to_owned(), "queued".to_owned()))
    );
    assert!(list.of_kind("report").await.is_empty());
    // Retried every minute until five minutes after it was due.
    for _ in 0..6 {
        list.advance(Duration::from_secs(60));
        list.run().await;
    }
    assert!(
        list.of_kind("notice")
            .await
            .contains(&(who::DAVE.to_owned(), "failed".to_owned()))
    );
    assert_eq!(
        list.of_kind("report").await,
        vec![(who::ALICE.to_owned(), "sent".to_owned())]
    );

    // The fault clears; an operator's retry sends it with its Message-ID.
    std::fs::remove_dir_all(&blocker).expect("remove the blocker");
    list.app
        .retry_delivery(daves.id)
        .await
        .expect("queue retry");
    list.run().await;
    assert!(
        list.of_kind("notice")
            .await
            .contains(&(who::DAVE.to_owned(), "sent".to_owned()))
    );
    assert!(blocker.is_file(), "Dave's notice is in the maildir");
    assert_eq!(list.of_kind("report").await.len(), 1);
}

#[tokio::test]
async fn the_key_expiry_check_fires_once_per_schedule() {
    let list = Inproc::new().await;
    list.add_active(who::EXPIRING_SUBKEY, who::ALICE).await;
    // The first pass starts the schedule: the next run is at 06:00.
    list.run().await;
    for (at, warnings) in [
        ("2026-06-02T05:59:59.999999Z", 0),
        ("2026-06-02T06:00:00Z", 1),
        ("2026-06-02T06:00:01Z", 1),
        ("2026-06-02T23:59:59Z", 1),
        ("2026-06-03T05:59:59Z", 1),
        ("2026-06-03T06:00:00Z", 2),
        ("2026-06-03T18:00:00Z", 2),
    ] {
        list.set(at);
        list.run().await;
        assert_eq!(list.of_kind("key-expiry").await.len(), warnings, "at {at}");
        assert_eq!(list.of_kind("report").await.len(), warnings, "at {at}");
    }
    assert!(
        list.of_kind("key-expiry")
            .await
            .iter()
            .all(|(to, state)| to == who::EXPIRING_SUBKEY && state == "sent")
    );
}
