//! Refused input named in the caller's own words (issue 10): a signed mail
//! command is told about its own command line (`HOLD <time>`, `SPONSOR
//! <email>`, the `Name:` line), never about a flag of the command line;
//! the CLI still names the flag. And every audit entry names the channel
//! its actor came by: the CLI, signed mail with the signing key, or the
//! program itself.

use crate::common::commands::{cert, command};
use crate::common::{Env, ingest, path, who};

const ID: &str = "DF-2026-0010";

/// Alice (admin) and Dave active, [`ID`] announced and its notices sent,
/// disclosure on 2026-06-09 at 14:00 UTC.
fn notified() -> Env {
    let env = Env::with_config("\n[mail]\npublic_addresses = [\"oss-security@lists.example\"]\n");
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.draft(ID, "Parser overflow", "high");
    env.ok(&["advisory", "announce", ID]);
    env.ok(&["queue", "run"]);
    env
}

/// A signed command message from `from` (`common::commands::command`)
/// with `certs`' fixture certificates attached.
fn signed(from: &str, lines: &str, certs: &[&str]) -> Vec<u8> {
    let attachments: Vec<_> = certs.iter().map(|email| cert(email)).collect();
    command(from, lines, &attachments)
}

/// Every reply line recorded for signed commands, in order.
fn reply_lines(env: &Env) -> Vec<String> {
    env.sql(&format!(
        "SELECT line FROM inbound_commands ORDER BY {}",
        env.insertion_order()
    ))
    .lines()
    .map(str::to_owned)
    .collect()
}

/// Sends `lines` signed by `from` and returns the reply's lines about them.
fn answer(env: &Env, from: &str, lines: &str, certs: &[&str]) -> Vec<String> {
    let before = reply_lines(env).len();
    assert_eq!(ingest(env, &signed(from, lines, certs)), 0);
    reply_lines(env)[before..].to_vec()
}

/// Asserts `line` is a refusal of `command` that names `word` and no flag.
fn names_its_own_word(line: &str, command: &str, word: &str, problem: &str) {
    assert!(line.starts_with(&format!("{command} refused: ")), "{line}");
    assert!(line.contains(word), "{line:?} does not name {word:?}");
    assert!(line.contains(problem), "{line:?} does not say {problem:?}");
    assert!(!line.contains("--"), "{line:?} names a command-line flag");
}

