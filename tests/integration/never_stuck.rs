//! Never stuck: real storage faults (a small tmpfs filled to the last
//! byte for a few seconds), an export folder that cannot be written and a
//! planned announcement that cannot be read. `embargo serve` must ride out
//! the first and recover on its own; the others must not hold back any
//! other mail.
//!
//! The fault tests mount a tmpfs, which needs root: CI runs the suite as
//! root, and a failed mount fails the test loudly rather than skip it.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::daemon::{Daemon, eventually};
use crate::common::outbox::of_kind;
use crate::common::smtp::{Rules, SmtpServer};
use crate::common::store::WriteLock;
use crate::common::{Env, NOW, path, who};

/// A tmpfs mounted for one test, unmounted (lazily) when dropped.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).expect("mount point");
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("tmpfs")
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            output.status.success(),
            "could not mount a tmpfs at {} (the storage-fault tests need root, as in CI): {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// Writes a file until the filesystem is full. Removing the file ends
    /// the fault.
    fn fill(&self) -> PathBuf {
        let filler = self.dir.join("filler");
        let mut file = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(err) if err.raw_os_error() == Some(28) => break,
                Err(err) => panic!("fill the tmpfs: {err}"),
            }
        }
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// Whether this run is on PostgreSQL, where a full disk under the data
/// folder reaches no database (the server's twin is in
/// `postgres_faults.rs`: the server stopped for a few seconds); says so.
fn sqlite_only() -> bool {
    let postgres = crate::common::store::postgres();
    if postgres {
        eprintln!("sqlite only: the fault is a full tmpfs under the SQLite file");
    }
    postgres
}

/// An environment whose data folder (database, WAL, lock, key) is a 16 MB
/// tmpfs, with retries and alerts quick enough for a test.
fn on_tmpfs(extra: &str) -> (Env, Tmpfs) {
    let env = Env::with_config(&format!(
        "\n[delivery]\nalert_after = \"2s\"\nretry_first = \"1s\"\ntimeout = \"3s\"\n{extra}"
    ));
    let tmpfs = Tmpfs::mount(&env.dir.path().join("var"), "16m");
    (env, tmpfs)
}

/// Points the config at `smtp` (appended after everything else).
fn use_smtp(env: &Env, smtp: &SmtpServer) {
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(&env.config)
        .expect("config");
    write!(
        config,
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n",
        smtp.port()
    )
    .expect("write config");
}

fn count(env: &Env, sql: &str) -> u64 {
    env.sql(sql).trim().parse().expect("a count")
}

fn error_lines(log: &str) -> usize {
    log.lines().filter(|line| line.contains("ERROR")).count()
}

/// RFC 3339 for `NOW` plus `seconds`.
fn now_plus(seconds: i64) -> String {
    let now = chrono::DateTime::parse_from_rfc3339(NOW).expect("NOW");
    (now + chrono::Duration::seconds(seconds)).to_rfc3339()
}

