//! `embargo serve` as a child process: the lock, noticing new work,
//! SIGTERM, a wall clock that jumps, and SIGKILL mid-fan-out.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::daemon::{Daemon, eventually};
use crate::common::outbox::of_kind;
use crate::common::smtp::{Rules, SmtpServer};
use crate::common::store::TestDatabase;
use crate::common::{Env, NOW, path, who};

fn count(env: &Env, sql: &str) -> u64 {
    env.sql(sql).trim().parse().expect("a count")
}

#[test]
fn one_daemon_at_a_time_and_sigterm_ends_it_cleanly() {
    if crate::common::store::postgres() {
        // Two daemons sharing one server is the design there:
        // postgres_faults.rs sends every copy once with two running and
        // stops both with SIGTERM.
        eprintln!("sqlite only: the one-daemon lock is a flock beside the SQLite file");
        return;
    }
    let env = Env::new();
    env.init();
    let mut first = Daemon::start(&env, &[], "serve-1.log");
    eventually(
        Duration::from_secs(10),
        "the first daemon is running",
        || first.log_text().contains("embargo serve is running"),
    );
    let second = env.run(&["serve"]);
    second.fails_with("holds");
    assert!(
        second.stderr.contains("only one may send"),
        "{}",
        second.stderr
    );
    env.run(&["queue", "run"]).fails_with("holds");
    let status = first.stop();
    assert!(status.success(), "{status:?}\n{}", first.log_text());
    // The lock goes with the process.
    env.ok(&["queue", "run"]);
}

