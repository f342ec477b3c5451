//! Delivery over SMTP to a real server process on 127.0.0.1 (aiosmtpd,
//! tests/smtp/server.py) that answers per recipient as each test scripts it.

use std::io::Write as _;

use crate::common::outbox::of_kind;
use crate::common::smtp::{Received, Rules, SmtpServer};
use crate::common::{Env, who};

const AT: &str = "2026-06-01T12:00:00Z";
const PLUS_30S: &str = "2026-06-01T12:00:30Z";
const PLUS_61S: &str = "2026-06-01T12:01:01Z";

/// Alice, Dave and Erin active (their member mail already delivered to the
/// maildir) and DF-2026-0020 announced: three notices queued.
fn announced() -> Env {
    let env = Env::new();
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.add_active(who::ERIN, who::ALICE, &[]);
    env.ok(&["queue", "run"]);
    env.draft("DF-2026-0020", "Over SMTP", "high");
    env.ok(&["advisory", "announce", "DF-2026-0020"]);
    assert_eq!(of_kind(&env, "notice").len(), 3);
    env
}

/// Points the list at an SMTP server on `port` from now on.
fn use_smtp(env: &Env, port: u16, delivery: &str) {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&env.config)
        .expect("config");
    write!(
        file,
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\n[delivery]\ntimeout = \"3s\"\n{delivery}\n"
    )
    .expect("write config");
}

fn server(env: &Env, rules: &Rules) -> SmtpServer {
    SmtpServer::start(&env.dir.path().join("smtp"), rules)
}

/// The Message-ID of the notice queued for `recipient`.
fn notice_id(env: &Env, recipient: &str) -> String {
    env.sql(&format!(
        "SELECT d.message_id FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
         WHERE a.kind = 'notice' AND d.recipient = '{recipient}'"
    ))
    .trim()
    .to_owned()
}

fn with_id<'a>(received: &'a [Received], id: &str) -> Vec<&'a Received> {
    received
        .iter()
        .filter(|r| r.message_id.as_deref() == Some(id))
        .collect()
}

fn run_at(env: &Env, at: &str) {
    let run = env.run_at(at, &["queue", "run"]);
    assert_eq!(
        run.code, 0,
        "queue run at {at}: {}{}",
        run.stdout, run.stderr
    );
}

fn notice_state(env: &Env, recipient: &str) -> String {
    of_kind(env, "notice")
        .into_iter()
        .find(|(r, _)| r == recipient)
        .map(|(_, s)| s)
        .expect("a notice for the recipient")
}

#[test]
fn a_451_is_retried_on_the_ladder_and_delivered_once() {
    let env = announced();
    let smtp = server(&env, &Rules::new().recipient(who::DAVE, &["451", "accept"]));
    use_smtp(&env, smtp.port(), "");
    run_at(&env, AT);
    assert_eq!(notice_state(&env, who::DAVE), "queued");
    assert_eq!(notice_state(&env, who::ERIN), "sent");
    let reply = env.sql(&format!(
        "SELECT attempts || ' ' || next_attempt_at || ' ' || last_reply FROM deliveries WHERE message_id = '{}'",
        notice_id(&env, who::DAVE)
    ));
    assert!(reply.starts_with("1 2026-06-01T12:01:00"), "{reply}");
    assert!(reply.contains("451"), "{reply}");
    run_at(&env, PLUS_30S);
    assert_eq!(
        notice_state(&env, who::DAVE),
        "queued",
        "retried before its time"
    );
    run_at(&env, PLUS_61S);
    assert_eq!(notice_state(&env, who::DAVE), "sent");
    let received = smtp.accepted();
    assert_eq!(with_id(&received, &notice_id(&env, who::DAVE)).len(), 1);
    for member in [who::ALICE, who::ERIN] {
        assert_eq!(with_id(&received, &notice_id(&env, member)).len(), 1);
    }
    // One RCPT per message, To the member alone, and a VERP sender.
    let dave = with_id(&received, &notice_id(&env, who::DAVE))[0];
    assert_eq!(dave.rcpt, vec![who::DAVE.to_owned()]);
    assert!(
        dave.mail_from.starts_with("security-announce-bounces+"),
        "{}",
        dave.mail_from
    );
}

