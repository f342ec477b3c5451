//! Never early: a hold only moves a disclosure later (and members hear of
//! it), a release never publishes by surprise, and a daemon whose clock
//! starts behind what the database recorded holds sending.

use std::time::{Duration, Instant};

use crate::common::daemon::{Daemon, eventually};
use crate::common::mail::{Headers, LIST_ADDRESS, REQUEST_ADDRESS, SIGNED_NOW, signed_mime};
use crate::common::outbox::{maildir, of_kind};
use crate::common::{Env, ingest, path, who};

const PUBLIC: &str = "oss-security@lists.example";
const ID: &str = "DF-2026-0010";
/// The advisory's own disclosure time: eight days after `NOW`.
const DISCLOSE_AT: &str = "2026-06-09T14:00:00Z";

/// Alice (admin) and Dave active, [`ID`] announced at `NOW` and its
/// notices sent, disclosure at [`DISCLOSE_AT`].
fn notified() -> Env {
    let env = Env::with_config(&format!("\n[mail]\npublic_addresses = [\"{PUBLIC}\"]\n"));
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.draft(ID, "Parser overflow", "high");
    env.ok(&["advisory", "announce", ID]);
    env.ok(&["queue", "run"]);
    env
}

fn status(env: &Env) -> String {
    env.sql("SELECT status FROM advisories").trim().to_owned()
}

fn exports(env: &Env) -> usize {
    std::fs::read_dir(env.dir.path().join("var/exports")).map_or(0, |dir| dir.count())
}

fn hold(env: &Env, until: &str) -> crate::common::Run {
    env.run(&["queue", "hold", ID, "--until", until, "--reason", "x"])
}

