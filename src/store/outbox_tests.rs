//! The outbox invariants ARCHITECTURE.md lists, one test each, on a store
//! opened on a temp file: claim, completion by lease generation, stale
//! leases, the start-up sweep, release, insert-or-ignore, and the
//! announcement's sealing lease.

use chrono::{DateTime, Duration, Utc};

use super::{DeliveryState, NewDelivery, Store};
use crate::clock::{format_instant, parse_instant};

/// When the test copies are due.
const DUE: &str = "2026-06-01T13:00:00Z";

fn at(text: &str) -> DateTime<Utc> {
    parse_instant(text).expect("a test instant")
}

fn micro() -> Duration {
    Duration::microseconds(1)
}

/// A fresh database in a temp folder (dropped with the folder).
async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::create(
        &super::Location::File(dir.path().join("outbox.sqlite")),
        std::time::Duration::from_secs(5),
    )
    .await
    .expect("create the store");
    let store = super::lists::test_list(&store, "outbox").await;
    (dir, store)
}

fn copy(recipient: &str, message_id: &str) -> NewDelivery {
    NewDelivery {
        member_id: None,
        recipient: recipient.to_owned(),
        message_id: message_id.to_owned(),
        message: Some(b"sealed bytes".to_vec()),
        cert_version: None,
        state: DeliveryState::Queued,
        reply: None,
    }
}

/// An announcement (a maintainers' report: no advisory needed) with one
/// queued copy to `to`, due at [`DUE`]; answers (announcement, copy).
async fn one_copy(store: &Store, to: &str) -> (i64, i64) {
    let mut tx = store.write(at("2026-06-01T12:00:00Z")).await.expect("tx");
    let announcement = tx
        .other_announcement(crate::compose::Kind::Report, at(DUE))
        .await
        .expect("announcement");
    let written = tx
        .insert_deliveries(announcement, at(DUE), &[copy(to, &format!("<{to}>"))])
        .await
        .expect("insert");
    assert_eq!(written, 1);
    tx.commit().await.expect("commit");
    let id = sqlx::query_scalar("SELECT id FROM deliveries WHERE recipient = $1")
        .bind(to)
        .fetch_one(&store.pool)
        .await
        .expect("the copy");
    (announcement, id)
}

