//! Sealing an announcement for a large roster: by one process at a time,
//! in bounded batches, resumed after a crash, and the daemon woken at once
//! by the CLI instead of by its one-second poll.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rstest::rstest;

use crate::common::daemon::{Daemon, eventually};
use crate::common::smtp::{Rules, SmtpServer};
use crate::common::{Env, NOW, path, who};

const ADVISORY: &str = "DF-2026-0700";
/// Well after every clock the tests use: nothing sealed here is due.
const LATER: &str = "2026-06-01T18:00:00Z";

/// Adds `count` active members in one statement, each with its own
/// address and fingerprint and Dave's certificate: sealing costs the same
/// per member whoever holds the key, and making thousands of keys would
/// cost the test minutes.
fn bulk_members(env: &Env, count: usize) {
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.sql(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) \
         INSERT INTO members (list_id, email, email_norm, name, org, kind, roles, status, fingerprint, \
           sponsor_id, created_at, updated_at, confirmed_at) \
         SELECT d.list_id, 'bulk' || {n5} || '@bulk.example', 'bulk' || {n5} || '@bulk.example', \
           'Bulk Member', 'Bulk Org', 'vendor', d.roles, 'active', 'B' || {n39}, \
           d.sponsor_id, d.created_at, d.updated_at, d.confirmed_at \
         FROM n, members d WHERE d.email_norm = '{dave}'; \
         INSERT INTO member_certs (member_id, cert) \
         SELECT m.id, (SELECT c.cert FROM member_certs c JOIN members d ON d.id = c.member_id \
           WHERE d.email_norm = '{dave}') \
         FROM members m WHERE m.email_norm LIKE 'bulk%';",
        dave = who::DAVE,
        n5 = env.zero_padded("i", 5),
        n39 = env.zero_padded("i", 39),
    ));
}

fn count(env: &Env, sql: &str) -> u64 {
    env.sql(sql).trim().parse().expect("a count")
}

fn active_members(env: &Env) -> u64 {
    count(env, "SELECT count(*) FROM members WHERE status = 'active'")
}

fn notices(env: &Env) -> u64 {
    count(
        env,
        "SELECT count(*) FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
         WHERE a.kind = 'notice'",
    )
}

/// The notice announcement's state and its count of copies sealed.
fn notice_announcement(env: &Env) -> (String, u64) {
    let row =
        env.sql("SELECT state || '|' || sealed_copies FROM announcements WHERE kind = 'notice'");
    let (state, copies) = row.trim().split_once('|').expect("one notice announcement");
    (state.to_owned(), copies.parse().expect("a count"))
}

