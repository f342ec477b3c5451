//! Delivery and disclosure logic in-process: tests moved here from
//! `delivery.rs`, `disclosure.rs` and `never_early.rs` (same names, same
//! checks) because
//! they only ask who gets which copy when. Each `queue run` at an instant
//! is `App::queue_run` with the clock set there; what proves the real
//! parts (GnuPG read-back, OSV/CSAF schemas) stays with the binary.

use embargo::advisory::{Permission, Severity};
use embargo::app::advisory::{AdvisoryInput, Force};
use embargo::app::roster::Caller;
use embargo::roster::gate::Transition;
use embargo::text::Reason;

use crate::common::inproc::Inproc;
use crate::common::member::{CVE_CANARY, PRODUCT_CANARY, TITLE_CANARY};
use crate::common::who;

/// A kind or state as the outbox names it.
fn name(value: impl std::fmt::Display) -> String {
    value.to_string()
}

/// Copies whose every state is `state`.
fn all_in(copies: &[(String, String)], state: &str) -> bool {
    copies.iter().all(|(_, s)| s == state)
}

/// `Env::add_active` for Dave and Erin, then `queue run`: a list with
/// Alice (admin) and Dave and Erin active, nothing queued.
async fn dave_and_erin() -> Inproc {
    let list = Inproc::new().await;
    list.add_active(who::DAVE, who::ALICE).await;
    list.add_active(who::ERIN, who::ALICE).await;
    list.run().await;
    list
}

#[tokio::test]
async fn nothing_goes_one_second_before_the_instant_and_everything_right_after() {
    let list = dave_and_erin().await;
    list.draft("DF-2026-0002", "Timing", Severity::Low).await;
    list.announce("DF-2026-0002", Some("2026-06-01T13:00:00Z"))
        .await;
    let sealed = list.of_kind("notice").await;
    assert_eq!(
        sealed.len(),
        3,
        "sealed for every active member at scheduling"
    );
    list.set("2026-06-01T12:59:59Z");
    list.run().await;
    assert!(all_in(&list.of_kind("notice").await, "queued"));
    assert_eq!(list.status("DF-2026-0002").await, "scheduled");
    list.set("2026-06-01T13:00:01Z");
    list.run().await;
    assert!(
        all_in(&list.of_kind("notice").await, "sent"),
        "{:?}",
        list.copies().await
    );
    assert_eq!(list.status("DF-2026-0002").await, "notified");
}

