//! PostgreSQL as the store, when it is not there: a server stopped for a
//! few seconds under a running daemon, a server that is not up yet when
//! the daemon starts, a `[store] url` nothing answers at, and one that is
//! not a PostgreSQL URL at all; and several senders sharing one server.
//!
//! The server tests run a PostgreSQL server of their own
//! (`common::cluster`), since stopping the shared one would stop every
//! other test; they run in the PostgreSQL pass of the suite only.

use std::io::Write as _;
use std::time::{Duration, Instant};

use crate::common::cluster::Cluster;
use crate::common::daemon::{Daemon, eventually};
use crate::common::outbox::of_kind;
use crate::common::smtp::{Rules, SmtpServer};
use crate::common::store::{self, TestDatabase};
use crate::common::{Env, NOW, ingest, who};

/// A password the tests put in URLs; it must never be printed or logged.
const PASSWORD: &str = "hunter2-never-printed";

/// Whether this is the suite's PostgreSQL pass; says why a test returns
/// early otherwise.
fn postgres_pass() -> bool {
    let postgres = store::postgres();
    if !postgres {
        eprintln!("postgres only: runs in the suite's PostgreSQL pass");
    }
    postgres
}

/// A running server of the test's own with a list on it (Alice, and
/// whatever `setup` adds), whose config also names `extra`. The URL
/// carries a password (trust authentication ignores it) so the tests can
/// check that it is never shown.
fn own_server(extra: &str) -> (Cluster, Env) {
    let cluster = Cluster::init();
    cluster.start();
    cluster.create_database("embargo");
    let url = cluster
        .url("embargo")
        .replace("postgres@", &format!("postgres:{PASSWORD}@"));
    let env = Env::on_server(TestDatabase::on(&url), extra);
    env.init();
    (cluster, env)
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

/// RFC 3339 for `NOW` plus `seconds`.
fn now_plus(seconds: i64) -> String {
    let now = chrono::DateTime::parse_from_rfc3339(NOW).expect("NOW");
    (now + chrono::Duration::seconds(seconds)).to_rfc3339()
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// The PostgreSQL twin of the full-disk test: the server goes away for a
/// few seconds while a notice falls due. `embargo serve` rides it out,
/// says so, and once the server is back sends every notice once, not
/// before its instant; the URL's password is never logged.
#[test]
fn a_server_stopped_for_a_few_seconds_under_the_daemon_loses_nothing() {
    if !postgres_pass() {
        return;
    }
    let (cluster, env) =
        own_server("\n[delivery]\nalert_after = \"2s\"\nretry_first = \"1s\"\ntimeout = \"3s\"\n");
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.add_active(who::ERIN, who::ALICE, &[]);
    env.draft("DF-2026-0710", "Vanishing server canary", "high");
    // The notice is due 12 s into the daemon's run: the server is down then.
    let due = now_plus(12);
    env.ok(&["advisory", "announce", "DF-2026-0710", "--at", &due]);
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
    cluster.stop();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the server stopped too late to catch the notice's instant"
    );
    eventually(
        Duration::from_secs(20),
        "the daemon meets the stopped server",
        || daemon.log_text().contains("ERROR"),
    );
    // The outage lasts a few seconds, as a server restart would.
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        daemon.is_running(),
        "embargo serve gave up:\n{}",
        daemon.log_text()
    );
    cluster.start();

    let notices = "SELECT count(*) FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
         WHERE a.kind = 'notice' AND d.state = 'sent'";
    eventually(
        Duration::from_secs(40),
        "the notices go out once the server is back",
        || count(&env, notices) == 3,
    );
    assert!(daemon.stop().success(), "{}", daemon.log_text());
    let log = daemon.log_text();
    assert!(log.contains("passes work again"), "{log}");
    assert!(!log.contains(PASSWORD), "the URL's password was logged");
    assert!(
        !log.contains("Vanishing server canary"),
        "embargoed text in the log"
    );
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM deliveries WHERE state = 'sending'"
        ),
        0
    );
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

/// The neighbour at start: the server is down when `embargo serve`
/// starts. It keeps trying with backoff, says so (naming the URL without
/// its password), and serves once the server is up.
#[test]
fn serve_waits_for_a_server_that_is_down_at_start_and_then_serves() {
    if !postgres_pass() {
        return;
    }
    let (cluster, env) = own_server("\n[delivery]\nalert_after = \"2s\"\n");
    env.add(who::DAVE, who::ALICE, &[]);
    let smtp = SmtpServer::start(&env.dir.path().join("smtp"), &Rules::new());
    use_smtp(&env, &smtp);
    cluster.stop();
    let mut daemon = Daemon::start(&env, &[], "serve.log");
    eventually(
        Duration::from_secs(20),
        "the daemon meets the stopped server",
        || daemon.log_text().contains("retrying with backoff"),
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        daemon.is_running(),
        "embargo serve gave up:\n{}",
        daemon.log_text()
    );
    cluster.start();
    eventually(Duration::from_secs(40), "the confirmation is sent", || {
        of_kind(&env, "confirm") == vec![(who::DAVE.to_owned(), "sent".to_owned())]
    });
    assert!(daemon.stop().success(), "{}", daemon.log_text());
    let log = daemon.log_text();
    assert!(
        !log.contains(PASSWORD),
        "the URL's password was logged:\n{log}"
    );
    assert!(log.contains("postgres://postgres:***@127.0.0.1"), "{log}");
    assert!(log.contains("database opens again"), "{log}");
    assert_eq!(smtp.accepted().len(), 1);
}