#[test]
fn a_550_fails_at_once_and_maintainers_are_told() {
    let env = announced();
    let smtp = server(&env, &Rules::new().recipient(who::DAVE, &["550"]));
    use_smtp(&env, smtp.port(), "");
    run_at(&env, AT);
    assert_eq!(notice_state(&env, who::DAVE), "failed");
    let listed = env.ok(&["queue", "list", "--json"]).stdout;
    let rows: Vec<serde_json::Value> = serde_json::from_str(&listed).expect("json");
    let failed: Vec<_> = rows.iter().filter(|r| r["state"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{listed}");
    assert!(
        failed[0]["last_reply"]
            .as_str()
            .unwrap_or("")
            .contains("550")
    );
    // The report to Alice (admin) went out in the same run.
    assert_eq!(
        of_kind(&env, "report"),
        vec![(who::ALICE.to_owned(), "sent".to_owned())]
    );
    let to_alice = smtp
        .accepted()
        .into_iter()
        .filter(|r| r.rcpt == vec![who::ALICE.to_owned()])
        .count();
    assert_eq!(to_alice, 2, "Alice's notice and the report");
    // Never tried again, and reported once.
    run_at(&env, PLUS_61S);
    run_at(&env, "2026-06-02T12:00:00Z");
    let rcpt_events = smtp
        .events()
        .iter()
        .filter(|e| e["event"] == "rcpt" && e["code"] == 550)
        .count();
    assert_eq!(rcpt_events, 1);
    assert_eq!(of_kind(&env, "report").len(), 1);
}

#[test]
fn a_421_greeting_is_retried() {
    let env = announced();
    let smtp = server(&env, &Rules::new().connect(&["421", "accept"]));
    use_smtp(&env, smtp.port(), "concurrency = 1");
    run_at(&env, AT);
    let states: Vec<String> = [who::ALICE, who::DAVE, who::ERIN]
        .iter()
        .map(|m| notice_state(&env, m))
        .collect();
    assert_eq!(
        states.iter().filter(|s| *s == "queued").count(),
        1,
        "{states:?}"
    );
    assert_eq!(
        states.iter().filter(|s| *s == "sent").count(),
        2,
        "{states:?}"
    );
    run_at(&env, PLUS_61S);
    let received = smtp.accepted();
    for member in [who::ALICE, who::DAVE, who::ERIN] {
        assert_eq!(notice_state(&env, member), "sent");
        assert_eq!(
            with_id(&received, &notice_id(&env, member)).len(),
            1,
            "{member}"
        );
    }
}

#[test]
fn a_refused_connection_is_retried_until_the_server_is_back() {
    let env = announced();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_port = dead.local_addr().expect("addr").port();
    drop(dead);
    let config = std::fs::read_to_string(&env.config).expect("config");
    use_smtp(&env, dead_port, "");
    run_at(&env, AT);
    for member in [who::ALICE, who::DAVE, who::ERIN] {
        assert_eq!(notice_state(&env, member), "queued");
    }
    let reply = env
        .sql("SELECT DISTINCT last_reply FROM deliveries WHERE state = 'queued' AND attempts = 1");
    assert!(reply.contains("connect"), "{reply}");
    // The server comes back.
    let smtp = server(&env, &Rules::new());
    std::fs::write(&env.config, config).expect("restore config");
    use_smtp(&env, smtp.port(), "");
    run_at(&env, PLUS_61S);
    let received = smtp.accepted();
    for member in [who::ALICE, who::DAVE, who::ERIN] {
        assert_eq!(notice_state(&env, member), "sent");
        assert_eq!(with_id(&received, &notice_id(&env, member)).len(), 1);
    }
}

#[test]
fn silence_after_data_is_uncertain_and_resent_with_the_same_message_id() {
    let env = announced();
    let smtp = server(
        &env,
        &Rules::new().recipient(who::DAVE, &["drop-after-data", "accept"]),
    );
    use_smtp(&env, smtp.port(), "");
    run_at(&env, AT);
    assert_eq!(notice_state(&env, who::DAVE), "uncertain");
    // Maintainers hear of it.
    assert_eq!(of_kind(&env, "report").len(), 1);
    run_at(&env, PLUS_61S);
    assert_eq!(notice_state(&env, who::DAVE), "sent");
    let id = notice_id(&env, who::DAVE);
    let copies: Vec<String> = smtp
        .received()
        .into_iter()
        .filter(|r| r.message_id.as_deref() == Some(id.as_str()))
        .map(|r| r.outcome)
        .collect();
    assert_eq!(copies, vec!["dropped".to_owned(), "accepted".to_owned()]);
}

#[test]
fn silence_after_data_is_held_for_an_operator_when_configured() {
    let env = announced();
    let smtp = server(
        &env,
        &Rules::new().recipient(who::DAVE, &["hang-after-data", "accept"]),
    );
    use_smtp(&env, smtp.port(), "uncertain = \"hold\"");
    run_at(&env, AT);
    assert_eq!(notice_state(&env, who::DAVE), "uncertain");
    run_at(&env, "2026-06-01T13:00:00Z");
    assert_eq!(
        notice_state(&env, who::DAVE),
        "uncertain",
        "held copies wait"
    );
    let id: String = env
        .sql(&format!(
            "SELECT id FROM deliveries WHERE message_id = '{}'",
            notice_id(&env, who::DAVE)
        ))
        .trim()
        .to_owned();
    env.ok(&["queue", "release", &id]);
    run_at(&env, "2026-06-01T13:00:01Z");
    assert_eq!(notice_state(&env, who::DAVE), "sent");
    let outcomes: Vec<String> = smtp
        .received()
        .into_iter()
        .filter(|r| r.message_id.as_deref() == Some(notice_id(&env, who::DAVE).as_str()))
        .map(|r| r.outcome)
        .collect();
    assert_eq!(outcomes, vec!["hung".to_owned(), "accepted".to_owned()]);
}

#[test]
fn an_operator_retries_a_failed_copy_with_the_same_message_id() {
    let env = announced();
    let smtp = server(&env, &Rules::new().recipient(who::DAVE, &["550", "accept"]));
    use_smtp(&env, smtp.port(), "");
    run_at(&env, AT);
    assert_eq!(notice_state(&env, who::DAVE), "failed");
    let id = env
        .sql(&format!(
            "SELECT id FROM deliveries WHERE message_id = '{}'",
            notice_id(&env, who::DAVE)
        ))
        .trim()
        .to_owned();
    let dump = env.dump();
    env.run(&["queue", "retry", "999999"]).fails_with("no copy");
    assert_eq!(env.run(&["queue", "retry", "x"]).code, 2, "a usage error");
    assert_eq!(env.dump(), dump);
    env.ok(&["queue", "retry", &id]);
    run_at(&env, PLUS_30S);
    assert_eq!(notice_state(&env, who::DAVE), "sent");
    let received = smtp.accepted();
    assert_eq!(with_id(&received, &notice_id(&env, who::DAVE)).len(), 1);
    // A sent copy cannot be sent again.
    env.run(&["queue", "retry", &id])
        .fails_with("only a failed");
}

#[test]
fn starttls_required_never_falls_back_to_plain_text() {
    let env = announced();
    // This server offers no STARTTLS.
    let smtp = server(&env, &Rules::new());
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&env.config)
        .expect("config");
    write!(
        file,
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"starttls\"\n",
        smtp.port()
    )
    .expect("write config");
    drop(file);
    run_at(&env, AT);
    for member in [who::ALICE, who::DAVE, who::ERIN] {
        assert_eq!(notice_state(&env, member), "queued");
    }
    let reply = env.sql("SELECT DISTINCT last_reply FROM deliveries WHERE state = 'queued'");
    assert!(reply.contains("STARTTLS"), "{reply}");
    assert!(smtp.received().is_empty(), "a message went over plain text");
}
