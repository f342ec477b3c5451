//! Advisories through the CLI: dates, the embargo policy, revisions,
//! templates, and every bad input with its "nothing changed" check.

use rstest::rstest;

use crate::common::{Env, path, who};

/// The clock is 2026-06-01T12:00:00Z, a Monday.
fn new_args<'a>(id: &'a str, body: &'a str, disclose: &'a str) -> Vec<&'a str> {
    vec![
        "advisory",
        "new",
        id,
        "--title",
        "Heap overflow",
        "--severity",
        "high",
        "--product",
        "frob",
        "--cve",
        "CVE-2026-1234",
        "--body",
        body,
        "--disclose-at",
        disclose,
    ]
}

fn env_with_body() -> (Env, std::path::PathBuf) {
    let env = Env::new();
    env.init();
    let body = env.file(
        "body.md",
        b"# Details\n\nA crafted header overflows a buffer.\n",
    );
    (env, body)
}

#[test]
fn a_new_advisory_is_a_draft_at_revision_one_with_utc_and_local_times() {
    let (env, body) = env_with_body();
    let run = env.ok(&new_args(
        "DF-2026-0001",
        path(&body),
        "2026-06-09T16:00:00+02:00",
    ));
    assert!(
        run.stdout.contains("2026-06-09 14:00 UTC"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("local"), "{}", run.stdout);
    let shown: serde_json::Value = serde_json::from_str(
        &env.ok(&["advisory", "show", "DF-2026-0001", "--json"])
            .stdout,
    )
    .expect("json");
    assert_eq!(shown["advisory"]["status"], "draft");
    assert_eq!(shown["advisory"]["revision"], 1);
    assert_eq!(
        shown["advisory"]["content"]["disclose_at"],
        "2026-06-09T14:00:00Z"
    );
    assert_eq!(
        shown["advisory"]["content"]["description"],
        "# Details\n\nA crafted header overflows a buffer."
    );
}

#[test]
fn every_edit_makes_a_revision_that_records_what_changed() {
    let (env, body) = env_with_body();
    env.ok(&new_args(
        "DF-2026-0001",
        path(&body),
        "2026-06-09T14:00:00Z",
    ));
    env.ok(&["advisory", "announce", "DF-2026-0001"]);
    env.ok(&[
        "advisory",
        "edit",
        "DF-2026-0001",
        "--severity",
        "critical",
        "--disclose-at",
        "2026-06-10T14:00:00Z",
    ]);
    let shown: serde_json::Value = serde_json::from_str(
        &env.ok(&["advisory", "show", "DF-2026-0001", "--json"])
            .stdout,
    )
    .expect("json");
    assert_eq!(shown["advisory"]["revision"], 2);
    let fields: Vec<&str> = shown["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["field"].as_str())
        .collect();
    assert_eq!(fields, ["severity", "disclose_at"]);
    assert_eq!(shown["changes"][1]["old"], "2026-06-09 14:00 UTC");
    let revisions = env.sql("SELECT revision FROM advisory_revisions ORDER BY revision");
    assert_eq!(revisions.trim(), "1\n2", "the old revision is kept");
    let update = env
        .ok(&["advisory", "preview", "DF-2026-0001", "--kind", "update"])
        .stdout;
    assert!(
        update.contains("- disclose at: 2026-06-09 14:00 UTC -> 2026-06-10 14:00 UTC"),
        "{update}"
    );
    let audit = env.ok(&["audit", "list", "--json"]).stdout;
    assert!(audit.contains("severity,disclose_at"), "{audit}");
    assert!(
        !audit.contains("crafted header"),
        "embargoed text reached the audit log"
    );
    env.run(&["advisory", "edit", "DF-2026-0001", "--severity", "critical"])
        .fails_with("nothing changed");
}

#[test]
fn the_policy_can_be_forced_with_a_reason_that_is_audited() {
    let (env, body) = env_with_body();
    env.run(&new_args(
        "DF-2026-0001",
        path(&body),
        "2026-07-01T14:00:00Z",
    ))
    .fails_with("max-embargo");
    let mut args = new_args("DF-2026-0001", path(&body), "2026-07-01T14:00:00Z");
    args.extend(["--force", "--reason", "coordinated with three vendors"]);
    let run = env.ok(&args);
    assert!(run.stderr.contains("overridden"), "{}", run.stderr);
    let audit = env.ok(&["audit", "list", "--json"]).stdout;
    assert!(
        audit.contains("coordinated with three vendors") && audit.contains("max-embargo"),
        "{audit}"
    );
    let usage = env.run(&["advisory", "new", "DF-2026-0009", "--force"]);
    assert_eq!(usage.code, 2, "--force without --reason is a usage error");
}

#[test]
fn weekend_and_friday_afternoon_disclosures_warn() {
    let (env, body) = env_with_body();
    let saturday = env.ok(&new_args(
        "DF-2026-0001",
        path(&body),
        "2026-06-06T14:00:00Z",
    ));
    assert!(
        saturday
            .stderr
            .contains("warning: disclosure falls on a Sat"),
        "{}",
        saturday.stderr
    );
    let friday = env.ok(&new_args(
        "DF-2026-0002",
        path(&body),
        "2026-06-05T15:00:00Z",
    ));
    assert!(
        friday.stderr.contains("Friday afternoon"),
        "{}",
        friday.stderr
    );
}

#[rstest]
#[case::no_offset("2026-06-09T14:00", "no UTC offset")]
#[case::bare_date("2026-06-09", "no UTC offset")]
#[case::nonsense("next tuesday", "accepted forms")]
#[case::in_the_past("2026-05-01T14:00:00Z", "not in the future")]
#[case::too_far("2026-06-30T14:00:00Z", "max-embargo")]
#[case::too_soon("2026-06-01T18:00:00Z", "min-notice")]
fn bad_disclosure_times(#[case] disclose: &str, #[case] reason: &str) {
    let (env, body) = env_with_body();
    let before = env.dump();
    env.run(&new_args("DF-2026-0001", path(&body), disclose))
        .fails_with(reason);
    assert_eq!(env.dump(), before);
}

#[test]
fn other_bad_input_changes_nothing() {
    let (env, body) = env_with_body();
    env.ok(&new_args(
        "DF-2026-0001",
        path(&body),
        "2026-06-09T14:00:00Z",
    ));
    let before = env.dump();
    let mut patch_late = new_args("DF-2026-0002", path(&body), "2026-06-09T14:00:00Z");
    patch_late.extend(["--patch-date", "2026-06-10"]);
    env.run(&patch_late)
        .fails_with("patch date 2026-06-10 is after");
    env.run(&new_args(
        "df-2026-0001",
        path(&body),
        "2026-06-09T14:00:00Z",
    ))
    .fails_with("already exists");
    env.run(&["advisory", "show", "DF-2026-9999"])
        .fails_with("no advisory DF-2026-9999");
    env.run(&["advisory", "edit", "DF-2026-9999", "--severity", "low"])
        .fails_with("no advisory");
    env.run(&["advisory", "announce", "DF-2026-9999"])
        .fails_with("no advisory");
    let latin1 = env.file("latin1.txt", b"caf\xe9 au lait\n");
    env.run(&new_args(
        "DF-2026-0003",
        path(&latin1),
        "2026-06-09T14:00:00Z",
    ))
    .fails_with("not UTF-8");
    let mut crlf_title = new_args("DF-2026-0004", path(&body), "2026-06-09T14:00:00Z");
    crlf_title[4] = "Title\r\nBcc: eve@evil.example";
    env.run(&crlf_title).fails_with("control characters");
    env.run(&["advisory", "edit", "DF-2026-0001", "--cve", "CVE-12"])
        .fails_with("not a CVE id");
    env.run(&["advisory", "edit", "DF-2026-0001", "--cvss", "AV:N"])
        .fails_with("CVSS");
    env.run(&["advisory", "new", "bad id!", "--title", "t"])
        .fails_with("advisory id");
    env.run(&["advisory", "preview", "DF-2026-0001", "--sealed"])
        .fails_with("--for");
    assert_eq!(env.dump(), before);
}

#[test]
fn a_broken_template_is_named_with_its_line_before_anything_is_stored() {
    let env = Env::with_config("\n[mail]\ntemplates_dir = \"templates\"\n");
    env.init();
    let body = env.file("body.md", b"text\n");
    std::fs::create_dir(env.dir.path().join("templates")).expect("templates dir");
    std::fs::write(
        env.dir.path().join("templates/reminder.txt"),
        "Subject: x\n\nline\n{{ advisory.titel }}\n",
    )
    .expect("write template");
    let before = env.dump();
    let run = env.run(&new_args(
        "DF-2026-0001",
        path(&body),
        "2026-06-09T14:00:00Z",
    ));
    run.fails_with("template reminder.txt line 4: undefined variable advisory.titel");
    std::fs::write(
        env.dir.path().join("templates/reminder.txt"),
        "Subject: x\n\n{% for %}\n",
    )
    .expect("write template");
    env.run(&new_args(
        "DF-2026-0001",
        path(&body),
        "2026-06-09T14:00:00Z",
    ))
    .fails_with("template reminder.txt line 3");
    assert_eq!(env.dump(), before);
    std::fs::write(
        env.dir.path().join("templates/reminder.txt"),
        "Subject: Reminder {{ advisory.id }}\n\nsoon\n",
    )
    .expect("write template");
    env.ok(&new_args(
        "DF-2026-0001",
        path(&body),
        "2026-06-09T14:00:00Z",
    ));
    let preview = env
        .ok(&["advisory", "preview", "DF-2026-0001", "--kind", "reminder"])
        .stdout;
    assert_eq!(preview, "Subject: Reminder DF-2026-0001\n\nsoon\n");
}

#[test]
fn the_lifecycle_moves_through_scheduled_disclosed_and_cancelled() {
    let (env, body) = env_with_body();
    env.ok(&new_args(
        "DF-2026-0001",
        path(&body),
        "2026-06-09T14:00:00Z",
    ));
    env.run(&["advisory", "disclose", "DF-2026-0001"])
        .fails_with("only a scheduled or notified");
    env.ok(&[
        "advisory",
        "announce",
        "DF-2026-0001",
        "--at",
        "2026-06-02T09:00:00Z",
    ]);
    env.run(&["advisory", "announce", "DF-2026-0001"])
        .fails_with("only a draft");
    env.run(&["advisory", "disclose", "DF-2026-0001"])
        .fails_with("holds until 2026-06-09 14:00 UTC");
    env.ok(&[
        "advisory",
        "disclose",
        "DF-2026-0001",
        "--now",
        "--reason",
        "exploited in the wild",
    ]);
    let audit = env.ok(&["audit", "list"]).stdout;
    assert!(
        audit.contains("advisory.disclose-early") && audit.contains("exploited in the wild"),
        "{audit}"
    );
    env.run(&["advisory", "edit", "DF-2026-0001", "--severity", "low"])
        .fails_with("no longer change");
    env.ok(&new_args(
        "DF-2026-0002",
        path(&body),
        "2026-06-09T14:00:00Z",
    ));
    env.ok(&[
        "advisory",
        "cancel",
        "DF-2026-0002",
        "--reason",
        "duplicate",
    ]);
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&env.ok(&["advisory", "list", "--json"]).stdout).expect("json");
    let states: Vec<&str> = list.iter().filter_map(|a| a["status"].as_str()).collect();
    assert!(
        states.contains(&"disclosed") && states.contains(&"cancelled"),
        "{states:?}"
    );
}

/// Regression: `advisory announce` said members whose key expires before
/// disclosure "will get `missed` instead", although they do get the notice
/// and only the encrypted mail sent after the expiry is missed. It now says
/// which mail each of them will miss.
#[test]
fn announce_says_which_mail_a_member_with_an_expiring_key_will_miss() {
    let env = Env::new();
    env.init();
    env.add_active(who::EXPIRING_SUBKEY, who::ALICE, &[]);
    env.draft("DF-2026-0009", "Expiry", "low");
    // The subkey expires at 2026-06-10 12:00; the reminder goes 24 h before a
    // disclosure on the 11th, after the expiry.
    env.ok(&[
        "advisory",
        "edit",
        "DF-2026-0009",
        "--disclose-at",
        "2026-06-11T14:00:00Z",
    ]);
    let out = env.ok(&["advisory", "announce", "DF-2026-0009"]).stdout;
    let line = out
        .lines()
        .find(|line| line.contains(who::EXPIRING_SUBKEY))
        .unwrap_or_else(|| panic!("no line for the expiring member in {out}"));
    assert!(line.contains("gets the notice; from 2026-06-10"), "{line}");
    assert!(line.contains("the reminder"), "{line}");
    assert!(!out.contains("instead of the notice"), "{out}");
    // And they did get the notice.
    assert_eq!(
        env.sql(
            "SELECT COUNT(*) FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
             WHERE a.kind = 'notice' AND d.recipient = 'expiring@vendor.example' AND d.state = 'queued'"
        )
        .trim(),
        "1"
    );
}