// Mail commands were told about `--until` and `--by`: a signed HOLD with a
// bad time read "--until \"tomorrow\" is not a time", and the same use
// cases named `--reason` and CLI argument names to members. Each mail
// command that takes input now hears about its own words.
#[test]
fn mail_commands_are_told_about_their_own_words_not_flags() {
    let env = notified();
    let long_reason = "x".repeat(1001);
    let long_note = "n".repeat(501);
    // Several commands in one message: each answered on its own.
    let lines = answer(
        &env,
        who::ALICE,
        &format!(
            "HOLD {ID} tomorrow the patch slipped\n\
             HOLD {ID} 2026-06-10T14:00 the patch slipped\n\
             HOLD {ID} 2026-05-01T00:00:00Z the patch slipped\n\
             HOLD {ID} 2026-06-10T14:00:00Z {long_reason}\n\
             SUSPEND not-an-address\n\
             APPROVE two@at@signs.example\n\
             ACK {ID} received {long_note}\n\
             HOLD 42 2026-06-10T14:00:00Z a copy, not an advisory\n\
             ACK 42 received"
        ),
        &[],
    );
    assert_eq!(lines.len(), 9, "{lines:#?}");
    names_its_own_word(
        &lines[0],
        "HOLD",
        "HOLD <time> \"tomorrow\"",
        "is not a time",
    );
    names_its_own_word(&lines[1], "HOLD", "HOLD <time>", "no UTC offset");
    // Only forms a command line can hold (it is split at spaces).
    for line in &lines[..2] {
        assert!(line.contains("2026-12-01T14:00:00Z"), "{line}");
        assert!(!line.contains("2026-12-01 14:00"), "{line}");
    }
    names_its_own_word(&lines[2], "HOLD", "HOLD <time>", "must be in the future");
    names_its_own_word(&lines[3], "HOLD", "HOLD <reason>", "longer than 1000");
    names_its_own_word(&lines[4], "SUSPEND", "SUSPEND <email>", "email address");
    names_its_own_word(&lines[5], "APPROVE", "APPROVE <email>", "email address");
    names_its_own_word(&lines[6], "ACK", "the note after ACK", "longer than 500");
    // A number is an outbox copy at the command line; by mail it is no
    // advisory id (a member cannot hold the operator's copies).
    names_its_own_word(&lines[7], "HOLD", "HOLD <advisory>", "advisory id \"42\"");
    names_its_own_word(&lines[8], "ACK", "ACK <advisory>", "advisory id \"42\"");

    // A hold that would bring the disclosure forward, or one past the
    // policy, is refused without pointing a member at operator flags.
    for until in ["2026-06-02T14:00:00Z", "2026-06-20T14:00:00Z"] {
        let lines = answer(&env, who::ALICE, &format!("HOLD {ID} {until} why"), &[]);
        names_its_own_word(&lines[0], "HOLD", "HOLD", "");
    }

    // SPONSOR's address and its lines, one SPONSOR (and one attached
    // certificate) per message.
    let frank = |lines: &str| answer(&env, who::ALICE, lines, &[who::FRANK]).remove(0);
    names_its_own_word(
        &frank("SPONSOR frank.user.example\nName: Frank\nOrg: Org\nKind: user\nStatement: known"),
        "SPONSOR",
        "SPONSOR <email>",
        "email address",
    );
    let long = "N".repeat(201);
    names_its_own_word(
        &frank(&format!(
            "SPONSOR {}\nName: {long}\nOrg: Org\nKind: user\nStatement: known",
            who::FRANK
        )),
        "SPONSOR",
        "the Name: line",
        "longer than 200",
    );
    names_its_own_word(
        &frank(&format!(
            "SPONSOR {}\nName: Frank\nOrg: {long}\nKind: user\nStatement: known",
            who::FRANK
        )),
        "SPONSOR",
        "the Org: line",
        "longer than 200",
    );

    // The attached certificate, for SPONSOR and SET-KEY alike.
    let line = answer(
        &env,
        who::ALICE,
        &format!(
            "SPONSOR {}\nName: R\nOrg: Org\nKind: user\nStatement: known",
            who::RSA1024
        ),
        &[who::RSA1024],
    )
    .remove(0);
    names_its_own_word(&line, "SPONSOR", "the attached certificate", "RSA-1024");
    let line = answer(&env, who::DAVE, "SET-KEY", &[who::RSA1024]).remove(0);
    names_its_own_word(&line, "SET-KEY", "the attached certificate", "");

    // None of it changed the advisory or the roster.
    assert_eq!(
        env.sql("SELECT CASE WHEN hold_until IS NULL THEN 1 ELSE 0 END, revision FROM advisories")
            .trim(),
        "1|1"
    );
    assert_eq!(env.members().len(), 2);
    assert!(
        !env.sql("SELECT action FROM audit_log")
            .contains("advisory.hold")
    );
}

// The neighbour of the bug above: the command line keeps naming its flags
// for the same refusals, and still changes nothing.
#[test]
fn the_cli_still_names_the_flag() {
    let env = notified();
    let before = env.dump();
    let hold = |until: &str, reason: &str| {
        env.run(&["queue", "hold", ID, "--until", until, "--reason", reason])
    };
    hold("tomorrow", "x").fails_with("--until \"tomorrow\" is not a time");
    hold("2026-06-10T14:00", "x").fails_with("--until \"2026-06-10T14:00\" has no UTC offset");
    hold("2026-05-01T00:00:00Z", "x").fails_with("--until must be in the future");
    hold("2026-06-10T14:00:00Z", &"x".repeat(1001))
        .fails_with("reason is longer than 1000 characters");
    hold("2026-06-10T14:00:00Z", "two\nlines").fails_with("reason must be one line");
    env.run(&["queue", "hold", ID, "--reason", "x"])
        .fails_with("holding a disclosure needs --until TIME");
    env.run(&[
        "member",
        "suspend",
        who::DAVE,
        "--by",
        "nobody@project.example",
    ])
    .fails_with("--by");
    env.run(&["member", "suspend", who::DAVE, "--by", "not-an-address"])
        .fails_with("--by");
    env.run(&["member", "suspend", "not-an-address"])
        .fails_with("member address");
    let weak = env.cert_file(who::RSA1024);
    env.run(&["member", "set-key", who::DAVE, "--key", path(&weak)])
        .fails_with("new certificate");
    assert_eq!(env.dump(), before);
}

