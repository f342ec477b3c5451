//! A signed message retried after a fault finishes what it started: every
//! command once, never twice, never dropped, and one reply.

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::common::commands::{cert, command, fingerprint, list};
use crate::common::outbox::of_kind;
use crate::common::store::WriteLock;
use crate::common::{Env, who};
use crate::common::{ingest, spawn_ingest};

/// Appends `busy_timeout_ms` to the config's `[storage]` table (its last).
fn busy_timeout(env: &Env, millis: u64) {
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(&env.config)
        .expect("config");
    writeln!(config, "busy_timeout_ms = {millis}").expect("config");
}

fn count(env: &Env, sql: &str) -> i64 {
    env.sql(sql).trim().parse().unwrap_or(-1)
}

/// Runs ingest on `message` with the database's write lock taken at the
/// moment ingest first reads the list key (after every command before the
/// first sealing committed): the list key is a FIFO, the test opens it,
/// takes the lock, then hands the key over. Restores the key file.
fn ingest_locked_at_key_read(env: &Env, message: &[u8]) -> std::process::Output {
    let key = env.key_file();
    let saved = std::fs::read(&key).expect("list key");
    std::fs::remove_file(&key).expect("remove key");
    let made = Command::new("mkfifo").arg(&key).status().expect("mkfifo");
    assert!(made.success());

    let mut child = spawn_ingest(env, message, Stdio::piped());
    // Opening the FIFO for writing returns once ingest opens it to read:
    // the first command has committed by then. Bounded: after 60 s the
    // test unblocks the opener itself and fails.
    let (opened, wait) = mpsc::channel();
    let fifo = key.clone();
    let opener = std::thread::spawn(move || {
        let file = std::fs::OpenOptions::new().write(true).open(&fifo);
        let _ = opened.send(());
        file
    });
    if wait.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::File::open(&key);
        panic!("ingest never read the list key");
    }
    let mut writer = opener.join().expect("opener").expect("open the FIFO");
    let lock = WriteLock::take(env);
    writer.write_all(&saved).expect("hand over the key");
    drop(writer);
    let out = child.wait_with_output().expect("ingest");
    lock.release();
    std::fs::remove_file(&key).expect("remove FIFO");
    std::fs::write(&key, &saved).expect("restore key");
    out
}

/// In a message with two commands the first committed, the second met a
/// busy database and ingest exited 75, and the MTA's retry was refused as
/// a replay: the second command was lost. The fault is placed exactly
/// between the two: the list key is a FIFO, which ingest first opens to
/// seal the second command's confirmation mail (after the first command
/// committed); the test takes the write lock, then hands over the key.
#[test]
fn a_command_after_a_busy_database_is_finished_on_retry_not_refused_as_a_replay() {
    let env = list();
    busy_timeout(&env, 200);
    let message = command(
        who::ALICE,
        &format!(
            "SUSPEND {}\nSPONSOR {}\nName: Frank\nOrg: Org\nKind: user\nStatement: known",
            who::DAVE,
            who::FRANK
        ),
        &[cert(who::FRANK)],
    );
    let out = ingest_locked_at_key_read(&env, &message);
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The first command is done, the second not yet, no reply.
    assert_eq!(env.show(who::DAVE)["status"], "suspended");
    assert_eq!(
        count(
            &env,
            &format!(
                "SELECT count(*) FROM members WHERE email = '{}'",
                who::FRANK
            )
        ),
        0
    );
    assert!(of_kind(&env, "reply").is_empty());

    // The MTA's retry finishes it: both done exactly once, one reply.
    assert_eq!(ingest(&env, &message), 0);
    assert_eq!(env.show(who::DAVE)["status"], "suspended");
    assert_eq!(env.show(who::FRANK)["status"], "pending");
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM audit_log WHERE action = 'member.suspend'"
        ),
        1
    );
    assert_eq!(
        count(
            &env,
            &format!(
                "SELECT count(*) FROM audit_log WHERE action = 'member.add' AND subject = 'member:{}'",
                who::FRANK
            )
        ),
        1
    );
    assert_eq!(of_kind(&env, "reply").len(), 1);
    // A third delivery is a replay: nothing changes.
    let before = env.dump();
    assert_eq!(ingest(&env, &message), 0);
    assert_eq!(env.dump(), before);
}

/// The class: the first command ends the membership (UNSUBSCRIBE), then
/// the database is busy (taken when the maintainers' alert is sealed). The
/// retry is still taken, the second command is refused because the signer
/// left, the reply goes out, and nothing is done twice.
#[test]
fn a_message_that_unsubscribed_is_still_answered_after_a_retry() {
    let env = list();
    busy_timeout(&env, 200);
    let message = command(who::DAVE, "UNSUBSCRIBE\nACK DF-2026-0001 received", &[]);
    let out = ingest_locked_at_key_read(&env, &message);
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.show(who::DAVE)["status"], "removed");
    assert!(of_kind(&env, "reply").is_empty());
    assert_eq!(ingest(&env, &message), 0);
    assert_eq!(of_kind(&env, "reply").len(), 1);
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM audit_log WHERE action = 'member.remove'"
        ),
        1
    );
    assert_eq!(
        env.sql("SELECT outcome FROM inbound_commands ORDER BY idx"),
        "done\nrefused\n"
    );
}