/// Runs the scheduler at `at` and asserts the advisory is still embargoed:
/// not disclosed, no export written, no disclosure copy for anyone.
fn still_embargoed_at(env: &Env, at: &str) {
    let run = env.run_at(at, &["queue", "run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(status(env), "notified", "disclosed at {at}");
    assert_eq!(exports(env), 0, "exports written at {at}");
    assert!(of_kind(env, "disclosure").is_empty(), "disclosed at {at}");
}

/// Runs the scheduler at `at` and asserts the advisory was disclosed.
fn publishes_at(env: &Env, at: &str) {
    let run = env.run_at(at, &["queue", "run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(status(env), "disclosed", "not disclosed at {at}");
}

fn audit(env: &Env) -> String {
    env.ok(&["audit", "list", "--json"]).stdout
}

// A hold can bring a disclosure forward: `queue hold --until` seven days
// before the disclosure time published the advisory then, with no policy
// check, no --now --reason, and an audit entry like an ordinary one.
#[test]
fn a_hold_earlier_than_the_disclosure_is_refused_and_publishes_nothing() {
    let env = notified();
    let dump = env.dump();
    // Seven days early, a second early, and the very same instant.
    for until in [
        "2026-06-02T14:00:00Z",
        "2026-06-09T13:59:59Z",
        DISCLOSE_AT,
        "2026-06-09T16:00:00+02:00",
    ] {
        let run = hold(&env, until);
        run.fails_with("only moves a disclosure later");
        assert!(
            run.stderr
                .contains("advisory disclose DF-2026-0010 --now --reason"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(env.dump(), dump);
    still_embargoed_at(&env, "2026-06-02T14:00:01Z");
    still_embargoed_at(&env, "2026-06-09T13:59:59Z");
    assert!(!audit(&env).contains("advisory.hold"));
}

// The same bug through a maintainer's signed HOLD, which goes through the
// same use case; and a signed HOLD cannot override the embargo policy.
#[test]
fn a_signed_hold_earlier_than_the_disclosure_or_past_the_policy_is_refused() {
    let env = notified();
    for (line, subject) in [
        (
            "HOLD DF-2026-0010 2026-06-02T14:00:00Z the patch is early",
            "a",
        ),
        (
            "HOLD DF-2026-0010 2026-06-20T14:00:00Z the patch slipped far",
            "b",
        ),
    ] {
        let mut headers = Headers::new(who::ALICE, REQUEST_ADDRESS);
        headers.subject = subject.to_owned();
        let text = format!("Hello list,\n\nList: {LIST_ADDRESS}\n{line}\n\n-- \nAlice\n");
        let message = signed_mime(who::ALICE, &headers, &text, &[], SIGNED_NOW);
        assert_eq!(ingest(&env, &message), 0);
    }
    // Nothing moved: the only change is Alice's two replies.
    assert_eq!(
        env.sql("SELECT CASE WHEN hold_until IS NULL THEN 1 ELSE 0 END, revision FROM advisories")
            .trim(),
        "1|1"
    );
    assert_eq!(of_kind(&env, "reply").len(), 2);
    assert!(!audit(&env).contains("advisory.hold"));
    still_embargoed_at(&env, "2026-06-02T14:00:01Z");
}

// The neighbour: a second hold earlier than the first but later than the
// original date moves the disclosure earlier than members were last told.
#[test]
fn a_second_hold_earlier_than_the_first_is_refused() {
    let env = notified();
    env.ok(&[
        "queue",
        "hold",
        ID,
        "--until",
        "2026-06-12T14:00:00Z",
        "--reason",
        "the patch slipped",
    ]);
    let dump = env.dump();
    let run = hold(&env, "2026-06-10T14:00:00Z");
    run.fails_with("only moves a disclosure later");
    assert!(run.stderr.contains("queue release"), "{}", run.stderr);
    assert_eq!(env.dump(), dump);
    still_embargoed_at(&env, "2026-06-10T14:00:01Z");
    still_embargoed_at(&env, "2026-06-12T13:59:59Z");
    // A later second hold is fine.
    env.ok(&[
        "queue",
        "hold",
        ID,
        "--until",
        "2026-06-13T14:00:00Z",
        "--reason",
        "slipped again",
    ]);
    still_embargoed_at(&env, "2026-06-12T14:00:01Z");
}

/// Dave's copies that say `needle`, decrypted and verified as he reads
/// them.
fn read_by_dave(env: &Env, needle: &str) -> Vec<String> {
    let member = crate::common::member::Member::new(env, who::DAVE);
    maildir(env)
        .into_iter()
        .map(|file| std::fs::read(file).expect("mail"))
        .filter(|eml| String::from_utf8_lossy(eml).contains(&format!("To: {}", who::DAVE)))
        .map(|eml| crate::common::member::read_as_member(env, &member, &eml))
        .filter(|text| text.contains(needle))
        .collect()
}

// Members who were told heard nothing when a hold moved the date: now a
// hold (and a release) is a revision of its own and they get an update.
#[test]
fn members_told_get_an_update_when_a_hold_moves_the_date_and_when_it_is_released() {
    let env = notified();
    env.ok(&[
        "queue",
        "hold",
        ID,
        "--until",
        "2026-06-10T14:00:00Z",
        "--reason",
        "the patch slipped a day",
    ]);
    env.ok(&["queue", "run"]);
    let mut updated = of_kind(&env, "update");
    updated.sort();
    assert_eq!(
        updated,
        vec![
            (who::ALICE.to_owned(), "sent".to_owned()),
            (who::DAVE.to_owned(), "sent".to_owned()),
        ]
    );
    let texts = read_by_dave(&env, "What changed in revision 2");
    assert_eq!(texts.len(), 1);
    assert!(
        texts[0].contains("disclose at: 2026-06-09 14:00 UTC -> 2026-06-10 14:00 UTC"),
        "{}",
        texts[0]
    );
    assert!(
        texts[0].contains("until 2026-06-10 14:00 UTC"),
        "{}",
        texts[0]
    );
    // The reason is the operator's note for the audit log, not for members.
    assert!(!texts[0].contains("slipped"), "{}", texts[0]);

    // Released while the original time is still ahead: back, and told.
    env.ok(&["queue", "release", ID]);
    env.ok(&["queue", "run"]);
    let texts = read_by_dave(&env, "What changed in revision 3");
    assert_eq!(texts.len(), 1);
    assert!(
        texts[0].contains("disclose at: 2026-06-10 14:00 UTC -> 2026-06-09 14:00 UTC"),
        "{}",
        texts[0]
    );
    let log = audit(&env);
    assert!(log.contains("advisory.hold") && log.contains("advisory.release"));
    // It publishes at its own time again.
    still_embargoed_at(&env, "2026-06-09T13:59:59Z");
    publishes_at(&env, "2026-06-09T14:00:01Z");
}

/// Regression: after a hold, `advisory show` and `advisory preview` still
/// gave the advisory's own disclosure time, so an operator checking what
/// members read saw the wrong date. Both show the time in force.
#[test]
fn show_and_preview_give_the_held_disclosure_time() {
    let env = notified();
    let held = hold(&env, "2026-06-10T14:00:00Z");
    assert_eq!(held.code, 0, "{}", held.stderr);
    let show = env.ok(&["advisory", "show", ID]).stdout;
    assert!(show.contains("held until 2026-06-10 14:00 UTC"), "{show}");
    let json = env.ok(&["advisory", "show", ID, "--json"]).stdout;
    assert!(
        json.contains("\"held_until\":\"2026-06-10T14:00:00.000000Z\""),
        "{json}"
    );
    let preview = env
        .ok(&["advisory", "preview", ID, "--kind", "reminder"])
        .stdout;
    assert!(preview.contains("2026-06-10 14:00 UTC"), "{preview}");
    assert!(!preview.contains("2026-06-09 14:00 UTC"), "{preview}");
    // Released: no hold shown, and the preview is back at the own time.
    env.ok(&["queue", "release", ID]);
    let show = env.ok(&["advisory", "show", ID]).stdout;
    assert!(!show.contains("held until"), "{show}");
    let preview = env
        .ok(&["advisory", "preview", ID, "--kind", "reminder"])
        .stdout;
    assert!(preview.contains("2026-06-09 14:00 UTC"), "{preview}");
}

// Releasing a hold after the original time has passed would publish at
// once: refused, pointing at the commands that break an embargo knowingly;
// `advisory disclose` during a hold is early and needs --now --reason.
#[test]
fn a_release_after_the_original_time_is_refused_and_disclosing_during_a_hold_is_early() {
    let env = notified();
    env.ok(&[
        "queue",
        "hold",
        ID,
        "--until",
        "2026-06-10T14:00:00Z",
        "--reason",
        "slipped",
    ]);
    env.ok(&["queue", "run"]);
    let late = "2026-06-09T15:00:00Z";
    let dump = env.dump();
    let run = env.run_at(late, &["queue", "release", ID]);
    run.fails_with("would publish it at once");
    assert!(run.stderr.contains("--now --reason"), "{}", run.stderr);
    env.run_at(late, &["advisory", "disclose", ID])
        .fails_with("holds until 2026-06-10 14:00 UTC");
    assert_eq!(env.dump(), dump);
    still_embargoed_at(&env, late);
    let run = env.run_at(
        late,
        &["advisory", "disclose", ID, "--now", "--reason", "it leaked"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(status(&env), "disclosed");
    assert!(audit(&env).contains("advisory.disclose-early"));
}

// A hold past the policy's maximum embargo (14 days from the first
// notice) went through unchecked: it needs --force, audited with the rule.
#[test]
fn a_hold_past_the_maximum_embargo_needs_force_and_is_audited() {
    let env = notified();
    let dump = env.dump();
    hold(&env, "2026-06-20T14:00:00Z").fails_with("max-embargo");
    assert_eq!(env.dump(), dump);
    // Just inside the maximum needs nothing.
    env.ok(&[
        "queue",
        "hold",
        ID,
        "--until",
        "2026-06-15T12:00:00Z",
        "--reason",
        "within",
    ]);
    env.ok(&[
        "queue",
        "hold",
        ID,
        "--until",
        "2026-06-20T14:00:00Z",
        "--reason",
        "the vendor needs a week more",
        "--force",
    ]);
    let log = audit(&env);
    let entry: serde_json::Value = serde_json::from_str::<Vec<serde_json::Value>>(&log)
        .expect("audit JSON")
        .into_iter()
        .rfind(|e| e["action"] == "advisory.hold")
        .expect("hold entry");
    assert!(entry.to_string().contains("max-embargo"), "{entry}");
    assert!(
        entry.to_string().contains("the vendor needs a week more"),
        "{entry}"
    );
}

/// A list made three days before `NOW` (12:00) whose database last
/// recorded activity at `NOW` (Frank added), with an advisory whose
/// disclosure (10:30) and a confirmation mail to Erin (10:00) are due
/// before 11:00, and nothing has published or sent them yet.
fn recorded_at_now() -> Env {
    let env = Env::with_config(&format!("\n[mail]\npublic_addresses = [\"{PUBLIC}\"]\n"));
    let days_ago = "2026-05-29T12:00:00Z";
    let at = |when: &str, args: &[&str]| {
        let run = env.run_at(when, args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
    };
    env.init_at(days_ago);
    let body = env.file("body.md", b"Details.\n");
    at(
        days_ago,
        &[
            "advisory",
            "new",
            ID,
            "--title",
            "Clockwork",
            "--severity",
            "high",
            "--product",
            "p",
            "--body",
            path(&body),
            "--disclose-at",
            "2026-06-01T10:30:00Z",
        ],
    );
    at(days_ago, &["advisory", "announce", ID]);
    at(days_ago, &["queue", "run"]);
    let add = |when: &str, email: &str| {
        let key = env.cert_file(email);
        at(
            when,
            &[
                "member",
                "add",
                email,
                "--name",
                "New",
                "--org",
                "Org",
                "--kind",
                "vendor",
                "--key",
                path(&key),
                "--sponsor",
                who::ALICE,
            ],
        );
    };
    add("2026-06-01T10:00:00Z", who::ERIN);
    add("2026-06-01T12:00:00Z", who::FRANK);
    env
}

fn erins_confirm(env: &Env) -> Vec<String> {
    of_kind(env, "confirm")
        .into_iter()
        .filter(|(r, _)| r == who::ERIN)
        .map(|(_, s)| s)
        .collect()
}

// At start the daemon took the wall clock on trust: started an hour behind
// what the database had recorded, it published an advisory and sent mail
// that were not yet due by the database's own record of time.
#[test]
fn a_daemon_started_with_the_clock_behind_the_database_holds_sending_and_alerts() {
    let env = recorded_at_now();
    let mut daemon = Daemon::start(
        &env,
        &[("EMBARGO_TEST_NOW", "2026-06-01T11:00:00Z")],
        "serve.log",
    );
    eventually(
        Duration::from_secs(20),
        "the alert reaches the admin",
        || of_kind(&env, "report") == vec![(who::ALICE.to_owned(), "sent".to_owned())],
    );
    // The alert is sent in the turn that would have published: watch a
    // few more turns, bounded.
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        assert_eq!(
            status(&env),
            "notified",
            "published while the clock was behind"
        );
        assert_eq!(erins_confirm(&env), vec!["queued".to_owned()]);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(daemon.stop().success());
    assert_eq!(exports(&env), 0);
    assert!(of_kind(&env, "disclosure").is_empty());
    let log = daemon.log_text();
    assert!(log.contains("behind the newest instant"), "{log}");
    assert!(!log.contains(who::ERIN), "an address in the log");
}

// The neighbour: a clock ahead of the record by the same hour is time
// moving on; the daemon publishes and sends, and raises no alert.
#[test]
fn a_daemon_started_with_the_clock_ahead_of_the_database_goes_ahead() {
    let env = recorded_at_now();
    let mut daemon = Daemon::start(
        &env,
        &[("EMBARGO_TEST_NOW", "2026-06-01T13:00:00Z")],
        "serve.log",
    );
    eventually(Duration::from_secs(20), "published and sent", || {
        let disclosure = of_kind(&env, "disclosure");
        status(&env) == "disclosed"
            && erins_confirm(&env) == vec!["sent".to_owned()]
            && disclosure.len() == 2
            && disclosure.iter().all(|(_, s)| s == "sent")
    });
    assert!(daemon.stop().success());
    assert_eq!(exports(&env), 2);
    assert!(of_kind(&env, "report").is_empty());
    assert!(!daemon.log_text().contains("behind the newest instant"));
}