/// (state, lease_gen, next_attempt_at, message_id) of copy `id`.
async fn row(store: &Store, id: i64) -> (String, i64, Option<String>, String) {
    sqlx::query_as(
        "SELECT state, lease_gen, next_attempt_at, message_id FROM deliveries WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&store.pool)
    .await
    .expect("the copy")
}

/// Claims what is due at `now` with a one-minute lease; answers (id, gen).
async fn claim(store: &Store, now: DateTime<Utc>) -> Vec<(i64, i64)> {
    let mut tx = store.write(now).await.expect("tx");
    let claimed = tx
        .claim(now, now + Duration::minutes(1), 16, None)
        .await
        .expect("claim");
    tx.commit().await.expect("commit");
    claimed.iter().map(|c| (c.id, c.lease_gen)).collect()
}

fn sent(id: i64, lease_gen: i64) -> super::Completion {
    super::Completion {
        id,
        lease_gen,
        state: DeliveryState::Sent,
        next_attempt_at: None,
        reply: "250 ok".to_owned(),
        attempted: true,
    }
}

async fn complete(store: &Store, now: DateTime<Utc>, done: &[super::Completion]) -> u64 {
    let mut tx = store.write(now).await.expect("tx");
    let applied = tx.complete(done).await.expect("complete");
    tx.commit().await.expect("commit");
    applied
}

async fn sweep(store: &Store, now: DateTime<Utc>, all: bool) -> u64 {
    let mut tx = store.write(now).await.expect("tx");
    let swept = tx.sweep_leases(all).await.expect("sweep");
    tx.commit().await.expect("commit");
    swept
}

// Never early, and never twice: a claim compares the due time with the
// clock, and a claimed copy is not claimed again while its lease holds.
#[tokio::test]
async fn a_claim_takes_a_copy_only_once_it_is_due_and_only_once() {
    let (_dir, store) = store().await;
    let (_, id) = one_copy(&store, "dave@vendor.example").await;
    assert!(claim(&store, at(DUE) - micro()).await.is_empty());
    assert_eq!(row(&store, id).await.0, "queued");
    assert_eq!(claim(&store, at(DUE)).await, vec![(id, 1)]);
    assert_eq!(row(&store, id).await.0, "sending");
    assert!(claim(&store, at(DUE)).await.is_empty());
    assert!(
        claim(&store, at(DUE) + Duration::seconds(30))
            .await
            .is_empty()
    );
}

// A completion names its lease: a worker whose copy was swept back and
// claimed again (a new generation) changes nothing, and neither does a
// completion for a copy no longer `sending`.
#[tokio::test]
async fn a_completion_under_a_stale_lease_generation_changes_nothing() {
    let (_dir, store) = store().await;
    let (_, id) = one_copy(&store, "dave@vendor.example").await;
    let now = at(DUE);
    let first = claim(&store, now).await;
    assert_eq!(first, vec![(id, 1)]);
    assert_eq!(sweep(&store, now, true).await, 1);
    assert_eq!(claim(&store, now).await, vec![(id, 2)]);
    assert_eq!(complete(&store, now, &[sent(id, 1)]).await, 0);
    assert_eq!(row(&store, id).await.0, "sending");
    assert_eq!(complete(&store, now, &[sent(id, 2)]).await, 1);
    assert_eq!(row(&store, id).await.0, "sent");
    // The same completion again finds the copy no longer sending.
    assert_eq!(complete(&store, now, &[sent(id, 2)]).await, 0);
    let message: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT message FROM deliveries WHERE id = $1")
            .bind(id)
            .fetch_one(&store.pool)
            .await
            .expect("message");
    assert!(message.is_none(), "a sent copy's message is cleared");
}

// A worker that died holding a lease strands nothing: once the lease has
// expired (and not a microsecond before) the ordinary sweep returns the
// copy to the queue, and the next claim bumps the generation.
#[tokio::test]
async fn an_expired_lease_is_swept_back_and_reclaimed_under_a_new_generation() {
    let (_dir, store) = store().await;
    let (_, id) = one_copy(&store, "dave@vendor.example").await;
    let now = at(DUE);
    assert_eq!(claim(&store, now).await, vec![(id, 1)]);
    let lease_until = now + Duration::minutes(1);
    assert_eq!(sweep(&store, now + Duration::seconds(30), false).await, 0);
    assert_eq!(sweep(&store, lease_until, false).await, 0);
    assert_eq!(row(&store, id).await.0, "sending");
    assert_eq!(sweep(&store, lease_until + micro(), false).await, 1);
    let (state, _, next, _) = row(&store, id).await;
    assert_eq!(state, "queued");
    assert_eq!(next, Some(format_instant(at(DUE))));
    // The dead worker's completion, arriving late, finds the copy queued.
    assert_eq!(complete(&store, now, &[sent(id, 1)]).await, 0);
    assert_eq!(row(&store, id).await.0, "queued");
    assert_eq!(claim(&store, lease_until + micro()).await, vec![(id, 2)]);
    assert_eq!(complete(&store, now, &[sent(id, 1)]).await, 0);
}

// At start-up the daemon holds the lock, so every lease is an orphan: all
// of them go back to the queue at once, each keeping its Message-ID (a
// copy that did reach the server arrives twice with the same one).
#[tokio::test]
async fn the_start_up_sweep_returns_every_lease_keeping_the_message_id() {
    let (_dir, store) = store().await;
    let (_, dave) = one_copy(&store, "dave@vendor.example").await;
    let (_, erin) = one_copy(&store, "erin@distro.example").await;
    let now = at(DUE);
    assert_eq!(claim(&store, now).await.len(), 2);
    let ids_before = (row(&store, dave).await.3, row(&store, erin).await.3);
    // Leases that have a minute to run are swept all the same.
    assert_eq!(sweep(&store, now, true).await, 2);
    for id in [dave, erin] {
        assert_eq!(row(&store, id).await.0, "queued");
    }
    assert_eq!(
        (row(&store, dave).await.3, row(&store, erin).await.3),
        ids_before
    );
    // A sent copy is not touched by a sweep.
    let claimed = claim(&store, now).await;
    let dave_gen = claimed.iter().find(|(id, _)| *id == dave).expect("Dave").1;
    assert_eq!(complete(&store, now, &[sent(dave, dave_gen)]).await, 1);
    assert_eq!(sweep(&store, now, true).await, 1);
    assert_eq!(row(&store, dave).await.0, "sent");
}

// Copies claimed but never started go back to the queue at once; a
// release under a stale generation changes nothing.
#[tokio::test]
async fn a_release_returns_only_copies_still_held_under_that_lease() {
    let (_dir, store) = store().await;
    let (_, id) = one_copy(&store, "dave@vendor.example").await;
    let now = at(DUE);
    assert_eq!(claim(&store, now).await, vec![(id, 1)]);
    let mut tx = store.write(now).await.expect("tx");
    tx.release(&[(id, 0)]).await.expect("release");
    tx.commit().await.expect("commit");
    assert_eq!(row(&store, id).await.0, "sending");
    let mut tx = store.write(now).await.expect("tx");
    tx.release(&[(id, 1)]).await.expect("release");
    tx.commit().await.expect("commit");
    assert_eq!(row(&store, id).await.0, "queued");
    assert_eq!(claim(&store, now).await, vec![(id, 2)]);
}

// Two racing passes never queue a copy twice: (announcement, recipient)
// is unique and the insert ignores the second, whatever its Message-ID,
// in the same transaction or a later one.
#[tokio::test]
async fn the_same_copy_inserted_twice_is_one_row() {
    let (_dir, store) = store().await;
    let (announcement, id) = one_copy(&store, "dave@vendor.example").await;
    let mut tx = store.write(at(DUE)).await.expect("tx");
    let written = tx
        .insert_deliveries(
            announcement,
            at(DUE),
            &[
                copy("dave@vendor.example", "<dave@vendor.example>"),
                copy("dave@vendor.example", "<another>"),
                copy("erin@distro.example", "<erin>"),
                copy("erin@distro.example", "<erin>"),
            ],
        )
        .await
        .expect("insert");
    tx.commit().await.expect("commit");
    assert_eq!(written, 1, "only Erin's first copy is new");
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT recipient, message_id FROM deliveries ORDER BY id")
            .fetch_all(&store.pool)
            .await
            .expect("rows");
    assert_eq!(
        rows,
        vec![
            (
                "dave@vendor.example".to_owned(),
                "<dave@vendor.example>".to_owned()
            ),
            ("erin@distro.example".to_owned(), "<erin>".to_owned()),
        ]
    );
    assert_eq!(row(&store, id).await.3, "<dave@vendor.example>");
}

// The CLI and the daemon never both seal an announcement: one claim wins
// until its lease expires; a sealer whose claim was taken over cannot
// renew it (its batch is thrown away); only the holder's last batch marks
// the announcement sealed.
#[tokio::test]
async fn an_announcement_is_sealed_under_one_claim_at_a_time() {
    let (_dir, store) = store().await;
    let now = at("2026-06-01T12:00:00Z");
    let mut tx = store.write(now).await.expect("tx");
    let announcement: i64 = sqlx::query_scalar(
        "INSERT INTO announcements (kind, due_at, state, created_at) \
         VALUES ('report', $1, 'planned', $2) RETURNING id",
    )
    .bind(format_instant(at(DUE)))
    .bind(format_instant(now))
    .fetch_one(&mut *tx.tx)
    .await
    .expect("a planned announcement");
    tx.commit().await.expect("commit");
    let lease = Duration::minutes(5);
    let seal = |when: DateTime<Utc>| {
        let store = store.clone();
        async move {
            let mut tx = store.write(when).await.expect("tx");
            let generation = tx
                .claim_sealing(announcement, when + lease)
                .await
                .expect("claim sealing");
            tx.commit().await.expect("commit");
            generation
        }
    };
    assert_eq!(seal(now).await, Some(1));
    assert_eq!(seal(now + lease - micro()).await, None);
    // The first sealer died; its lease ran out and another takes over.
    assert_eq!(seal(now + lease).await, Some(2));
    let later = now + lease + Duration::seconds(1);
    let mut tx = store.write(later).await.expect("tx");
    assert!(
        !tx.renew_sealing(announcement, 1, later + lease)
            .await
            .expect("renew")
    );
    assert!(
        tx.renew_sealing(announcement, 2, later + lease)
            .await
            .expect("renew")
    );
    // The stale sealer's end changes nothing; the holder's marks it sealed.
    tx.end_sealing(announcement, 1, true).await.expect("end");
    tx.commit().await.expect("commit");
    let state = |store: Store| async move {
        sqlx::query_scalar::<_, String>("SELECT state FROM announcements WHERE id = $1")
            .bind(announcement)
            .fetch_one(&store.pool)
            .await
            .expect("state")
    };
    assert_eq!(state(store.clone()).await, "planned");
    let mut tx = store.write(later).await.expect("tx");
    tx.end_sealing(announcement, 2, true).await.expect("end");
    tx.commit().await.expect("commit");
    assert_eq!(state(store.clone()).await, "sealed");
    // Ended, the claim is free again (a later pass finds nothing to do).
    assert_eq!(seal(later).await, Some(3));
}

// `queue run` in the in-process tests was refused once because "another
// embargo daemon or `queue run` (pid <its own pid>) holds" the lock: a
// lock the process had just released was still shared with a child that
// another thread was spawning (until the child's `exec` closed it). A
// lock whose recorded holder is this very process is waited for, briefly.
#[test]
fn a_lock_this_process_just_released_is_taken_once_its_last_holder_lets_go() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = dir.path().join("embargo.sqlite");
    let first = super::lock_daemon(&database).expect("the first lock");
    let letting_go = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(150));
        drop(first);
    });
    let second = super::lock_daemon(&database);
    letting_go.join().expect("the holder thread");
    assert!(second.is_ok(), "{:?}", second.err());
}

// The wait is only for this process's own lock: a lock another process
// holds is refused at once, naming it.
#[test]
fn a_lock_another_process_holds_is_refused_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = dir.path().join("embargo.sqlite");
    let lock = dir.path().join("embargo.sqlite.lock");
    let ready = dir.path().join("ready");
    let mut holder = std::process::Command::new("flock")
        .arg(&lock)
        .args(["sh", "-c"])
        .arg(format!("touch {}; sleep 30", ready.display()))
        .spawn()
        .expect("run flock (util-linux)");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !ready.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let started = std::time::Instant::now();
    let refused = super::lock_daemon(&database);
    let waited = started.elapsed();
    let _ = holder.kill();
    let _ = holder.wait();
    let Err(err) = refused else {
        panic!("the lock another process holds was taken");
    };
    let err = err.to_string();
    assert!(err.contains("holds"), "{err}");
    assert!(waited < std::time::Duration::from_millis(500), "{waited:?}");
}
