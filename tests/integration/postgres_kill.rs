//! The kill matrix on PostgreSQL: three `embargo serve` processes share
//! one database and fan one announcement out to 3,000 members; one of them
//! is killed with SIGKILL at a random point, restarted, and killed again at
//! another. The SMTP server's own record must show every member getting
//! the notice once, or twice with the same Message-ID only when their copy
//! was claimed by the killed daemon (sent, but not yet recorded). Then
//! three daemons meet the disclosure time together: it is published once.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::process::ExitStatusExt as _;
use std::time::{Duration, Instant};

use crate::common::daemon::{Daemon, eventually};
use crate::common::smtp::{Rules, SmtpServer};
use crate::common::{Env, NOW, outbox, store, who};

const MEMBERS: usize = 3_000;
const CANARY: &str = "Killmatrix canary overflow";
const DISCLOSE_AT: &str = "2026-06-09T14:00:00Z";

fn count(env: &Env, sql: &str) -> u64 {
    env.sql(sql).trim().parse().expect("a count")
}

/// Active members in one statement, each with their own address and
/// fingerprint and Dave's certificate (making 3,000 keys would cost the
/// test minutes; sealing and sending cost the same whoever holds the key).
fn bulk_members(env: &Env, count: usize) {
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.sql(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) \
         INSERT INTO members (list_id, email, email_norm, name, org, kind, roles, status, fingerprint, \
           sponsor_id, created_at, updated_at, confirmed_at) \
         SELECT d.list_id, 'kill' || {n5} || '@kill.example', 'kill' || {n5} || '@kill.example', \
           'Kill Member', 'Kill Org', 'vendor', d.roles, 'active', 'K' || {n39}, \
           d.sponsor_id, d.created_at, d.updated_at, d.confirmed_at \
         FROM n, members d WHERE d.email_norm = '{dave}'; \
         INSERT INTO member_certs (member_id, cert) \
         SELECT m.id, (SELECT c.cert FROM member_certs c JOIN members d ON d.id = c.member_id \
           WHERE d.email_norm = '{dave}') \
         FROM members m WHERE m.email_norm LIKE 'kill%';",
        dave = who::DAVE,
        n5 = env.zero_padded("i", 5),
        n39 = env.zero_padded("i", 39),
    ));
}

/// A number in `low..high` that differs from run to run (printed, so a
/// failing run can be told apart).
fn random_between(low: u64, high: u64) -> u64 {
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .expect("/dev/urandom");
    low + u64::from_le_bytes(bytes) % (high - low)
}

const SENT_NOTICES: &str = "SELECT count(*) FROM deliveries d JOIN announcements a \
     ON a.id = d.announcement_id WHERE a.kind = 'notice' AND d.state = 'sent'";