// Before the fix, a commit that failed on a full disk left sqlx counting
// the pooled connection as inside a transaction (SQLite had already
// rolled it back), so every later pass failed with "attempted to call
// begin_with at non-zero transaction depth", logged thousands of lines
// and sent nothing until a restart, and nobody was alerted.
#[test]
fn a_few_seconds_of_full_disk_do_not_wedge_the_daemon() {
    if sqlite_only() {
        return;
    }
    let (env, tmpfs) = on_tmpfs("");
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.add_active(who::ERIN, who::ALICE, &[]);
    env.draft("DF-2026-0700", "Full disk canary", "high");
    // The notice is due 12 s into the daemon's run: the disk is full then.
    let due = now_plus(12);
    env.ok(&["advisory", "announce", "DF-2026-0700", "--at", &due]);
    let smtp = SmtpServer::start(&env.dir.path().join("smtp"), &Rules::new());
    use_smtp(&env, &smtp);

    let started = Instant::now();
    let started_unix = unix_now();
    let mut daemon = Daemon::start(&env, &[], "serve.log");
    let member_mail = "SELECT count(*) FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
         WHERE a.kind <> 'notice' AND d.state <> 'sent'";
    eventually(Duration::from_secs(10), "member mail is sent", || {
        count(&env, member_mail) == 0
    });
    let filler = tmpfs.fill();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the disk filled too late to catch the notice's instant"
    );
    eventually(
        Duration::from_secs(20),
        "the daemon meets the full disk",
        || daemon.log_text().contains("database or disk is full"),
    );
    // The fault lasts a few seconds, as a log burst or a backup would.
    std::thread::sleep(Duration::from_secs(4));
    std::fs::remove_file(&filler).expect("free the disk");
    let freed = Instant::now();

    let notices = "SELECT count(*) FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
         WHERE a.kind = 'notice' AND d.state = 'sent'";
    eventually(
        Duration::from_secs(40),
        "the notices go out once the disk has room",
        || count(&env, notices) == 3,
    );
    let recovered_in = freed.elapsed();
    eventually(
        Duration::from_secs(20),
        "maintainers hear that sending was blocked",
        || of_kind(&env, "report").contains(&(who::ALICE.to_owned(), "sent".to_owned())),
    );
    assert!(daemon.stop().success(), "{}", daemon.log_text());

    let log = daemon.log_text();
    eprintln!(
        "full disk: notices sent {recovered_in:?} after the disk was freed; {} log lines, {} at error level",
        log.lines().count(),
        error_lines(&log)
    );
    assert!(!log.contains("non-zero transaction depth"), "{log}");
    assert!(log.contains("passes work again"), "{log}");
    assert!(
        error_lines(&log) <= 6,
        "{} error lines for one fault:\n{log}",
        error_lines(&log)
    );
    assert!(
        !log.contains("Full disk canary"),
        "embargoed text in the log"
    );
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM deliveries WHERE state = 'sending'"
        ),
        0
    );
    // Each member got the notice once, and not before its instant.
    let accepted = smtp.accepted();
    let notice_ids = env.sql(
        "SELECT d.recipient, d.message_id FROM deliveries d JOIN announcements a \
         ON a.id = d.announcement_id WHERE a.kind = 'notice'",
    );
    for line in notice_ids.lines() {
        let (member, id) = line.split_once('|').expect("row");
        let copies: Vec<_> = accepted
            .iter()
            .filter(|r| r.message_id.as_deref() == Some(id))
            .collect();
        assert_eq!(copies.len(), 1, "{member}: {copies:?}");
        assert!(
            copies[0].at >= started_unix + 11.9,
            "{member}'s notice arrived {} s after the start, before its instant",
            copies[0].at - started_unix
        );
    }
}

// The neighbour: the disk fills while a batch of outcomes is being
// recorded. Before the fix the recorder's error ended the run with the
// copy left `sending` and the connection poisoned; now the outcome waits
// in memory and is stored first once the disk has room.
#[test]
fn a_full_disk_while_outcomes_are_recorded_loses_no_outcome() {
    if sqlite_only() {
        return;
    }
    let (env, tmpfs) = on_tmpfs("");
    env.init();
    env.add(who::DAVE, who::ALICE, &[]);
    // Dave's server takes the DATA and then says nothing: the outcome
    // (uncertain) is known only after the 3 s timeout, with the disk full.
    let smtp = SmtpServer::start(
        &env.dir.path().join("smtp"),
        &Rules::new().recipient(who::DAVE, &["hang-after-data", "accept"]),
    );
    use_smtp(&env, &smtp);
    let mut daemon = Daemon::start(&env, &[], "serve.log");
    eventually(
        Duration::from_secs(15),
        "the server hangs on Dave's copy",
        || smtp.received().iter().any(|r| r.outcome == "hung"),
    );
    let filler = tmpfs.fill();
    eventually(
        Duration::from_secs(20),
        "recording meets the full disk",
        || daemon.log_text().contains("database or disk is full"),
    );
    std::thread::sleep(Duration::from_secs(3));
    std::fs::remove_file(&filler).expect("free the disk");

    eventually(
        Duration::from_secs(40),
        "Dave's confirmation is sent again and recorded",
        || of_kind(&env, "confirm") == vec![(who::DAVE.to_owned(), "sent".to_owned())],
    );
    assert!(daemon.stop().success(), "{}", daemon.log_text());
    // The uncertain attempt was recorded (not lost), and the copy went
    // again with the same Message-ID.
    assert_eq!(
        env.sql("SELECT attempts FROM deliveries WHERE recipient = 'dave@vendor.example'")
            .trim(),
        "2"
    );
    let to_dave: Vec<_> = smtp
        .received()
        .into_iter()
        .filter(|r| r.rcpt == vec![who::DAVE.to_owned()])
        .collect();
    assert_eq!(to_dave.len(), 2, "{to_dave:?}");
    assert_eq!(to_dave[0].message_id, to_dave[1].message_id);
    let log = daemon.log_text();
    assert!(!log.contains("non-zero transaction depth"), "{log}");
    assert!(error_lines(&log) <= 6, "{log}");
}