/// The `via` detail of the audit entries with `action`, in order.
fn via_of(env: &Env, action: &str) -> Vec<String> {
    env.sql(&format!(
        "SELECT {} FROM audit_log WHERE action = '{action}' ORDER BY seq",
        env.json_text("detail", "via")
    ))
    .lines()
    .map(str::to_owned)
    .collect()
}

// The channel was process-wide state beside the actor (set while a mail
// was carried out, reset after); the actor now carries it, passed down
// from the caller. The log must read as before: a change at the CLI, one
// by a member's signed mail (with the key) and one the program makes each
// name their own channel, and the chain's format is unchanged.
#[test]
fn audit_entries_name_the_channel_their_actor_came_by() {
    let env = notified();
    let alice = env.show(who::ALICE)["fingerprint"]
        .as_str()
        .expect("a fingerprint")
        .to_owned();
    // The CLI, by the operator and by a member named with --by.
    env.ok(&["member", "suspend", who::DAVE, "--reason", "lost key"]);
    env.ok(&["member", "resume", who::DAVE, "--by", who::ALICE]);
    assert_eq!(via_of(&env, "member.suspend"), ["cli"]);
    assert_eq!(via_of(&env, "member.resume"), ["cli"]);
    // Signed mail, with the key that signed it; a second command in the
    // same message and a refusal too.
    let lines = answer(
        &env,
        who::ALICE,
        &format!(
            "HOLD {ID} 2026-06-10T14:00:00Z the patch slipped\nSUSPEND {}",
            who::DAVE
        ),
        &[],
    );
    assert!(lines[0].starts_with("HOLD: "), "{lines:?}");
    let mail = format!("signed mail, key {alice}");
    assert_eq!(via_of(&env, "advisory.hold"), [mail.as_str()]);
    assert_eq!(
        via_of(&env, "member.suspend"),
        ["cli".to_owned(), mail.clone()]
    );
    answer(&env, who::ALICE, "SUSPEND not-an-address", &[]);
    assert_eq!(via_of(&env, "inbound.refuse"), [mail.as_str()]);
    // The same process's next change at the CLI is the CLI's again.
    env.ok(&["member", "resume", who::DAVE]);
    assert_eq!(via_of(&env, "member.resume"), ["cli", "cli"]);
    // The program: the disclosure at the held time.
    env.ok(&["queue", "run"]);
    let run = env.run_at("2026-06-10T14:00:00Z", &["queue", "run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(via_of(&env, "advisory.disclose"), ["system"]);
    // Every entry names one, and the chain still verifies.
    assert_eq!(
        env.sql(&format!(
            "SELECT count(*) FROM audit_log WHERE {} IS NULL",
            env.json_text("detail", "via")
        ))
        .trim(),
        "0"
    );
    env.ok(&["audit", "verify"]);
}

// The neighbour of the test above: the scheduler pass a signed CONFIRM
// starts writes the program's own entries in the same process, while the
// mail is being carried out. They name the system, not the mail that
// started the pass: the actor decides, not the moment.
#[test]
fn the_scheduler_pass_a_mail_command_starts_is_the_systems() {
    let env = Env::new();
    env.init_at("2026-06-01T10:00:00Z");
    let token = env.add(who::FRANK, who::ALICE, &[]);
    env.draft(ID, "Parser overflow", "high");
    // Announced for half past eleven, before the mail arrives at noon.
    let run = env.run_at(
        "2026-06-01T11:00:00Z",
        &["advisory", "announce", ID, "--at", "2026-06-01T11:30:00Z"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(via_of(&env, "advisory.notified").is_empty());
    let lines = answer(&env, who::FRANK, &format!("CONFIRM {token}"), &[]);
    assert!(lines[0].starts_with("CONFIRM: "), "{lines:?}");
    let frank = env.show(who::FRANK)["fingerprint"]
        .as_str()
        .expect("a fingerprint")
        .to_owned();
    assert_eq!(
        via_of(&env, "member.confirm"),
        [format!("signed mail, key {frank}")]
    );
    assert_eq!(via_of(&env, "advisory.notified"), ["system"]);
}
