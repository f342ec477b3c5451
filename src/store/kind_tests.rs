//! The store's mapping of kinds and statuses to TEXT: each word written is
//! read back as the same enum value, a word no version wrote is
//! `Corrupt`, and queries filtered by kind select by the enum.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::announcements::{kind_list, kind_word};
use super::{NewDelivery, NewMember, Store, StoreError};
use crate::compose::Kind;
use crate::roster::{Email, Kind as MemberKind, MemberId, Role, Status};
use crate::store::DeliveryState;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap()
}

async fn store(dir: &tempfile::TempDir) -> Store {
    let store = Store::create(
        &super::Location::File(dir.path().join("list.db")),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    store.mute_wake();
    super::lists::test_list(&store, "kinds").await
}

/// Writes a planned announcement that names no advisory, with `word` as
/// its kind, as an older or tampered database might hold.
async fn plan_raw(store: &Store, word: &str) {
    sqlx::query(
        "INSERT INTO announcements (kind, due_at, state, created_at) \
         VALUES ($1, '2026-11-29T11:00:00Z', 'planned', '2026-11-29T11:00:00Z')",
    )
    .bind(word)
    .execute(&store.pool)
    .await
    .unwrap();
}

async fn add_member(store: &Store, email: &str, status: Status) -> MemberId {
    let mut tx = store.write(now()).await.unwrap();
    let member = tx
        .insert_member(&NewMember {
            email: Email::parse(email).unwrap(),
            name: "A Member".to_owned(),
            org: "Org".to_owned(),
            kind: MemberKind::Individual,
            roles: [Role::Subscriber].into_iter().collect(),
            status,
            fingerprint: format!("{:0>40}", email.as_bytes()[0]),
            cert: Vec::new(),
            sponsor: None,
            statement: None,
            confirm_token: None,
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    member.id
}

fn copy(member: Option<MemberId>, recipient: &str) -> NewDelivery {
    NewDelivery {
        member_id: member,
        recipient: recipient.to_owned(),
        message_id: format!("<{recipient}>"),
        message: Some(b"sealed".to_vec()),
        cert_version: None,
        state: DeliveryState::Queued,
        reply: None,
    }
}

// The words are the database's, not only the templates': renaming a
// template must not change what rows already hold.
#[test]
fn kinds_are_stored_as_the_words_the_database_holds() {
    let words: Vec<&str> = Kind::ALL.iter().map(|kind| kind_word(*kind)).collect();
    assert_eq!(
        words,
        [
            "notice",
            "update",
            "reminder",
            "disclosure",
            "cancellation",
            "confirm",
            "welcome",
            "missed",
            "key-expiry",
            "report",
            "reply",
            "digest",
            "team-post",
            "case-report",
            "case-notice",
            "case-mail"
        ]
    );
    assert_eq!(kind_list(&Kind::TOLD), "('notice', 'update', 'reminder')");
}

#[tokio::test]
async fn every_kind_is_read_back_as_written_and_an_unknown_word_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    for kind in Kind::ALL {
        plan_raw(&store, kind_word(kind)).await;
    }
    let planned = store.planned_announcements(now()).await.unwrap();
    let kinds: Vec<Kind> = planned.into_iter().map(|p| p.unwrap().kind).collect();
    assert_eq!(kinds, Kind::ALL);

    // The same word in another case, and a near miss, are not kinds; each
    // such row is its own error and the rows around it still read.
    plan_raw(&store, "Notice").await;
    plan_raw(&store, "reminde").await;
    plan_raw(&store, kind_word(Kind::Update)).await;
    let planned = store.planned_announcements(now()).await.unwrap();
    let count = Kind::ALL.len();
    for (index, word) in [(count, "Notice"), (count + 1, "reminde")] {
        match &planned[index] {
            Err(StoreError::Corrupt(detail)) => {
                let id = index + 1;
                assert!(detail.contains(word), "{detail}");
                assert!(detail.contains(&format!("announcement {id}")), "{detail}");
            }
            other => panic!("{word:?} read back as {other:?}"),
        }
    }
    assert_eq!(planned[count + 2].as_ref().unwrap().kind, Kind::Update);
}

#[tokio::test]
async fn a_claim_for_one_kind_takes_only_that_kind_and_reads_the_member_status() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let suspended = add_member(&store, "sam@example.org", Status::Suspended).await;
    let active = add_member(&store, "ann@example.org", Status::Active).await;
    let mut tx = store.write(now()).await.unwrap();
    let notice = tx.other_announcement(Kind::Notice, now()).await.unwrap();
    let report = tx.other_announcement(Kind::Report, now()).await.unwrap();
    tx.insert_deliveries(notice, now(), &[copy(Some(suspended), "sam@example.org")])
        .await
        .unwrap();
    tx.insert_deliveries(report, now(), &[copy(Some(active), "ann@example.org")])
        .await
        .unwrap();
    tx.insert_deliveries(report, now(), &[copy(None, "public@example.org")])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let lease = now() + chrono::Duration::minutes(5);
    let mut tx = store.write(now()).await.unwrap();
    let reports = tx
        .claim(now(), lease, 10, Some(Kind::Report))
        .await
        .unwrap();
    let statuses: Vec<Option<Status>> = reports.iter().map(|c| c.member_status).collect();
    assert_eq!(statuses, [Some(Status::Active), None]);
    // A kind with no copies claims nothing; no kind claims the rest.
    assert!(
        tx.claim(now(), lease, 10, Some(Kind::Reply))
            .await
            .unwrap()
            .is_empty()
    );
    let rest = tx.claim(now(), lease, 10, None).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].member_status, Some(Status::Suspended));
    tx.commit().await.unwrap();

    let rows = store.queue(true).await.unwrap();
    let kinds: Vec<Kind> = rows.iter().map(|row| row.kind).collect();
    assert_eq!(kinds, [Kind::Notice, Kind::Report, Kind::Report]);
}

#[tokio::test]
async fn a_member_status_no_version_wrote_is_corrupt_at_claim() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let member = add_member(&store, "sam@example.org", Status::Active).await;
    let mut tx = store.write(now()).await.unwrap();
    let notice = tx.other_announcement(Kind::Notice, now()).await.unwrap();
    tx.insert_deliveries(notice, now(), &[copy(Some(member), "sam@example.org")])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // The table's CHECK refuses such a word; only a database changed
    // behind embargo's back (the check dropped) could hold one.
    sqlx::query("PRAGMA ignore_check_constraints = ON")
        .execute(&store.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE members SET status = 'Suspended'")
        .execute(&store.pool)
        .await
        .unwrap();
    let lease = now() + chrono::Duration::minutes(5);
    let mut tx = store.write(now()).await.unwrap();
    match tx.claim(now(), lease, 10, None).await {
        Err(StoreError::Corrupt(detail)) => assert!(detail.contains("Suspended"), "{detail}"),
        other => panic!("claimed {other:?}"),
    }
}