#[test]
fn three_daemons_killed_at_random_points_send_each_notice_once_and_disclose_once() {
    if !store::postgres() {
        eprintln!("postgres only: runs in the suite's PostgreSQL pass");
        return;
    }
    // A short claim lease, so a dead daemon's claims return within the
    // test; long enough that a live daemon always records in time.
    let env = Env::with_config(
        "\n[delivery]\nlease = \"10s\"\n\n[mail]\npublic_addresses = [\"oss@public.example\"]\n",
    );
    env.init();
    bulk_members(&env, MEMBERS);
    // Dave's member mail goes to the maildir, before the SMTP server.
    env.ok(&["queue", "run"]);
    env.draft("DF-2026-0999", CANARY, "high");
    env.ok(&["advisory", "announce", "DF-2026-0999"]);
    let notices = count(
        &env,
        "SELECT count(*) FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
         WHERE a.kind = 'notice' AND d.state = 'queued'",
    );
    assert_eq!(notices, MEMBERS as u64 + 2, "Alice, Dave and the bulk");
    let smtp = SmtpServer::start(&env.dir.path().join("smtp"), &Rules::new());
    {
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

    let started = Instant::now();
    let clock_now = || {
        let ran = chrono::Duration::from_std(started.elapsed()).expect("elapsed");
        (chrono::DateTime::parse_from_rfc3339(NOW).expect("NOW") + ran).to_rfc3339()
    };
    let mut steady = [
        Daemon::start(&env, &[], "steady-1.log"),
        Daemon::start(&env, &[], "steady-2.log"),
    ];
    let mut victim = Daemon::start(&env, &[], "victim-1.log");
    // Two kills of the same daemon, each once a random share of the
    // notices has been recorded as sent.
    let mut in_flight_at_kills = 0;
    let first_kill = random_between(100, notices / 2);
    let second_kill = random_between(notices / 2, notices - 100);
    let mut logs = Vec::new();
    for (round, at) in [first_kill, second_kill].into_iter().enumerate() {
        eventually(
            Duration::from_secs(120),
            &format!("{at} notices sent before kill {}", round + 1),
            || count(&env, SENT_NOTICES) >= at,
        );
        // The count moves when a batch of outcomes commits: a random
        // moment after it puts the kill anywhere in the next batch's
        // sending, not just after a commit.
        std::thread::sleep(Duration::from_millis(random_between(0, 400)));
        victim.kill();
        let status = victim.wait(Duration::from_secs(10));
        assert_eq!(status.signal(), Some(9), "the victim was killed");
        // What the dead daemon held: the only copies that may arrive
        // twice (once from it, unrecorded, and once after its lease).
        let in_flight = count(
            &env,
            "SELECT count(*) FROM deliveries WHERE state = 'sending'",
        );
        in_flight_at_kills += in_flight;
        eprintln!(
            "kill {} after {at} of {notices} notices were sent: {in_flight} copies in flight",
            round + 1
        );
        logs.push(victim.log_text());
        if round == 0 {
            victim = Daemon::start(&env, &[("EMBARGO_TEST_NOW", &clock_now())], "victim-2.log");
        }
    }
    eventually(Duration::from_secs(180), "every notice is sent", || {
        count(&env, SENT_NOTICES) == notices
    });
    for daemon in &mut steady {
        assert!(daemon.stop().success(), "{}", daemon.log_text());
        logs.push(daemon.log_text());
    }

    // The server's record: every member once, or twice with the same
    // Message-ID; twice no more often than copies were in flight.
    let ids: Vec<(String, String)> = env
        .sql(
            "SELECT d.recipient, d.message_id FROM deliveries d JOIN announcements a \
             ON a.id = d.announcement_id WHERE a.kind = 'notice'",
        )
        .lines()
        .map(|line| {
            let (r, id) = line.split_once('|').expect("row");
            (r.to_owned(), id.to_owned())
        })
        .collect();
    assert_eq!(ids.len() as u64, notices);
    let mut received: HashMap<String, Vec<Option<String>>> = HashMap::new();
    for copy in smtp.accepted() {
        for rcpt in copy.rcpt {
            received
                .entry(rcpt)
                .or_default()
                .push(copy.message_id.clone());
        }
    }
    let mut twice = 0;
    for (recipient, id) in &ids {
        let got = received.get(recipient).cloned().unwrap_or_default();
        assert!(
            (1..=2).contains(&got.len()),
            "{recipient} got {} copies",
            got.len()
        );
        assert!(
            got.iter().all(|m| m.as_deref() == Some(id.as_str())),
            "{recipient} got a copy with another Message-ID"
        );
        if got.len() == 2 {
            twice += 1;
        }
    }
    assert!(
        twice <= in_flight_at_kills,
        "{twice} members got two copies but only {in_flight_at_kills} were in flight at the kills"
    );
    eprintln!("{twice} of {notices} members got the notice twice (same Message-ID)");

    // The disclosure time comes for three daemons at once: one publishes.
    let mut three: Vec<Daemon> = (0..3)
        .map(|i| {
            Daemon::start(
                &env,
                &[("EMBARGO_TEST_NOW", "2026-06-09T14:00:01Z")],
                &format!("disclose-{i}.log"),
            )
        })
        .collect();
    let disclosed = "SELECT count(*) FROM advisories WHERE status = 'disclosed'";
    eventually(Duration::from_secs(120), "the disclosure is out", || {
        count(&env, disclosed) == 1
            && count(
                &env,
                "SELECT count(*) FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
                 WHERE a.kind = 'disclosure' AND d.state = 'sent'",
            ) == notices + 1
            && outbox::exports_in(env.dir.path()).len() >= 2
    });
    for daemon in &mut three {
        assert!(daemon.stop().success(), "{}", daemon.log_text());
        logs.push(daemon.log_text());
    }
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM audit_log WHERE action LIKE 'advisory.disclose%'"
        ),
        1,
        "one disclosure in the audit log"
    );
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM announcements WHERE kind = 'disclosure'"
        ),
        1,
        "one disclosure announcement"
    );
    let public: Vec<_> = smtp
        .accepted()
        .into_iter()
        .filter(|r| r.rcpt == vec!["oss@public.example".to_owned()])
        .collect();
    assert_eq!(public.len(), 1, "the public copy went out once");
    let exports = outbox::exports_in(env.dir.path());
    assert_eq!(exports.len(), 2, "one OSV and one CSAF file: {exports:?}");
    assert!(
        DISCLOSE_AT < "2026-06-09T14:00:01Z",
        "the daemons start after the disclosure time"
    );
    for log in logs {
        assert!(!log.contains(CANARY), "embargoed text in a log");
        assert!(!log.contains("@kill.example"), "an address in the info log");
    }
}
