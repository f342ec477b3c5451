//! The security team's own list (issue 12, in progress): a team member's
//! signed post to `[team] address` is re-sealed to exactly the active
//! team, each copy readable by its member alone, naming the verified
//! sender, with the post's real headers inside and generic ones outside.

use mail_parser::MessageParser;

use crate::common::lists::ingest_to;
use crate::common::mail::{Headers, SIGNED_NOW, signed_mime};
use crate::common::outbox::maildir;
use crate::common::team::*;
use crate::common::{Env, who};

fn post_by(signer: &str) -> Vec<u8> {
    let mut headers = Headers::new(signer, TEAM);
    headers.subject = SECRET_SUBJECT.to_owned();
    signed_mime(
        signer,
        &headers,
        &format!("{SECRET_BODY}\n"),
        &[],
        SIGNED_NOW,
    )
}

/// The recipients of team posts' copies, once a scheduler pass (`queue
/// run`) has re-sealed what ingest kept.
fn team_post_recipients(env: &Env) -> Vec<String> {
    env.ok(&["queue", "run"]);
    env.sql(
        "SELECT d.recipient FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
         WHERE a.kind = 'team-post' ORDER BY d.recipient",
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

#[test]
fn a_team_members_post_is_resealed_to_exactly_the_active_team() {
    let env = team_env();
    assert_eq!(ingest_to(&env, TEAM, &post_by(who::BOB)), 0);
    let team = expected_team(&env);
    assert!(team.contains(&who::BOB.to_owned()) && team.contains(&who::CAROL.to_owned()));
    assert!(!team.contains(&who::DAVE.to_owned()) && !team.contains(&who::ERIN.to_owned()));
    assert_eq!(
        team_post_recipients(&env),
        team,
        "the active team, no one else"
    );

    env.ok(&["queue", "run"]);
    for file in maildir(&env) {
        let eml = String::from_utf8_lossy(&std::fs::read(&file).expect("mail")).into_owned();
        assert!(!eml.contains(SECRET_SUBJECT) && !eml.contains("CanaryTeamPostBody"));
    }
    let fingerprint = crate::common::commands::stored_fingerprint(&env, who::BOB);
    for member in [who::BOB, who::CAROL] {
        let copies = decrypted_copies_of(&env, member);
        let posts: Vec<&Vec<u8>> = copies
            .iter()
            .filter(|inner| String::from_utf8_lossy(inner).contains("CanaryTeamPostBody"))
            .collect();
        assert_eq!(posts.len(), 1, "{member} gets the post once");
        let inner = MessageParser::default().parse(posts[0]).expect("inner");
        let text = String::from_utf8_lossy(posts[0]);
        // The signed inner entity's first part carries the protected headers.
        assert!(
            text.contains(&format!("Subject: {SECRET_SUBJECT}")),
            "{text}"
        );
        assert!(text.contains(&format!("From: {}", who::BOB)), "{text}");
        assert!(text.contains("protected-headers=\"v1\""));
        let preface = inner.body_text(0).unwrap_or_default();
        assert!(
            preface.contains("posted this to the security team"),
            "{preface}"
        );
        assert!(
            preface.contains(who::BOB) && preface.contains(&fingerprint),
            "{preface}"
        );
    }
}

#[test]
fn a_post_not_signed_by_an_active_team_member_is_never_relayed_as_theirs() {
    let env = team_env();
    // A subscriber, a suspended committer, and a stranger writing Bob's From.
    assert_eq!(ingest_to(&env, TEAM, &post_by(who::DAVE)), 0);
    assert_eq!(ingest_to(&env, TEAM, &post_by(who::ERIN)), 0);
    let forged = format!(
        "From: {}\r\nTo: {TEAM}\r\nSubject: {SECRET_SUBJECT}\r\nMessage-ID: <forged@attacker.example>\r\n\r\n{SECRET_BODY}\r\n",
        who::BOB
    );
    assert_eq!(ingest_to(&env, TEAM, forged.as_bytes()), 0);
    assert!(team_post_recipients(&env).is_empty());
    // Each is a report instead, from a sender nobody verified.
    assert_eq!(cases(&env).len(), 3);
    // The same post of Bob's, twice: relayed once.
    let post = post_by(who::BOB);
    assert_eq!(ingest_to(&env, TEAM, &post), 0);
    assert_eq!(ingest_to(&env, TEAM, &post), 0);
    assert_eq!(team_post_recipients(&env), expected_team(&env));
}

/// The recipients of reports' copies, once a scheduler pass has
/// re-sealed what ingest kept.
fn case_report_recipients(env: &Env) -> Vec<String> {
    env.ok(&["queue", "run"]);
    env.sql(
        "SELECT d.recipient FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
         WHERE a.kind = 'case-report' ORDER BY d.recipient",
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

#[test]
fn a_report_from_a_stranger_opens_a_case_that_reaches_exactly_the_team_and_is_kept_only_sealed() {
    let env = team_env();
    assert_eq!(
        ingest_to(
            &env,
            TEAM,
            &report_from(REPORTER, "r1@reporter.example", "")
        ),
        0
    );
    assert_eq!(cases(&env), [format!("CASE-2026-0001 {REPORTER} 0")]);
    assert_eq!(case_report_recipients(&env), expected_team(&env));
    // The database holds the report only as ciphertext.
    let database = env.database();
    if database.exists() {
        for file in [database.clone(), database.with_extension("sqlite-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(REPORT_CANARY),
                    "{} holds the report in clear",
                    file.display()
                );
            }
        }
    }
    env.ok(&["queue", "run"]);
    for member in [who::BOB, who::CAROL] {
        let copies = decrypted_copies_of(&env, member);
        let report: Vec<String> = copies
            .iter()
            .map(|inner| String::from_utf8_lossy(inner).into_owned())
            .filter(|text| text.contains(REPORT_CANARY))
            .collect();
        assert_eq!(report.len(), 1, "{member} gets the report once");
        assert!(report[0].contains("CASE-2026-0001"), "{}", report[0]);
        assert!(report[0].contains("sender not verified"), "{}", report[0]);
    }
}

#[test]
fn a_team_from_without_a_good_signature_opens_a_case_and_is_never_a_team_post() {
    let env = team_env();
    let forged = report_from(who::BOB, "forged@attacker.example", "");
    assert_eq!(ingest_to(&env, TEAM, &forged), 0);
    assert!(team_post_recipients(&env).is_empty());
    assert_eq!(cases(&env), [format!("CASE-2026-0001 {} 0", who::BOB)]);
}

#[test]
fn the_same_report_twice_opens_one_case_and_the_next_report_the_next_case() {
    let env = team_env();
    let report = report_from(REPORTER, "r1@reporter.example", "");
    assert_eq!(ingest_to(&env, TEAM, &report), 0);
    assert_eq!(ingest_to(&env, TEAM, &report), 0);
    assert_eq!(cases(&env).len(), 1);
    let next = report_from(REPORTER, "r2@reporter.example", "");
    assert_eq!(ingest_to(&env, TEAM, &next), 0);
    let names: Vec<String> = cases(&env)
        .iter()
        .map(|row| row.split(' ').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, ["CASE-2026-0001", "CASE-2026-0002"]);
}

#[test]
fn reports_over_the_hourly_limits_are_dropped_per_sender_and_in_all() {
    let env = team_env();
    append_config(&env, "[cases]\nper_sender_per_hour = 2\nper_hour = 3\n");
    for n in 0..3 {
        let report = report_from(REPORTER, &format!("a{n}@reporter.example"), "");
        assert_eq!(ingest_to(&env, TEAM, &report), 0);
    }
    assert_eq!(cases(&env).len(), 2, "two from one sender");
    for n in 0..2 {
        let report = report_from(
            "other@elsewhere.example",
            &format!("b{n}@elsewhere.example"),
            "",
        );
        assert_eq!(ingest_to(&env, TEAM, &report), 0);
    }
    assert_eq!(cases(&env).len(), 3, "three in all");
    // Two reports were dropped; maintainers were told once, not twice.
    let told = env.sql("SELECT count(*) FROM audit_log WHERE action = 'case.over-limit'");
    assert_eq!(told.trim(), "1");
    assert_eq!(reports_to(&env, who::ALICE), 1, "the admin heard of it");
    assert_eq!(reports_to(&env, who::BOB), 0, "a committer did not");
}

#[test]
fn only_our_own_authentication_results_verify_a_reporter() {
    let env = team_env();
    append_config(&env, "[cases]\nauthserv_id = \"mail.project.example\"\n");
    let ours = "Authentication-Results: mail.project.example; dkim=pass (2048-bit key) \
                header.d=reporter.example header.s=default\r\n";
    let foreign =
        "Authentication-Results: mx.attacker.example; dkim=pass header.d=reporter.example\r\n";
    let other_domain =
        "Authentication-Results: mail.project.example; dkim=pass header.d=attacker.example\r\n";
    assert_eq!(
        ingest_to(
            &env,
            TEAM,
            &report_from(REPORTER, "v1@reporter.example", ours)
        ),
        0
    );
    assert_eq!(
        ingest_to(
            &env,
            TEAM,
            &report_from(REPORTER, "v2@reporter.example", foreign)
        ),
        0
    );
    assert_eq!(
        ingest_to(
            &env,
            TEAM,
            &report_from(REPORTER, "v3@reporter.example", other_domain)
        ),
        0
    );
    let verified: Vec<String> = cases(&env)
        .iter()
        .map(|row| row.rsplit(' ').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(verified, ["1", "0", "0"]);
}

fn clock_steps(env: &Env) -> Vec<String> {
    env.sql(
        "SELECT action FROM audit_log WHERE action IN ('case.remind', 'case.escalate', 'case.breach') \
         ORDER BY seq",
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

fn reports_to(env: &Env, member: &str) -> usize {
    env.sql(&format!(
        "SELECT count(*) FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
         WHERE a.kind = 'report' AND d.recipient = '{member}'"
    ))
    .trim()
    .parse()
    .unwrap_or(0)
}

#[test]
fn the_clock_reminds_escalates_and_records_the_breach_once_each_and_not_a_second_early() {
    let env = team_env();
    // Opened at NOW, 2026-06-01 12:00 UTC.
    assert_eq!(
        ingest_to(
            &env,
            TEAM,
            &report_from(REPORTER, "c1@reporter.example", "")
        ),
        0
    );
    for (at, steps) in [
        ("2026-06-01T23:59:59Z", &[][..]),
        ("2026-06-02T00:00:00Z", &["case.remind"][..]),
        ("2026-06-02T00:00:01Z", &["case.remind"][..]),
        ("2026-06-02T07:59:59Z", &["case.remind"][..]),
        (
            "2026-06-02T08:00:00Z",
            &["case.remind", "case.escalate"][..],
        ),
        (
            "2026-06-02T11:59:59Z",
            &["case.remind", "case.escalate"][..],
        ),
        (
            "2026-06-02T12:00:00Z",
            &["case.remind", "case.escalate", "case.breach"][..],
        ),
        (
            "2026-06-03T12:00:00Z",
            &["case.remind", "case.escalate", "case.breach"][..],
        ),
    ] {
        env.run_at(at, &["queue", "run"]);
        assert_eq!(clock_steps(&env), steps, "at {at}");
    }
    // The escalation went to the committers: Bob, not the suspended Erin,
    // nor the advisor or the subscriber.
    assert_eq!(reports_to(&env, who::BOB), 1);
    assert_eq!(reports_to(&env, who::ERIN), 0);
    assert_eq!(reports_to(&env, who::CAROL), 0);
    assert_eq!(reports_to(&env, who::DAVE), 0);
}

#[test]
fn a_clock_that_was_stopped_past_every_step_fires_each_once() {
    let env = team_env();
    assert_eq!(
        ingest_to(
            &env,
            TEAM,
            &report_from(REPORTER, "c2@reporter.example", "")
        ),
        0
    );
    env.run_at("2026-06-05T00:00:00Z", &["queue", "run"]);
    env.run_at("2026-06-05T00:00:01Z", &["queue", "run"]);
    assert_eq!(
        clock_steps(&env),
        ["case.remind", "case.escalate", "case.breach"]
    );
}

/// Ingest keeps a post for the scheduler to re-seal; a pass killed after
/// writing the copies but before committing them leaves the relay whole,
/// and the next pass queues each copy once.
#[test]
fn a_relay_killed_before_it_commits_is_relayed_once_by_the_next_pass() {
    let env = team_env();
    assert_eq!(ingest_to(&env, TEAM, &post_by(who::BOB)), 0);
    let killed = env
        .command()
        .env("EMBARGO_CRASH_AT", "relayed:1")
        .args(["queue", "run"])
        .output()
        .expect("queue run");
    assert!(!killed.status.success(), "the crash point was not reached");
    let queued = env.sql(
        "SELECT count(*) FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
         WHERE a.kind = 'team-post'",
    );
    assert_eq!(queued.trim(), "0", "nothing of the killed pass was kept");
    assert_eq!(team_post_recipients(&env), expected_team(&env));
    // Another pass relays nothing again.
    assert_eq!(team_post_recipients(&env), expected_team(&env));
    let pending = env.sql("SELECT count(*) FROM relays WHERE relayed_at IS NULL");
    assert_eq!(pending.trim(), "0");
    let kept = env.sql("SELECT count(*) FROM relays WHERE sealed IS NOT NULL");
    assert_eq!(kept.trim(), "0", "a relayed message is not kept");
}

/// The re-sealed copies cross a real SMTP server process on 127.0.0.1:
/// one session transaction per member, exactly the active team, nothing
/// of the post in the envelope or outside the encryption, and each copy
/// opened by its own member's key and by no other team member's.
#[test]
fn a_team_post_crosses_a_real_smtp_server_and_each_member_reads_only_their_copy() {
    use std::time::Duration;

    use crate::common::smtp::{Rules, SmtpServer};
    use crate::common::team::decrypt_as;

    let env = team_env();
    let smtp = SmtpServer::start(&env.dir.path().join("smtp"), &Rules::new());
    append_config(
        &env,
        &format!(
            "[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n",
            smtp.port()
        ),
    );
    assert_eq!(ingest_to(&env, TEAM, &post_by(who::BOB)), 0);
    env.ok(&["queue", "run"]);
    let team = expected_team(&env);
    let posts: Vec<String> = env
        .sql(
            "SELECT d.message_id FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
             WHERE a.kind = 'team-post'",
        )
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(posts.len(), team.len());
    // The members' own mail from setting up (confirm, welcome) went first.
    let received: Vec<_> = smtp
        .wait_for(team.len(), Duration::from_secs(30))
        .into_iter()
        .filter(|r| r.message_id.as_ref().is_some_and(|id| posts.contains(id)))
        .collect();
    let mut recipients: Vec<String> = received.iter().flat_map(|r| r.rcpt.clone()).collect();
    recipients.sort();
    assert_eq!(recipients, team, "exactly the active team, over SMTP");
    for message in &received {
        assert_eq!(message.rcpt.len(), 1, "one recipient per message");
        let bytes = smtp.message(message);
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("CanaryTeamPostBody") && !text.contains(SECRET_SUBJECT));
        assert!(!message.mail_from.contains("Canary"));
        for member in &team {
            let opened = decrypt_as(&env, member, &bytes);
            if *member == message.rcpt[0] {
                let inner = opened.expect("its member reads it");
                assert!(String::from_utf8_lossy(&inner).contains("CanaryTeamPostBody"));
            } else {
                assert!(
                    opened.is_none(),
                    "{member} reads {}'s copy",
                    message.rcpt[0]
                );
            }
        }
    }
}

/// Mail to the team address over `[inbound]`'s limits (too large, nested
/// too deep) is dropped unread, as commands are: no case, nothing kept,
/// and the MTA is told it was taken.
#[test]
fn a_report_over_the_inbound_limits_is_dropped_unread() {
    let env = team_env();
    append_config(&env, "[inbound]\nmax_bytes = 65536\nmax_depth = 5\n");
    let mut large =
        String::from_utf8(report_from(REPORTER, "big@reporter.example", "")).expect("utf-8");
    while large.len() <= 65_536 {
        large.push_str("padding padding padding padding padding padding padding padding\r\n");
    }
    assert_eq!(ingest_to(&env, TEAM, large.as_bytes()), 0);
    let mut nested = format!(
        "From: {REPORTER}\r\nTo: {TEAM}\r\nSubject: x\r\nMessage-ID: <deep@reporter.example>\r\nMIME-Version: 1.0\r\n"
    );
    for level in 0..10 {
        nested.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=b{level}\r\n\r\n--b{level}\r\n"
        ));
    }
    nested.push_str("Content-Type: text/plain\r\n\r\nCanaryReportBody-7731\r\n");
    assert_eq!(ingest_to(&env, TEAM, nested.as_bytes()), 0);
    assert!(cases(&env).is_empty());
    let relays = env.sql("SELECT count(*) FROM relays");
    assert_eq!(relays.trim(), "0");
    // The limits' neighbour: a report just under them opens its case.
    let small = report_from(REPORTER, "small@reporter.example", "");
    assert_eq!(ingest_to(&env, TEAM, &small), 0);
    assert_eq!(cases(&env).len(), 1);
}