/// The class: SET-KEY replaced the key that signed the message, then the
/// reply met the busy database. The retry is authenticated by the retired
/// key only because the message was already started: it finishes with one
/// reply, while a new message signed by the retired key is dropped.
#[test]
fn a_message_whose_set_key_committed_is_finished_on_retry_with_the_retired_key() {
    let env = list();
    env.draft("DF-2026-0063", "Rotated", "low");
    env.ok(&["advisory", "announce", "DF-2026-0063"]);
    env.ok(&["queue", "run"]);
    busy_timeout(&env, 200);
    let certified = fingerprint(&env, who::CERTIFIED);
    let message = command(
        who::DAVE,
        &format!("SET-KEY {certified}\nACK DF-2026-0063 received"),
        &[cert(who::CERTIFIED)],
    );
    let out = ingest_locked_at_key_read(&env, &message);
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.show(who::DAVE)["fingerprint"], certified.as_str());
    assert!(of_kind(&env, "reply").is_empty());
    assert_eq!(ingest(&env, &message), 0);
    assert_eq!(of_kind(&env, "reply").len(), 1);
    for action in ["advisory.ack", "member.set-key"] {
        assert_eq!(
            count(
                &env,
                &format!("SELECT count(*) FROM audit_log WHERE action = '{action}'")
            ),
            1,
            "{action}"
        );
    }
    let before = env.dump();
    let fresh = command(who::DAVE, "ACK DF-2026-0063 fixed", &[]);
    assert_eq!(ingest(&env, &fresh), 0);
    assert_eq!(env.dump(), before, "the retired key started something new");
}

/// The class under real contention: 24 two-command messages ingested at
/// once with a short busy timeout, each retried (as an MTA would) until it
/// is taken. Every command is done exactly once and every message gets one
/// reply.
#[test]
fn concurrent_two_command_messages_under_contention_each_command_done_once() {
    let env = list();
    for id in ["DF-2026-0060", "DF-2026-0061"] {
        env.draft(id, "Contended", "low");
        env.ok(&["advisory", "announce", id]);
    }
    env.ok(&["queue", "run"]);
    busy_timeout(&env, 20);
    const MESSAGES: usize = 24;
    let messages: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                scope.spawn(move || {
                    (0..MESSAGES)
                        .filter(|i| i % 4 == worker)
                        .map(|i| {
                            let from = if i % 2 == 0 { who::ALICE } else { who::DAVE };
                            let text = format!(
                                "ACK DF-2026-0060 received message {i}\nACK DF-2026-0061 affected message {i}"
                            );
                            (i, command(from, &text, &[]))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(usize, Vec<u8>)> = workers
            .into_iter()
            .flat_map(|w| w.join().expect("signer"))
            .collect();
        all.sort_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, m)| m).collect()
    });
    let mut pending: Vec<usize> = (0..MESSAGES).collect();
    let mut tempfails = 0;
    for _round in 0..40 {
        if pending.is_empty() {
            break;
        }
        let children: Vec<(usize, Child)> = pending
            .iter()
            .map(|&i| (i, spawn_ingest(&env, &messages[i], Stdio::null())))
            .collect();
        pending = children
            .into_iter()
            .filter_map(|(i, mut child)| {
                let code = child.wait().expect("wait").code();
                assert!(matches!(code, Some(0 | 75)), "message {i}: exit {code:?}");
                (code == Some(75)).then_some(i)
            })
            .collect();
        tempfails += pending.len();
    }
    assert!(
        pending.is_empty(),
        "still refused after 40 rounds: {pending:?}"
    );
    eprintln!("{tempfails} temporary failures retried");
    let commands = 2 * MESSAGES as i64;
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM audit_log WHERE action = 'advisory.ack'"
        ),
        commands
    );
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM inbound_commands WHERE outcome = 'done'"
        ),
        commands
    );
    assert_eq!(
        count(&env, "SELECT count(*) FROM inbound_signatures"),
        MESSAGES as i64
    );
    assert_eq!(of_kind(&env, "reply").len(), MESSAGES);
}

/// The same message delivered eight times at once (an MTA retrying while
/// the first attempt still runs): each command is done once, one reply.
#[test]
fn the_same_message_ingested_concurrently_is_done_once_and_answered_once() {
    let env = list();
    env.draft("DF-2026-0062", "Twice", "low");
    env.ok(&["advisory", "announce", "DF-2026-0062"]);
    env.ok(&["queue", "run"]);
    busy_timeout(&env, 5000);
    let message = command(
        who::ALICE,
        &format!(
            "ACK DF-2026-0062 received\nSUSPEND {}\nAPPROVE {}",
            who::DAVE,
            who::DAVE
        ),
        &[],
    );
    let children: Vec<Child> = (0..8)
        .map(|_| spawn_ingest(&env, &message, Stdio::null()))
        .collect();
    for mut child in children {
        assert_eq!(child.wait().expect("wait").code(), Some(0));
    }
    for action in ["advisory.ack", "member.suspend", "member.resume"] {
        assert_eq!(
            count(
                &env,
                &format!("SELECT count(*) FROM audit_log WHERE action = '{action}'")
            ),
            1,
            "{action}"
        );
    }
    assert_eq!(env.show(who::DAVE)["status"], "active");
    assert_eq!(of_kind(&env, "reply").len(), 1);
}