/// A config whose `[store] url` names a port nothing listens on.
fn unreachable() -> (Env, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let url = format!("postgres://embargo:{PASSWORD}@127.0.0.1:{port}/embargo");
    let shown = format!("postgres://embargo:***@127.0.0.1:{port}/embargo");
    (Env::on_server(TestDatabase::on(&url), ""), shown)
}

/// CLI commands fail with exit 1 and a message naming the URL without its
/// password; `init` leaves nothing behind, so it can simply be run again.
#[test]
fn an_unreachable_server_fails_cli_commands_naming_the_url_without_its_password() {
    if !postgres_pass() {
        return;
    }
    let (env, shown) = unreachable();
    for args in [
        &["member", "list"][..],
        &["advisory", "list"],
        &["queue", "list"],
        &["audit", "verify"],
    ] {
        let run = env.run(args);
        run.fails_with(&shown);
        assert!(!run.stderr.contains(PASSWORD), "{}", run.stderr);
    }
    let key = env.cert_file(who::ALICE);
    let run = env.run(&[
        "init",
        "--admin",
        who::ALICE,
        "--name",
        "Alice Admin",
        "--org",
        "Project",
        "--key",
        crate::common::path(&key),
    ]);
    run.fails_with(&shown);
    assert!(!run.stderr.contains(PASSWORD), "{}", run.stderr);
    assert!(!env.key_file().exists(), "a failed init left the list key");
}

/// `embargo ingest` answers 75 (the MTA keeps the message and retries)
/// when the server cannot be reached, and prints no password.
#[test]
fn an_unreachable_server_makes_ingest_ask_the_mta_to_retry() {
    if !postgres_pass() {
        return;
    }
    let (env, _) = unreachable();
    let out = crate::common::spawn_ingest(
        &env,
        b"From: someone@example.org\r\nTo: security-announce-request@project.example\r\nSubject: hi\r\n\r\nhello\r\n",
        std::process::Stdio::piped(),
    )
    .wait_with_output()
    .expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The same with a signed-looking message is no different.
    assert_eq!(ingest(&env, b"not even a mail"), 75);
}

/// A `[store] url` that is not a PostgreSQL URL is refused when the
/// config loads, before anything is opened or created, naming it without
/// its password.
#[test]
fn a_store_url_that_is_not_postgres_is_refused_at_config_load() {
    for url in [
        format!("mysql://embargo:{PASSWORD}@127.0.0.1/embargo"),
        "sqlite:///var/lib/embargo/embargo.sqlite".to_owned(),
        "embargo.sqlite".to_owned(),
        " ".to_owned(),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("embargo.toml");
        std::fs::write(
            &config,
            format!(
                "[list]\naddress = \"security-announce@project.example\"\nname = \"Test list\"\n\n[store]\nurl = \"{url}\"\n\n[storage]\ndata_dir = \"var\"\n"
            ),
        )
        .expect("write config");
        let env = Env {
            dir,
            config,
            db: None,
        };
        let key = env.cert_file(who::ALICE);
        let init = [
            "init",
            "--admin",
            who::ALICE,
            "--name",
            "Alice Admin",
            "--org",
            "Project",
            "--key",
            crate::common::path(&key),
        ];
        for args in [&["member", "list"][..], &init] {
            let run = env.run(args);
            run.fails_with("[store] url must be a postgres:// URL");
            assert!(!run.stderr.contains(PASSWORD), "{}", run.stderr);
        }
        assert!(
            !env.dir.path().join("var").exists(),
            "{url}: something was created"
        );
    }
}