/// Copies sealed as the processes' info logs tell it: the sign/encrypt
/// work actually done, kept or not.
fn sealed_in_logs(logs: &[&str]) -> u64 {
    logs.iter()
        .flat_map(|log| log.lines())
        .map(strip_ansi)
        .filter(|line| line.contains("sealed a batch"))
        .map(|line| {
            let (_, rest) = line.split_once("copies=").expect("copies field");
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u64>().expect("copies")
        })
        .sum()
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn spawn(env: &Env, now: &str, vars: &[(&str, &str)], args: &[&str]) -> Child {
    let mut command = env.command();
    command
        .env("EMBARGO_TEST_NOW", now)
        .env("EMBARGO_LOG", "info")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in vars {
        command.env(name, value);
    }
    command.spawn().expect("start embargo")
}

/// Waits (bounded) for a child and returns its output.
fn finish(child: Child, what: &str) -> Output {
    let pid = child.id();
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match result.recv_timeout(Duration::from_secs(120)) {
        Ok(output) => output.expect("wait for embargo"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("{what} did not finish in two minutes");
        }
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

// Bug: with `embargo serve` running, the daemon's own pass sealed the same
// 10,000 copies while `advisory announce` was still sealing them; the
// insert-or-ignore kept one of each, but all the work was done twice and
// nothing said so. The second process here starts the moment the
// announcement is committed, so either may win the claim.
#[test]
fn two_processes_racing_to_seal_one_announcement_seal_each_copy_once() {
    let env = Env::new();
    env.init();
    bulk_members(&env, 1_200);
    env.draft(ADVISORY, "Raced canary", "high");
    let announce = spawn(
        &env,
        NOW,
        &[],
        &["advisory", "announce", ADVISORY, "--at", LATER],
    );
    eventually(Duration::from_secs(60), "the announcement commits", || {
        env.sql("SELECT status FROM advisories").trim() == "scheduled"
    });
    let run = spawn(&env, NOW, &[], &["queue", "run"]);
    let run = finish(run, "queue run");
    let announce = finish(announce, "advisory announce");
    assert!(announce.status.success(), "{}", stderr(&announce));
    assert!(run.status.success(), "{}", stderr(&run));
    let audience = active_members(&env);
    assert_eq!(
        sealed_in_logs(&[&stderr(&announce), &stderr(&run)]),
        audience,
        "sign/encrypt work done by the two processes\nannounce:\n{}\nqueue run:\n{}",
        stderr(&announce),
        stderr(&run)
    );
    assert_eq!(notice_announcement(&env), ("sealed".to_owned(), audience));
    assert_eq!(notices(&env), audience);
}

// Bug class: a seal split into batches must survive the process dying
// between them. The CLI is killed after its first (or second) batch
// commits; while its claim lasts nobody else seals, and once it expires
// `queue run` seals exactly the members still missing.
#[rstest]
#[case::after_the_first_batch(1)]
#[case::after_the_second_batch(2)]
fn a_seal_killed_between_batches_resumes_after_its_lease_without_duplicates(#[case] batches: u64) {
    let env = Env::new();
    env.init();
    bulk_members(&env, 1_200);
    env.draft(ADVISORY, "Interrupted canary", "high");
    let crash = format!("sealed:{batches}");
    let announce = spawn(
        &env,
        NOW,
        &[("EMBARGO_CRASH_AT", &crash)],
        &["advisory", "announce", ADVISORY, "--at", LATER],
    );
    let announce = finish(announce, "advisory announce");
    assert!(!announce.status.success(), "{}", stderr(&announce));
    let kept = batches * 500;
    assert_eq!(notices(&env), kept);
    assert_eq!(notice_announcement(&env), ("planned".to_owned(), kept));

    // The dead process's claim still holds: nobody seals over it.
    let early = finish(spawn(&env, NOW, &[], &["queue", "run"]), "queue run");
    assert!(early.status.success(), "{}", stderr(&early));
    assert!(
        stderr(&early).contains("another process is sealing"),
        "{}",
        stderr(&early)
    );
    assert_eq!(notices(&env), kept);

    // Two minutes later the claim has expired and the work is taken over.
    let late = finish(
        spawn(&env, "2026-06-01T12:02:00Z", &[], &["queue", "run"]),
        "queue run",
    );
    assert!(late.status.success(), "{}", stderr(&late));
    let audience = active_members(&env);
    assert_eq!(
        sealed_in_logs(&[&stderr(&announce), &stderr(&late)]),
        audience,
        "{}\n{}",
        stderr(&announce),
        stderr(&late)
    );
    assert_eq!(notice_announcement(&env), ("sealed".to_owned(), audience));
    assert_eq!(notices(&env), audience);
    assert_eq!(
        count(
            &env,
            "SELECT count(DISTINCT member_id) FROM deliveries d JOIN announcements a \
             ON a.id = d.announcement_id WHERE a.kind = 'notice'"
        ),
        audience
    );
}

/// Runs `embargo ARGS` under a Python parent whose only child it is, and
/// answers the child's peak RSS in MB from `getrusage(RUSAGE_CHILDREN)`
/// (the test binary's own children include other tests' processes).
fn peak_rss_mb(env: &Env, args: &[&str]) -> (Output, u64) {
    peak_rss_mb_at(env, NOW, args)
}

/// [`peak_rss_mb`] with the clock pinned at `at`.
fn peak_rss_mb_at(env: &Env, at: &str, args: &[&str]) -> (Output, u64) {
    let report = env.dir.path().join("rusage");
    let mut command = Command::new("/usr/bin/python3");
    command.args([
        "-c",
        "import resource, subprocess, sys\n\
         code = subprocess.call(sys.argv[2:])\n\
         peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n\
         open(sys.argv[1], 'w').write(str(peak))\n\
         sys.exit(code)\n",
        path(&report),
        env!("CARGO_BIN_EXE_embargo"),
    ]);
    let reference = env.command();
    for (name, value) in reference.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command.env("EMBARGO_TEST_NOW", at);
    command.current_dir(env.dir.path()).args(args);
    let output = command.output().expect("run python3");
    let kb: u64 = std::fs::read_to_string(&report)
        .expect("rusage report")
        .trim()
        .parse()
        .expect("ru_maxrss");
    (output, kb / 1024)
}

/// A list of 2,000 bulk members and a draft whose body is `kib` KiB, so
/// copies held all at once would show in the peak RSS.
fn heavy_draft(kib: usize) -> Env {
    let env = Env::new();
    env.init();
    bulk_members(&env, 2_000);
    let paragraph = "A crafted Frob-Header overflows a heap buffer in frobnicate(). ";
    let body = paragraph.repeat(kib * 1024 / paragraph.len());
    let body = env.file("big-body.md", body.as_bytes());
    env.ok(&[
        "advisory",
        "new",
        ADVISORY,
        "--title",
        "Heavy canary",
        "--severity",
        "high",
        "--product",
        "p",
        "--body",
        path(&body),
        "--disclose-at",
        "2026-06-09T14:00:00Z",
    ]);
    env
}

// Bug: whichever process sealed an announcement held every sealed copy in
// memory at once: 194-201 MB for 10,000 members, while the seal benchmark,
// which hands copies on 500 at a time, stays near 45 MB. With a 32 KiB
// body, 2,000 copies held at once come to well over 150 MB; one batch of
// 500 stays far below the ceiling.
#[test]
fn announcing_to_thousands_holds_one_batch_of_sealed_copies_not_all_of_them() {
    let env = heavy_draft(32);
    let (output, peak) = peak_rss_mb(&env, &["advisory", "announce", ADVISORY, "--at", LATER]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(notices(&env), active_members(&env));
    eprintln!(
        "advisory announce to {} members: peak RSS {peak} MB",
        active_members(&env)
    );
    assert!(peak < 120, "advisory announce peaked at {peak} MB");
}

// Bug: the public disclosure built every member's copy in memory before
// inserting any (about 150 MB for two advisories disclosed at the same
// instant to 10,000 members). It is built and committed a batch at a time:
// with a 64 KiB body, 2,000 copies held at once come to well over the
// ceiling, one batch far below it.
#[test]
fn disclosing_to_thousands_holds_one_batch_of_public_copies_not_all_of_them() {
    let env = heavy_draft(64);
    env.ok(&["advisory", "announce", ADVISORY, "--at", LATER]);
    let (output, peak) = peak_rss_mb_at(&env, "2026-06-09T14:00:30Z", &["queue", "run"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let disclosed = count(
        &env,
        "SELECT COUNT(*) FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
         WHERE a.kind = 'disclosure' AND d.state = 'sent' AND d.member_id IS NOT NULL",
    );
    assert_eq!(disclosed, active_members(&env));
    eprintln!("disclosure to {disclosed} members: peak RSS {peak} MB");
    assert!(peak < 120, "the disclosure pass peaked at {peak} MB");
}

/// An environment whose mail goes to a real SMTP server on loopback.
fn smtp_env() -> (Env, SmtpServer, tempfile::TempDir) {
    let server_dir = tempfile::tempdir().expect("temp dir");
    let smtp = SmtpServer::start(server_dir.path(), &Rules::new());
    let env = Env::with_config(&format!(
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n",
        smtp.port()
    ));
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    (env, smtp, server_dir)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

/// Announces a new advisory for now and answers how long after the CLI
/// exited the SMTP server recorded its first copy (negative: before).
fn first_copy_after_exit(env: &Env, smtp: &SmtpServer, id: &str) -> f64 {
    env.draft(id, "Woken canary", "high");
    let before = smtp.accepted().len();
    env.ok(&["advisory", "announce", id]);
    let exited = unix_now();
    let accepted = smtp.wait_for(before + 1, Duration::from_secs(10));
    assert!(accepted.len() > before, "no copy of {id} arrived");
    accepted[before].at - exited
}

/// The daemon's wake socket: beside the SQLite file, or
/// `<data_dir>/postgres.wake` on PostgreSQL. (Bug: on PostgreSQL the
/// daemon bound it beside the unused SQLite path while the CLI poked
/// `postgres.wake`, so work waited for the next poll; the two tests below
/// catch that when the suite runs on PostgreSQL.)
fn wake_socket(env: &Env) -> std::path::PathBuf {
    let place = if env.on_postgres() {
        env.dir.path().join("var/postgres")
    } else {
        env.database()
    };
    embargo::store::wake_socket_path(&place)
}

// Bug: the daemon noticed work added by the CLI only at its next
// once-a-second poll, so the first copy of an announcement made for "now"
// left 0.6-0.7 s after the CLI exited. The CLI now pokes the daemon's
// socket after each commit that adds work; on the old poll, five runs in a
// row under 400 ms would happen about one time in a hundred.
#[test]
fn the_first_copy_of_an_announcement_for_now_leaves_at_once_not_at_the_next_poll() {
    let (env, smtp, _server_dir) = smtp_env();
    let mut daemon = Daemon::start(&env, &[], "serve.log");
    eventually(Duration::from_secs(20), "member mail is sent", || {
        count(
            &env,
            "SELECT count(*) FROM deliveries WHERE state != 'sent'",
        ) == 0
            && daemon.log_text().contains("embargo serve is running")
    });
    let mut delays: Vec<f64> = (0..5)
        .map(|i| first_copy_after_exit(&env, &smtp, &format!("DF-2026-071{i}")))
        .collect();
    delays.sort_by(f64::total_cmp);
    eprintln!("first copy after the CLI exited (s): {delays:?}");
    assert!(daemon.stop().success(), "{}", daemon.log_text());
    for delay in &delays {
        assert!(*delay < 0.4, "a first copy took {delay:.3} s: {delays:?}");
    }
    assert!(!wake_socket(&env).exists(), "the daemon left its socket");
}

// The neighbour: a daemon killed with SIGKILL leaves its socket file. The
// CLI must work regardless (the poke is a hint) and a new daemon must
// start, replace the file, and be woken through it.
#[test]
fn a_stale_wake_socket_left_by_a_killed_daemon_stops_neither_the_cli_nor_a_new_daemon() {
    use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
    let (env, smtp, _server_dir) = smtp_env();
    let daemon = Daemon::start(&env, &[], "serve-1.log");
    eventually(
        Duration::from_secs(20),
        "the first daemon is running",
        || daemon.log_text().contains("embargo serve is running"),
    );
    let socket = wake_socket(&env);
    let meta = std::fs::metadata(&socket).expect("the wake socket exists");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    drop(daemon); // SIGKILL: the socket file stays behind.
    assert!(socket.exists());

    env.draft("DF-2026-0720", "Stale canary", "high");
    let run = env.ok(&["advisory", "announce", "DF-2026-0720"]);
    assert!(!run.stderr.contains("wake"), "{}", run.stderr);

    let mut daemon = Daemon::start(&env, &[], "serve-2.log");
    eventually(
        Duration::from_secs(20),
        "the second daemon is running",
        || daemon.log_text().contains("embargo serve is running"),
    );
    eventually(Duration::from_secs(20), "the notices are sent", || {
        count(
            &env,
            "SELECT count(*) FROM deliveries WHERE state != 'sent'",
        ) == 0
    });
    // The new daemon listens on the replaced socket.
    let delay = first_copy_after_exit(&env, &smtp, "DF-2026-0721");
    assert!(delay < 0.4, "the first copy took {delay:.3} s");
    assert!(daemon.stop().success(), "{}", daemon.log_text());
    assert!(!socket.exists());
}