#[test]
fn the_daemon_notices_work_from_the_cli_within_a_second() {
    let env = Env::new();
    env.init();
    let mut daemon = Daemon::start(&env, &[], "serve.log");
    eventually(Duration::from_secs(10), "the daemon is running", || {
        daemon.log_text().contains("embargo serve is running")
    });
    // `member add` queues the confirmation mail; the daemon sends it.
    env.add(who::DAVE, who::ALICE, &[]);
    let queued = Instant::now();
    let sent = || of_kind(&env, "confirm") == vec![(who::DAVE.to_owned(), "sent".to_owned())];
    let deadline = Instant::now() + Duration::from_secs(5);
    while !sent() {
        assert!(
            Instant::now() < deadline,
            "not sent: {:?}\n{}",
            env.sql("SELECT * FROM deliveries"),
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = queued.elapsed();
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    assert!(daemon.stop().success());
    let log = daemon.log_text();
    assert!(
        !log.contains(who::DAVE),
        "an address in the info log:\n{log}"
    );
}

#[test]
fn a_wall_clock_jump_holds_sending_and_alerts_until_time_agrees_again() {
    let env = Env::new();
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    let skew = env.file("skew", b"0\n");
    let mut daemon = Daemon::start(
        &env,
        &[("EMBARGO_TEST_CLOCK_SKEW_FILE", path(&skew))],
        "serve.log",
    );
    eventually(Duration::from_secs(10), "member mail is sent", || {
        count(&env, "SELECT count(*) FROM deliveries WHERE state = 'sent'") == 2
    });
    std::fs::write(&skew, "3600\n").expect("jump forward an hour");
    eventually(
        Duration::from_secs(10),
        "the alert reaches the admin",
        || of_kind(&env, "report") == vec![(who::ALICE.to_owned(), "sent".to_owned())],
    );
    // While time is suspect, nothing else goes, however due.
    env.add(who::ERIN, who::ALICE, &[]);
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        assert_eq!(
            of_kind(&env, "confirm")
                .into_iter()
                .filter(|(r, _)| r == who::ERIN)
                .map(|(_, s)| s)
                .collect::<Vec<_>>(),
            vec!["queued".to_owned()],
            "sent while the clock was suspect"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::write(&skew, "0\n").expect("the clock is put right");
    eventually(Duration::from_secs(10), "sending resumes", || {
        of_kind(&env, "confirm").contains(&(who::ERIN.to_owned(), "sent".to_owned()))
    });
    assert!(daemon.stop().success());
    let log = daemon.log_text();
    assert!(log.contains("wall clock jumped"), "{log}");
    assert!(log.contains("sending resumes"), "{log}");
}

// The crash test: fan out to 300 members, SIGKILL the daemon at a point,
// restart it, and check the SMTP server's own record.

const MEMBERS: usize = 300;
const CRASH_TITLE: &str = "Crashworthy canary";

/// A list with Alice and 300 active members whose member mail is already
/// delivered (to the maildir), built once per test run in-process through
/// the library, and copied for each test.
fn crash_roster() -> &'static Env {
    static ROSTER: OnceLock<Env> = OnceLock::new();
    ROSTER.get_or_init(|| {
        let env = Env::new();
        env.init();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            use embargo::app::App;
            use embargo::app::roster::AddMember;
            use embargo::clock::FixedClock;
            let now = chrono::DateTime::parse_from_rfc3339(NOW)
                .expect("NOW")
                .with_timezone(&chrono::Utc);
            let config = embargo::config::Config::load(Some(&env.config)).expect("config");
            let app = App::open(config, Box::new(FixedClock(now)))
                .await
                .expect("open");
            for i in 0..MEMBERS {
                let email = format!("member{i:03}@crash.example");
                let parsed = embargo::roster::Email::parse(&email).expect("email");
                let (cert, _) =
                    embargo::pgp::generate_member_key(&format!("Member {i}"), &parsed, now)
                        .expect("key");
                let added = app
                    .add_member(AddMember {
                        email: email.clone(),
                        name: format!("Member {i}"),
                        org: "Crash Org".to_owned(),
                        kind: embargo::roster::Kind::Vendor,
                        cert,
                        sponsor: who::ALICE.to_owned(),
                        statement: None,
                        roles: Vec::new(),
                        by: None,
                    })
                    .await
                    .expect("add");
                app.confirm_member(&email, &added.token)
                    .await
                    .expect("confirm");
            }
            app.close().await;
        });
        env.ok(&["queue", "run"]);
        env
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            if entry.file_name() != "maildir" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Announces an advisory to the copied roster, kills the daemon at
/// `point`, restarts it, and checks what the SMTP server received.
fn crash_at(point: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let roster = crash_roster();
    copy_dir(roster.dir.path(), dir.path());
    let config = dir.path().join("embargo.toml");
    // On PostgreSQL the copy gets its own database, copied from the
    // roster's, and its config names it.
    let db = roster.db.as_ref().map(|template| {
        let copy = TestDatabase::copy_of(template);
        let text = std::fs::read_to_string(&config).expect("read config");
        std::fs::write(&config, text.replace(template.url(), copy.url())).expect("write config");
        copy
    });
    let env = Env { config, dir, db };
    env.draft("DF-2026-0900", CRASH_TITLE, "high");
    env.ok(&["advisory", "announce", "DF-2026-0900"]);
    let notices = MEMBERS as u64 + 1;
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM deliveries d JOIN announcements a ON a.id = d.announcement_id WHERE a.kind = 'notice' AND d.state = 'queued'"
        ),
        notices
    );
    let smtp = SmtpServer::start(&env.dir.path().join("smtp"), &Rules::new());
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(&env.config)
        .expect("config");
    use std::io::Write as _;
    write!(
        config,
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n",
        smtp.port()
    )
    .expect("write config");
    drop(config);

    let started = Instant::now();
    let mut first = Daemon::start(&env, &[("EMBARGO_CRASH_AT", point)], "crash.log");
    let status = first.wait(Duration::from_secs(60));
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(
        status.signal(),
        Some(9),
        "{point}: not killed: {status:?}\n{}",
        first.log_text()
    );
    // Copies the dead daemon held: the only ones that may arrive twice.
    let in_flight = count(
        &env,
        "SELECT count(*) FROM deliveries WHERE state = 'sending'",
    );
    // Copies recorded as sent before the kill: these must never go again.
    let recorded: std::collections::HashSet<String> = env
        .sql("SELECT recipient FROM deliveries WHERE state = 'sent' AND message IS NULL AND announcement_id IN (SELECT id FROM announcements WHERE kind = 'notice')")
        .lines()
        .map(ToOwned::to_owned)
        .collect();
    let accepted_at_kill = smtp.accepted().len();

    // The clock ran on while the first daemon worked: the restart starts
    // after what it recorded (a daemon whose clock starts behind the
    // database holds sending, see never_early.rs).
    let ran = chrono::Duration::from_std(started.elapsed()).expect("elapsed");
    // On PostgreSQL no lock proves the dead daemon gone (daemons share the
    // outbox there), so its leases return once they expire: the restart
    // comes after them (the default lease is ten minutes).
    let leases = if env.on_postgres() {
        chrono::Duration::minutes(10)
    } else {
        chrono::Duration::zero()
    };
    let restart_at = (chrono::DateTime::parse_from_rfc3339(NOW).expect("NOW")
        + ran
        + leases
        + chrono::Duration::seconds(1))
    .to_rfc3339();
    let mut second = Daemon::start(&env, &[("EMBARGO_TEST_NOW", &restart_at)], "restart.log");
    eventually(Duration::from_secs(60), "every notice is sent", || {
        count(
            &env,
            "SELECT count(*) FROM deliveries d JOIN announcements a ON a.id = d.announcement_id WHERE a.kind = 'notice' AND d.state = 'sent'",
        ) == notices
    });
    assert!(second.stop().success(), "{}", second.log_text());
    assert!(
        second
            .log_text()
            .contains("returned copies claimed by a previous run")
            || in_flight == 0
    );

    // The server's record: every member exactly once, or twice with the
    // same Message-ID when their copy was in flight at the kill.
    let ids: Vec<(String, String)> = env
        .sql("SELECT d.recipient, d.message_id FROM deliveries d JOIN announcements a ON a.id = d.announcement_id WHERE a.kind = 'notice'")
        .lines()
        .map(|line| {
            let (r, id) = line.split_once('|').expect("row");
            (r.to_owned(), id.to_owned())
        })
        .collect();
    let received = smtp.accepted();
    let mut twice = 0;
    for (recipient, id) in &ids {
        let to_member: Vec<_> = received
            .iter()
            .filter(|r| r.rcpt == vec![recipient.clone()])
            .collect();
        let copies = to_member.len();
        assert!(
            (1..=2).contains(&copies),
            "{point}: {recipient} got {copies} copies"
        );
        assert!(
            to_member
                .iter()
                .all(|r| r.message_id.as_deref() == Some(id.as_str())),
            "{point}: {recipient} got a copy with another Message-ID"
        );
        if copies == 2 {
            assert!(
                !recorded.contains(recipient),
                "{point}: {recipient} was recorded as sent before the kill and still got a second copy"
            );
            twice += 1;
        }
    }
    // Everything the server took but the dead daemon had not recorded was
    // sent again (it could not know); nothing else was.
    assert!(
        twice as usize >= accepted_at_kill.saturating_sub(recorded.len()),
        "{point}: {accepted_at_kill} accepted, {} recorded, only {twice} resent",
        recorded.len()
    );
    assert!(
        twice <= in_flight,
        "{point}: {twice} members got two copies but only {in_flight} were in flight at the kill"
    );
    eprintln!(
        "crash at {point}: {accepted_at_kill} accepted before the kill, {} recorded, {in_flight} in flight, {twice} sent twice",
        recorded.len()
    );
    for log in [first.log_text(), second.log_text()] {
        assert!(!log.contains(CRASH_TITLE), "embargoed text in the log");
        assert!(
            !log.contains("@crash.example"),
            "an address in the info log"
        );
    }
}

#[test]
fn crash_right_after_claiming() {
    crash_at("claimed:1");
}

#[test]
fn crash_right_after_a_data() {
    crash_at("data:1");
}

#[test]
fn crash_mid_fan_out() {
    crash_at("data:150");
}

#[test]
fn crash_right_after_recording_a_batch() {
    crash_at("recorded:20");
}
