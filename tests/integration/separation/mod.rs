//! The separation matrix: an admin, maintainer, committer or member of list
//! alpha can read or change nothing of list beta — by the CLI (`--list beta
//! --by <alpha's actor>`), by signed mail to beta's request address, by a
//! token alpha minted — and each list's audit log is its own hash chain.
//!
//! Every refusal is checked against [`dump_list`]: beta's rows, all of
//! them, are byte-identical before and after. Every refused form is also
//! run once by beta's own actor on a copy of the instance, where it must
//! succeed: the refusal is the list boundary, not a bad argument.

mod cli;
mod mail;
mod operator;
mod tokens;

use crate::common::lists::{add, add_active, create, dump_list, instance, ok_on};
use crate::common::mail::{Attachment, Headers, SIGNED_NOW, signed_mime};
use crate::common::smtp::{Rules, SmtpServer};
use crate::common::{Env, path, who};

pub(super) const ALPHA: &str = "alpha";
pub(super) const ALPHA_ADDRESS: &str = "alpha@project.example";
pub(super) const ALPHA_REQUEST: &str = "alpha-request@project.example";
pub(super) const BETA: &str = "beta";
pub(super) const BETA_ADDRESS: &str = "beta@lists.example";
pub(super) const BETA_REQUEST: &str = "beta-request@lists.example";
pub(super) const ALPHA_ADVISORY: &str = "AL-2026-0001";
pub(super) const BETA_ADVISORY: &str = "BE-2026-0001";
/// In every text field of beta's advisory; never in anything alpha's
/// actors are shown.
pub(super) const CANARY: &str = "qwxzyvcanary";
pub(super) const BETA_CVE: &str = "CVE-2026-77123";
/// Each list's own security team address, and its case from a reporter.
pub(super) const ALPHA_TEAM: &str = "alpha-security@project.example";
pub(super) const BETA_TEAM: &str = "beta-security@lists.example";
pub(super) const BETA_CASE: &str = "CASE-2026-0001";
/// Beta's second case: a name alpha has no case under.
pub(super) const BETA_ONLY_CASE: &str = "CASE-2026-0002";
pub(super) const BETA_REPORTER: &str = "beta-reporter@reporter.example";

/// Alpha's actors, none of whom is on beta.
pub(super) const ALPHA_ACTORS: [&str; 3] = [who::ALICE, who::BOB, who::CAROL];

/// Two lists and the confirmation tokens of the one person pending on
/// both.
pub(super) struct World {
    pub(super) env: Env,
    pub(super) alpha_token: String,
    pub(super) beta_token: String,
}