/// Regression: the outer `Date:` of a copy sealed at announce time was the
/// sealing time, hours before the copy was sent. It is the send time.
#[tokio::test]
async fn the_outer_date_of_a_pre_sealed_copy_is_the_send_time() {
    let list = scheduled_for_one_pm().await;
    let files_before = list.maildir();
    list.set("2026-06-01T13:00:07Z");
    list.run().await;
    let sent: Vec<String> = list
        .maildir()
        .into_iter()
        .filter(|file| !files_before.contains(file))
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
async fn scheduled_for_one_pm() -> Inproc {
    let list = dave_and_erin().await;
    list.draft("DF-2026-0003", "Scheduled", Severity::High)
        .await;
    list.announce("DF-2026-0003", Some("2026-06-01T13:00:00Z"))
        .await;
    list
}

const ONE_PM: &str = "2026-06-01T13:00:01Z";

#[tokio::test]
async fn a_member_removed_after_scheduling_receives_nothing() {
    let list = scheduled_for_one_pm().await;
    assert_eq!(list.of_kind("notice").await.len(), 3);
    list.app
        .change_status(
            who::ERIN,
            Transition::Remove,
            Some(&Reason::parse("left the company").expect("a reason")),
            &Caller::cli(None),
        )
        .await
        .expect("member remove");
    let files_before = list.maildir().len();
    list.set(ONE_PM);
    list.run().await;
    let notices = list.of_kind("notice").await;
    assert!(
        notices.contains(&(who::ERIN.to_owned(), "dropped".to_owned())),
        "{notices:?}"
    );
    assert!(
        notices.contains(&(who::DAVE.to_owned(), "sent".to_owned())),
        "{notices:?}"
    );
    let new_files = list.maildir().len() - files_before;
    assert_eq!(new_files, 2, "Alice and Dave only");
    // Erin's only mail is her confirm and welcome, from before.
    assert_eq!(list.mail_to(who::ERIN).len(), 2);
    let erin_after = list
        .rows()
        .await
        .into_iter()
        .filter(|row| {
            row.recipient == who::ERIN && name(row.state) == "sent" && row.advisory.is_some()
        })
        .count();
    assert_eq!(erin_after, 0);
}

#[tokio::test]
async fn an_update_reaches_only_members_already_told() {
    let list = Inproc::new().await;
    list.add_active(who::DAVE, who::ALICE).await;
    list.draft("DF-2026-0004", "Updated", Severity::High).await;
    list.announce("DF-2026-0004", None).await;
    list.run().await;
    // Erin joins after the notice went out, and has not been told yet.
    list.add_active(who::ERIN, who::ALICE).await;
    let input = AdvisoryInput {
        severity: Some(Severity::Critical),
        ..AdvisoryInput::default()
    };
    list.app
        .edit_advisory("DF-2026-0004", &input, &Force::default())
        .await
        .expect("advisory edit");
    let updates = list.of_kind("update").await;
    let mut told: Vec<&str> = updates.iter().map(|(r, _)| r.as_str()).collect();
    told.sort();
    assert_eq!(told, vec![who::ALICE, who::DAVE]);
    // Erin's notice of revision 1 (sealed when she was confirmed, not yet
    // sent) stopped; she gets the notice of the new revision instead.
    let erin_notices: String = list
        .rows()
        .await
        .into_iter()
        .filter(|row| row.kind == embargo::compose::Kind::Notice && row.recipient == who::ERIN)
        .map(|row| format!("{} {}\n", row.revision.unwrap_or_default(), row.state))
        .collect();
    assert_eq!(erin_notices, "1 dropped\n2 queued\n");
    list.run().await;
    assert!(all_in(&list.of_kind("update").await, "sent"));
}

#[tokio::test]
async fn the_daily_key_expiry_check_warns_the_member_and_maintainers() {
    let list = Inproc::new().await;
    list.add_active(who::DAVE, who::ALICE).await;
    list.add_active(who::EXPIRING_SUBKEY, who::ALICE).await;
    // The first run starts the schedule; the check runs at the next 06:00.
    list.run().await;
    list.set("2026-06-02T05:59:59Z");
    list.run().await;
    assert!(list.of_kind("key-expiry").await.is_empty());
    list.set("2026-06-02T06:00:01Z");
    list.run().await;
    assert_eq!(
        list.of_kind("key-expiry").await,
        vec![(who::EXPIRING_SUBKEY.to_owned(), "sent".to_owned())]
    );
    assert_eq!(
        list.of_kind("report").await,
        vec![(who::ALICE.to_owned(), "sent".to_owned())]
    );
    // Once a day, not on every run.
    list.set("2026-06-02T07:00:00Z");
    list.run().await;
    assert_eq!(list.of_kind("key-expiry").await.len(), 1);
    // Confirm, welcome and the warning, each encrypted to the member.
    let mails = list.mail_to(who::EXPIRING_SUBKEY);
    assert_eq!(mails.len(), 3);
    assert!(mails.iter().all(|eml| eml.contains("multipart/encrypted")));
}

/// `common::member::announced` in-process: Dave active and DF-2026-0001,
/// full of canaries, announced now.
async fn announced() -> Inproc {
    let list = Inproc::new().await;
    list.add_active(who::DAVE, who::ALICE).await;
    let input = AdvisoryInput {
        title: Some(TITLE_CANARY.to_owned()),
        severity: Some(Severity::High),
        product: Some(PRODUCT_CANARY.to_owned()),
        cves: Some(vec![CVE_CANARY.to_owned()]),
        affected: Some(vec!["quuxframework < 1.2".to_owned()]),
        fixed: Some(vec!["quuxframework 1.2".to_owned()]),
        body: Some(
            format!("The {PRODUCT_CANARY} parser overflows.\nFrom here the attacker owns it.\nTrailing space \n")
                .into_bytes(),
        ),
        permitted: Some(vec![Permission::Deploy]),
        patch_date: Some("2026-06-08".to_owned()),
        disclose_at: Some("2026-06-09T14:00:00Z".to_owned()),
        ..AdvisoryInput::default()
    };
    list.app
        .new_advisory("DF-2026-0001", &input, &Force::default())
        .await
        .expect("advisory new");
    list.announce("DF-2026-0001", None).await;
    list
}

#[tokio::test]
async fn a_member_who_joins_during_an_embargo_gets_the_notice_when_confirmed() {
    let list = announced().await;
    list.run().await;
    let token = list.add(who::ERIN, who::ALICE).await;
    assert!(
        !list
            .of_kind("notice")
            .await
            .iter()
            .any(|(r, _)| r == who::ERIN)
    );
    list.confirm(who::ERIN, &token).await;
    assert!(
        list.of_kind("notice")
            .await
            .contains(&(who::ERIN.to_owned(), "queued".to_owned())),
        "{:?}",
        list.copies().await
    );
}

const PUBLIC: &str = "oss-security@lists.example";

/// `disclosure.rs`'s `notified` in-process: Alice and Dave active,
/// DF-2026-0010 notified (sent), disclosure at 2026-06-09 14:00 UTC.
async fn notified() -> Inproc {
    let list = Inproc::with_config(&format!("\n[mail]\npublic_addresses = [\"{PUBLIC}\"]\n")).await;
    list.add_active(who::DAVE, who::ALICE).await;
    let input = AdvisoryInput {
        title: Some("Parser overflow".to_owned()),
        severity: Some(Severity::High),
        cvss: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".to_owned()),
        cves: Some(vec!["CVE-2026-12345".to_owned()]),
        product: Some("quux".to_owned()),
        affected: Some(vec!["quux < 1.2".to_owned()]),
        fixed: Some(vec!["quux 1.2".to_owned()]),
        body: Some(b"The parser overflows on long input.\n".to_vec()),
        disclose_at: Some("2026-06-09T14:00:00Z".to_owned()),
        ..AdvisoryInput::default()
    };
    list.app
        .new_advisory("DF-2026-0010", &input, &Force::default())
        .await
        .expect("advisory new");
    list.announce("DF-2026-0010", None).await;
    list.run().await;
    list
}

/// The files in the export folder.
fn exports(list: &Inproc) -> Vec<String> {
    crate::common::outbox::exports_in(list.dir.path())
}

#[tokio::test]
async fn a_hold_stops_the_disclosure_until_its_new_time() {
    let list = notified().await;
    let said = list
        .app
        .hold(
            "DF-2026-0010",
            Some("2026-06-10T14:00:00Z"),
            &Reason::parse("the patch slipped a day").expect("a reason"),
            false,
        )
        .await
        .expect("queue hold");
    assert!(said.contains("held until"), "{said}");
    list.set("2026-06-09T14:00:01Z");
    list.run().await;
    assert_eq!(list.status("DF-2026-0010").await, "notified");
    assert!(exports(&list).is_empty());
    assert!(list.of_kind("disclosure").await.is_empty());
    list.set("2026-06-10T14:00:01Z");
    list.run().await;
    assert_eq!(list.status("DF-2026-0010").await, "disclosed");
    assert_eq!(exports(&list).len(), 2);
}

#[tokio::test]
async fn the_reminder_goes_to_those_told_a_day_before() {
    let list = notified().await;
    list.set("2026-06-08T13:40:00Z");
    list.run().await;
    assert!(
        list.of_kind("reminder").await.is_empty(),
        "sealed too early"
    );
    // Sealed 15 minutes ahead, sent at its time.
    list.set("2026-06-08T13:50:00Z");
    list.run().await;
    assert!(all_in(&list.of_kind("reminder").await, "queued"));
    assert_eq!(list.of_kind("reminder").await.len(), 2);
    list.set("2026-06-08T14:00:00Z");
    list.run().await;
    assert!(all_in(&list.of_kind("reminder").await, "sent"));
}

/// `never_early.rs`'s `notified`: Alice and Dave active, DF-2026-0010
/// (the standard draft) announced at `NOW` and its notices sent.
async fn never_early_notified() -> Inproc {
    let list = Inproc::with_config(&format!("\n[mail]\npublic_addresses = [\"{PUBLIC}\"]\n")).await;
    list.add_active(who::DAVE, who::ALICE).await;
    list.draft("DF-2026-0010", "Parser overflow", Severity::High)
        .await;
    list.announce("DF-2026-0010", None).await;
    list.run().await;
    list
}

/// `queue run` at `at`, and the advisory is still embargoed: not
/// disclosed, no export written, no disclosure copy for anyone.
async fn still_embargoed_at(list: &Inproc, at: &str) {
    list.set(at);
    list.run().await;
    assert_eq!(
        list.status("DF-2026-0010").await,
        "notified",
        "disclosed at {at}"
    );
    assert_eq!(exports(list).len(), 0, "exports written at {at}");
    assert!(
        list.of_kind("disclosure").await.is_empty(),
        "disclosed at {at}"
    );
}

// A hold on an advisory whose time has passed but which no pass has
// published yet stops the publication: it moves the date later.
#[tokio::test]
async fn a_hold_after_the_time_passed_but_before_publication_stops_it() {
    let list = never_early_notified().await;
    list.set("2026-06-09T14:30:00Z");
    list.app
        .hold(
            "DF-2026-0010",
            Some("2026-06-10T14:00:00Z"),
            &Reason::parse("stop").expect("a reason"),
            false,
        )
        .await
        .expect("queue hold");
    still_embargoed_at(&list, "2026-06-09T14:31:00Z").await;
    list.set("2026-06-10T14:00:01Z");
    list.run().await;
    assert_eq!(
        list.status("DF-2026-0010").await,
        "disclosed",
        "not disclosed at 2026-06-10T14:00:01Z"
    );
}

// `embargo demo` failed about one run in nine: it opened the member's copy
// checking the list's signature at the instant the demo *started*, so a
// copy signed after the clock's second rolled over looked like a signature
// from the future ("no good signature by the expected key"). A copy is now
// opened at the list's own clock, whatever instant a caller read before.
#[tokio::test]
async fn demo_opened_a_copy_signed_after_it_started_as_a_signature_from_the_future() {
    let list = Inproc::new().await;
    let started = embargo::clock::Clock::now(&list.clock);
    let sam = embargo::roster::Email::parse("sam@distro.example").expect("address");
    let (public, secret) =
        embargo::app::list::stand_in_key("Sam Roe", &sam, started).expect("a stand-in key");
    let token = list
        .app
        .add_member(embargo::app::roster::AddMember {
            email: sam.to_string(),
            name: "Sam Roe".to_owned(),
            org: "Distro".to_owned(),
            kind: embargo::roster::Kind::Vendor,
            cert: public,
            sponsor: who::ALICE.to_owned(),
            statement: None,
            roles: Vec::new(),
            by: None,
        })
        .await
        .expect("member add")
        .token;
    list.confirm(sam.as_str(), &token).await;
    list.draft("DF-2026-0010", "Parser overflow", Severity::High)
        .await;
    // The list signs one second after the demo read the clock.
    list.advance(std::time::Duration::from_secs(1));
    list.announce("DF-2026-0010", None).await;
    list.run().await;
    // Every copy Sam got (the confirmation and the welcome, signed as the
    // demo started, and the notice, signed a second later) opens, and one
    // is the notice.
    let opened: Vec<_> = list
        .mail_to(sam.as_str())
        .iter()
        .map(|copy| {
            list.app
                .open_as_member(&secret, copy.as_bytes())
                .expect("Sam opens the copy at the list's clock")
        })
        .collect();
    assert_eq!(
        opened.len(),
        3,
        "the confirmation, the welcome and the notice"
    );
    let key = std::fs::read(&list.app.config.list_key.path).expect("the list key");
    let list_key = embargo::pgp::ListKey::read(&key).expect("the list key reads");
    assert!(
        opened
            .iter()
            .all(|copy| copy.signer == list_key.fingerprint())
    );
    assert!(
        opened.iter().any(|copy| copy.text.contains("DF-2026-0010")),
        "one copy is the notice"
    );
}