// Bug: on PostgreSQL, where several daemons may send at once, a sender
// starting up (`queue run`, `serve`) returned every claimed copy to the
// queue, as the SQLite daemon lock allows, and so sent a copy another
// daemon was sending at that moment a second time. Now only an expired
// lease is returned there: before its end the copy stays with its holder,
// after it the copy is sent, once.
#[test]
fn a_starting_sender_leaves_another_daemons_live_lease_alone() {
    if !postgres_pass() {
        return;
    }
    let env = Env::new();
    env.init();
    env.add(who::DAVE, who::ALICE, &[]);
    // Another daemon has claimed the confirmation until 12:10.
    env.sql(
        "UPDATE deliveries SET state = 'sending', lease_gen = lease_gen + 1, \
         lease_until = '2026-06-01T12:10:00.000000Z'",
    );
    for at in [NOW, "2026-06-01T12:09:59Z"] {
        let run = env.run_at(at, &["queue", "run"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(
            of_kind(&env, "confirm"),
            vec![(who::DAVE.to_owned(), "sending".to_owned())],
            "at {at}"
        );
        assert!(crate::common::outbox::maildir(&env).is_empty(), "at {at}");
    }
    let run = env.run_at("2026-06-01T12:10:01Z", &["queue", "run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        of_kind(&env, "confirm"),
        vec![(who::DAVE.to_owned(), "sent".to_owned())]
    );
    assert_eq!(crate::common::outbox::maildir(&env).len(), 1);
}

/// On PostgreSQL two daemons may run at once (there is no daemon lock to
/// refuse the second): they share the outbox through row locks and
/// leases, and every copy reaches the server once.
#[test]
fn two_daemons_on_one_server_send_every_copy_once() {
    if !postgres_pass() {
        return;
    }
    let env = Env::new();
    env.init();
    for member in [who::DAVE, who::ERIN, who::FRANK] {
        env.add_active(member, who::ALICE, &[]);
    }
    let smtp = SmtpServer::start(&env.dir.path().join("smtp"), &Rules::new());
    use_smtp(&env, &smtp);
    let mut first = Daemon::start(&env, &[], "first.log");
    let mut second = Daemon::start(&env, &[], "second.log");
    env.draft("DF-2026-0720", "Shared outbox canary", "high");
    env.ok(&["advisory", "announce", "DF-2026-0720"]);
    let unsent = "SELECT count(*) FROM deliveries WHERE state <> 'sent'";
    eventually(Duration::from_secs(40), "every copy is sent", || {
        count(&env, unsent) == 0
    });
    assert!(first.stop().success(), "{}", first.log_text());
    assert!(second.stop().success(), "{}", second.log_text());
    let accepted = smtp.accepted();
    let ids = env.sql("SELECT recipient, message_id FROM deliveries");
    assert_eq!(ids.lines().count(), accepted.len(), "{ids}");
    for line in ids.lines() {
        let (recipient, id) = line.split_once('|').expect("row");
        let copies = accepted
            .iter()
            .filter(|r| r.message_id.as_deref() == Some(id))
            .count();
        assert_eq!(copies, 1, "{recipient} got {copies} copies of {id}");
    }
}

// Bug: `init` on PostgreSQL said the list's database was the SQLite file
// `[storage]` would have used (and which was never made). It now names
// the server's URL, without its password; on SQLite, still the file.
#[test]
fn init_names_the_database_it_made_without_a_password() {
    let shared = store::database();
    let env = match &shared {
        Some(db) => Env::on_server(
            TestDatabase::on(
                &db.url()
                    .replace("postgres@", &format!("postgres:{PASSWORD}@")),
            ),
            "",
        ),
        None => Env::new(),
    };
    let key = env.cert_file(who::ALICE);
    let run = env.ok(&[
        "init",
        "--admin",
        who::ALICE,
        "--name",
        "Alice Admin",
        "--org",
        "Project",
        "--key",
        crate::common::path(&key),
    ]);
    let named = run
        .stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("database:"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no database line: {}", run.stdout));
    match &shared {
        Some(db) => {
            assert_eq!(named, db.url().replace("postgres@", "postgres:***@"));
            assert!(!run.stdout.contains(PASSWORD), "{}", run.stdout);
            assert!(!env.database().exists());
        }
        None => assert!(named.ends_with("var/embargo.sqlite"), "{named}"),
    }
    env.ok(&["member", "list"]);
}

/// The neighbour: the server is up but the database the config names is
/// not there yet (being restored, say). `embargo serve` waits for it as
/// for a stopped server, and serves once it appears.
#[test]
fn serve_waits_for_a_database_that_appears_and_then_serves() {
    if !postgres_pass() {
        return;
    }
    let (cluster, made) = own_server("");
    made.add(who::DAVE, who::ALICE, &[]);
    // A second folder whose config names `restored`, not made yet.
    let url = cluster
        .url("restored")
        .replace("postgres@", &format!("postgres:{PASSWORD}@"));
    let env = Env::on_server(
        TestDatabase::on(&url),
        "\n[delivery]\nalert_after = \"2s\"\n",
    );
    std::fs::create_dir_all(env.dir.path().join("var")).expect("var");
    std::fs::copy(made.key_file(), env.key_file()).expect("copy the list key");
    let smtp = SmtpServer::start(&env.dir.path().join("smtp"), &Rules::new());
    use_smtp(&env, &smtp);
    let mut daemon = Daemon::start(&env, &[], "serve.log");
    eventually(
        Duration::from_secs(20),
        "the daemon meets the missing database",
        || daemon.log_text().contains("retrying with backoff"),
    );
    assert!(daemon.is_running(), "{}", daemon.log_text());
    store::psql(
        &cluster.url("postgres"),
        "CREATE DATABASE restored TEMPLATE embargo",
    );
    eventually(Duration::from_secs(40), "the confirmation is sent", || {
        of_kind(&env, "confirm") == vec![(who::DAVE.to_owned(), "sent".to_owned())]
    });
    assert!(daemon.stop().success(), "{}", daemon.log_text());
    let log = daemon.log_text();
    assert!(
        !log.contains(PASSWORD),
        "the URL's password was logged:\n{log}"
    );
    assert_eq!(smtp.accepted().len(), 1);
}