/// alpha: Alice (admin, committer), Bob (maintainer), Carol (committer),
/// Dave (subscriber), rsa2048 (pending); an announced advisory.
/// beta: Erin (admin, committer), Frank (maintainer), Dave (maintainer,
/// committer: the same person and key as on alpha), certified
/// (subscriber), expiring (suspended), rsa2048 (pending); an announced
/// advisory with the canary in every field.
pub(super) fn world() -> World {
    let env = instance();
    env.init();
    let made = create(
        &env,
        BETA,
        BETA_ADDRESS,
        who::ERIN,
        &["--role", "committer"],
    );
    assert_eq!(made.code, 0, "list create: {}", made.stderr);
    add_active(
        &env,
        ALPHA,
        who::BOB,
        who::ALICE,
        &["--role", "maintainer", "--by", who::ALICE],
    );
    add_active(
        &env,
        ALPHA,
        who::CAROL,
        who::ALICE,
        &["--role", "committer", "--by", who::ALICE],
    );
    add_active(&env, ALPHA, who::DAVE, who::ALICE, &[]);
    let alpha_token = add(&env, ALPHA, who::RSA2048, who::CAROL, &[]);
    let by_erin = ["--role", "maintainer", "--by", who::ERIN];
    add_active(&env, BETA, who::FRANK, who::ERIN, &by_erin);
    let shared = [
        "--role",
        "maintainer",
        "--role",
        "committer",
        "--by",
        who::ERIN,
    ];
    add_active(&env, BETA, who::DAVE, who::ERIN, &shared);
    add_active(&env, BETA, who::CERTIFIED, who::ERIN, &[]);
    add_active(&env, BETA, who::EXPIRING_SUBKEY, who::ERIN, &[]);
    ok_on(
        &env,
        BETA,
        &[
            "member",
            "suspend",
            who::EXPIRING_SUBKEY,
            "--reason",
            "away",
        ],
    );
    let beta_token = add(&env, BETA, who::RSA2048, who::ERIN, &[]);
    let body = env.file("alpha.md", b"Alpha details.\n");
    ok_on(
        &env,
        ALPHA,
        &[
            "advisory",
            "new",
            ALPHA_ADVISORY,
            "--title",
            "Alpha issue",
            "--severity",
            "low",
            "--product",
            "alphaproduct",
            "--body",
            path(&body),
            "--disclose-at",
            "2026-06-09T14:00:00Z",
        ],
    );
    ok_on(&env, ALPHA, &["advisory", "announce", ALPHA_ADVISORY]);
    let body = env.file("beta.md", format!("The {CANARY} body.\n").as_bytes());
    let mitigations = env.file(
        "beta-mitigations.md",
        format!("Turn {CANARY} off.\n").as_bytes(),
    );
    let (title, product) = (format!("{CANARY} title"), format!("{CANARY}product"));
    let (affected, fixed) = (format!("{product} < 9"), format!("{product} 9"));
    ok_on(
        &env,
        BETA,
        &[
            "advisory",
            "new",
            BETA_ADVISORY,
            "--title",
            &title,
            "--severity",
            "high",
            "--product",
            &product,
            "--cve",
            BETA_CVE,
            "--affected",
            &affected,
            "--fixed",
            &fixed,
            "--body",
            path(&body),
            "--mitigations",
            path(&mitigations),
            "--allow",
            "deploy",
            "--patch-date",
            "2026-06-08",
            "--disclose-at",
            "2026-06-09T14:00:00Z",
        ],
    );
    ok_on(&env, BETA, &["advisory", "announce", BETA_ADVISORY]);
    // Each list has its own team and one case: a report with the canary.
    let mut config = std::fs::read_to_string(&env.config).expect("config");
    config.push_str(&format!(
        "\n[team]\naddress = \"{ALPHA_TEAM}\"\n[lists.{BETA}]\nteam_address = \"{BETA_TEAM}\"\n"
    ));
    std::fs::write(&env.config, config).expect("config");
    let reports = [
        (
            ALPHA_TEAM,
            "alpha-reporter@reporter.example",
            "alpha1",
            "An alpha report.",
        ),
        (BETA_TEAM, BETA_REPORTER, "beta1", CANARY),
        (BETA_TEAM, BETA_REPORTER, "beta2", CANARY),
    ];
    for (team, from, id, text) in reports {
        let report = format!(
            "From: {from}\r\nTo: {team}\r\nSubject: {text}\r\nMessage-ID: <{id}@reporter.example>\r\n\r\nThe {text} report.\r\n"
        );
        assert_eq!(
            crate::common::lists::ingest_to(&env, team, report.as_bytes()),
            0
        );
    }
    for (list, count) in [(ALPHA, 1), (BETA, 2)] {
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(&ok_on(&env, list, &["case", "list", "--json"]).stdout)
                .expect("case list --json");
        assert_eq!(cases.len(), count, "{list}'s own reports opened its cases");
    }
    World {
        env,
        alpha_token,
        beta_token,
    }
}

/// An SMTP server for the instance, and both lists' due copies sent to
/// it: members have been reached, and each copy went out from its list's
/// VERP address.
pub(super) fn deliver(env: &Env) -> SmtpServer {
    let smtp = SmtpServer::start(&env.dir.path().join("smtp"), &Rules::new());
    let mut config = std::fs::read_to_string(&env.config).expect("config");
    config.push_str(&format!(
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n",
        smtp.port()
    ));
    std::fs::write(&env.config, config).expect("config");
    ok_on(env, ALPHA, &["queue", "run"]);
    ok_on(env, BETA, &["queue", "run"]);
    smtp
}

/// Both lists' rows, to compare before and after.
pub(super) fn dumps(env: &Env) -> (String, String) {
    (dump_list(env, ALPHA), dump_list(env, BETA))
}

/// Asserts that nothing of either list changed since `before`.
pub(super) fn unchanged(env: &Env, before: &(String, String), what: &str) {
    let after = dumps(env);
    assert!(
        after.1 == before.1,
        "{what} changed beta:\n{}\n----\n{}",
        before.1,
        after.1
    );
    assert!(
        after.0 == before.0,
        "{what} changed alpha:\n{}\n----\n{}",
        before.0,
        after.0
    );
}

/// A signed message: `List:` naming `list`, to `to`, from `signer`.
pub(super) fn mail(
    signer: &str,
    to: &str,
    list: &str,
    lines: &str,
    attachments: &[Attachment],
) -> Vec<u8> {
    signed_mime(
        signer,
        &Headers::new(signer, to),
        &format!("Hello,\n\nList: {list}\n{lines}\n"),
        attachments,
        SIGNED_NOW,
    )
}

/// How many commands beta has carried out from signed mail.
pub(super) fn done_on_beta(env: &Env) -> usize {
    env.sql(
        "SELECT count(*) FROM inbound_commands WHERE outcome = 'done' \
         AND list_id = (SELECT id FROM lists WHERE name = 'beta')",
    )
    .trim()
    .parse()
    .expect("a count")
}