// The neighbour at start: a previous run left copies claimed and the disk
// is full when the daemon starts. Before the fix `embargo serve` exited at
// once (SQLite cannot even make its shared-memory file, so the database
// does not open); now it keeps trying, then sweeps the old claims and
// sends once the disk has room.
#[test]
fn a_full_disk_when_the_daemon_starts_does_not_stop_it() {
    if sqlite_only() {
        return;
    }
    let (env, tmpfs) = on_tmpfs("");
    env.init();
    env.add(who::DAVE, who::ALICE, &[]);
    // What a daemon killed mid-send leaves behind.
    env.sql(
        "UPDATE deliveries SET state = 'sending', lease_gen = lease_gen + 1, \
         lease_until = '2026-06-01T12:10:00.000000Z'",
    );
    let smtp = SmtpServer::start(&env.dir.path().join("smtp"), &Rules::new());
    use_smtp(&env, &smtp);
    let filler = tmpfs.fill();
    let mut daemon = Daemon::start(&env, &[], "serve.log");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !daemon.log_text().contains("retrying with backoff") {
        assert!(
            Instant::now() < deadline,
            "the daemon never met the full disk:\n{}",
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        daemon.is_running(),
        "embargo serve gave up:\n{}",
        daemon.log_text()
    );
    std::fs::remove_file(&filler).expect("free the disk");
    eventually(Duration::from_secs(40), "the confirmation is sent", || {
        of_kind(&env, "confirm") == vec![(who::DAVE.to_owned(), "sent".to_owned())]
    });
    assert!(daemon.stop().success(), "{}", daemon.log_text());
    let log = daemon.log_text();
    assert!(
        log.contains("returned copies claimed by a previous run"),
        "{log}"
    );
    assert_eq!(smtp.accepted().len(), 1);
}

// The same class with another real fault: another process (a backup, an
// operator's sqlite3 shell) holds the write lock for several seconds
// while copies are due. Before the fix the daemon retried every few
// milliseconds and logged an error for each try.
#[test]
fn a_database_locked_for_seconds_is_waited_out_quietly() {
    let env = Env::with_config("busy_timeout_ms = 300\n\n[delivery]\nalert_after = \"60s\"\n");
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.draft("DF-2026-0701", "Locked canary", "high");
    env.ok(&["advisory", "announce", "DF-2026-0701", "--at", &now_plus(6)]);
    let smtp = SmtpServer::start(&env.dir.path().join("smtp"), &Rules::new());
    use_smtp(&env, &smtp);
    let mut daemon = Daemon::start(&env, &[], "serve.log");
    let member_mail = "SELECT count(*) FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
         WHERE a.kind <> 'notice' AND d.state <> 'sent'";
    eventually(Duration::from_secs(10), "member mail is sent", || {
        count(&env, member_mail) == 0
    });
    let lock = WriteLock::take(&env);
    eventually(Duration::from_secs(20), "the daemon meets the lock", || {
        daemon.log_text().contains("busy or locked")
    });
    std::thread::sleep(Duration::from_secs(4));
    assert!(lock.release(), "the database shell failed");

    let notices = "SELECT count(*) FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
         WHERE a.kind = 'notice' AND d.state = 'sent'";
    eventually(Duration::from_secs(40), "the notices go out", || {
        count(&env, notices) == 2
    });
    assert!(daemon.stop().success(), "{}", daemon.log_text());
    let log = daemon.log_text();
    assert!(error_lines(&log) <= 4, "{log}");
    assert!(log.contains("passes work again"), "{log}");
    assert_eq!(smtp.accepted().len(), 4, "two member mails and two notices");
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

const PUBLIC: &str = "oss-security@lists.example";

fn export_files(env: &Env) -> Vec<String> {
    crate::common::outbox::exports_in(env.dir.path())
}

// Before the fix, writing A's OSV/CSAF export failed inside the
// disclosure step, the whole scheduler pass failed with it, and nothing
// was sent for any advisory (B's notices, A's disclosure) on every later
// pass; maintainers were never told.
#[test]
fn one_unwritable_export_folder_does_not_stop_other_mail() {
    let env = Env::with_config(&format!(
        "\n[mail]\npublic_addresses = [\"{PUBLIC}\"]\n\n[delivery]\nretry_first = \"1s\"\n"
    ));
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.draft("DF-2026-0010", "Parser overflow", "high");
    env.ok(&["advisory", "announce", "DF-2026-0010"]);
    let body = env.file("body-b.md", b"Other details.\n");
    env.ok(&[
        "advisory",
        "new",
        "DF-2026-0011",
        "--title",
        "Other bug",
        "--severity",
        "low",
        "--product",
        "p",
        "--body",
        path(&body),
        "--disclose-at",
        "2026-06-12T14:00:00Z",
    ]);
    // B's notice is due at the instant A's embargo lifts.
    let instant = "2026-06-09T14:00:00Z";
    env.ok(&["advisory", "announce", "DF-2026-0011", "--at", instant]);
    env.ok(&["queue", "run"]);
    // The export folder cannot be written (root ignores permissions, so
    // a regular file stands where the folder should be).
    let folder = env.dir.path().join("var/exports");
    std::fs::write(&folder, b"not a folder").expect("block the export folder");

    let run = env.run_at("2026-06-09T14:00:01Z", &["queue", "run"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("could not write the OSV and CSAF exports"),
        "{}",
        run.stderr
    );
    let status = env.sql("SELECT ident, status FROM advisories ORDER BY ident");
    assert_eq!(status, "DF-2026-0010|disclosed\nDF-2026-0011|notified\n");
    let mut disclosure = of_kind(&env, "disclosure");
    disclosure.sort();
    assert_eq!(
        disclosure,
        vec![
            (who::ALICE.to_owned(), "sent".to_owned()),
            (who::DAVE.to_owned(), "sent".to_owned()),
            (PUBLIC.to_owned(), "sent".to_owned()),
        ]
    );
    let b_notices = env.sql(
        "SELECT d.recipient, d.state FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
         JOIN advisories v ON v.id = a.advisory_id WHERE v.ident = 'DF-2026-0011' AND a.kind = 'notice' \
         ORDER BY d.recipient",
    );
    assert_eq!(
        b_notices,
        format!("{}|sent\n{}|sent\n", who::ALICE, who::DAVE)
    );
    assert_eq!(
        of_kind(&env, "report"),
        vec![(who::ALICE.to_owned(), "sent".to_owned())],
        "maintainers are told of the failed export"
    );

    // Later passes retry (with backoff) but tell maintainers only once.
    for at in ["2026-06-09T14:00:03Z", "2026-06-09T14:00:07Z"] {
        let run = env.run_at(at, &["queue", "run"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    assert_eq!(
        env.sql("SELECT state, attempts, reported FROM exports"),
        "pending|3|1\n"
    );
    assert_eq!(of_kind(&env, "report").len(), 1);

    // The folder is fixed: the next due pass writes A's documents, once.
    std::fs::remove_file(&folder).expect("unblock");
    let run = env.run_at("2026-06-09T14:01:00Z", &["queue", "run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        export_files(&env),
        vec![
            "DF-2026-0010.osv.json".to_owned(),
            "df-2026-0010.json".to_owned()
        ]
    );
    assert_eq!(
        env.sql("SELECT state, attempts FROM exports"),
        "written|4\n"
    );
    let written = std::fs::metadata(env.dir.path().join("var/exports/DF-2026-0010.osv.json"))
        .and_then(|m| m.modified())
        .expect("mtime");
    let run = env.run_at("2026-06-09T15:00:00Z", &["queue", "run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let again = std::fs::metadata(env.dir.path().join("var/exports/DF-2026-0010.osv.json"))
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(written, again, "the export was written twice");

    // The operator's early disclosure of B, with the folder blocked again:
    // B is disclosed (the command succeeds and says what failed), and its
    // documents follow once the folder works.
    std::fs::remove_dir_all(&folder).expect("remove the folder");
    std::fs::write(&folder, b"not a folder").expect("block the export folder");
    let run = env.run_at(
        "2026-06-10T09:00:00Z",
        &[
            "advisory",
            "disclose",
            "DF-2026-0011",
            "--now",
            "--reason",
            "exploited in the wild",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("could not write the OSV and CSAF exports"),
        "{}",
        run.stderr
    );
    assert_eq!(
        env.sql("SELECT status FROM advisories WHERE ident = 'DF-2026-0011'"),
        "disclosed\n"
    );
    std::fs::remove_file(&folder).expect("unblock");
    let run = env.run_at("2026-06-10T09:05:00Z", &["queue", "run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(export_files(&env).contains(&"DF-2026-0011.osv.json".to_owned()));
    assert_eq!(
        env.sql("SELECT state FROM exports ORDER BY advisory_id"),
        "written\nwritten\n"
    );
}

// When kinds became an enum read back by the store, a planned
// announcement whose kind no version of embargo writes (a database changed
// by hand) made the whole list of planned announcements unreadable, so
// every one after it (a cancellation here) waited behind it. Each row is
// again its own step of the pass.
#[test]
fn a_planned_announcement_of_an_unknown_kind_does_not_hold_back_others() {
    let env = Env::new();
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.draft("DF-2026-0010", "Parser overflow", "high");
    env.ok(&["advisory", "announce", "DF-2026-0010"]);
    env.ok(&["queue", "run"]);
    // Due before the cancellation, so it is read first.
    env.sql(
        "INSERT INTO announcements (list_id, kind, advisory_id, revision, due_at, state, created_at) \
         SELECT list_id, 'notices', id, 99, '2026-01-01T00:00:00Z', 'planned', '2026-01-01T00:00:00Z' \
         FROM advisories",
    );
    env.ok(&[
        "advisory",
        "cancel",
        "DF-2026-0010",
        "--reason",
        "duplicate",
    ]);

    // The pass says which step failed, and that the rest went out.
    let run = env.run(&["queue", "run"]);
    assert_ne!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("the rest was done and sent")
            && run
                .stderr
                .contains("announcement kind \"notices\" (announcement 4)"),
        "{}",
        run.stderr
    );
    let mut cancellation = of_kind(&env, "cancellation");
    cancellation.sort();
    assert_eq!(
        cancellation,
        vec![
            (who::ALICE.to_owned(), "sent".to_owned()),
            (who::DAVE.to_owned(), "sent".to_owned()),
        ]
    );
    // The row is left as it was, for an operator to look at.
    assert_eq!(
        env.sql("SELECT state FROM announcements WHERE kind = 'notices'"),
        "planned\n"
    );
}
