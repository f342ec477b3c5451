//! The CLI rows of the matrix: every command that acts for a member, run
//! on beta by each of alpha's actors.

use std::collections::{BTreeMap, BTreeSet};

use super::{ALPHA_ACTORS, BETA, BETA_CASE, BETA_CVE, CANARY, dumps, unchanged, world};
use crate::common::lists::{copy, instance, ok_on, on};
use crate::common::{Env, path, revoked_update, who};

/// Every leaf command (`member add`) with its `--help`, read from the
/// binary itself, so a command added later is seen here.
fn leaf_commands(env: &Env) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for noun in subcommands(&env.ok(&["--help"]).stdout) {
        let help = env.ok(&[noun.as_str(), "--help"]).stdout;
        let verbs = subcommands(&help);
        if verbs.is_empty() {
            found.insert(noun, help);
            continue;
        }
        for verb in verbs {
            let help = env.ok(&[noun.as_str(), verb.as_str(), "--help"]).stdout;
            found.insert(format!("{noun} {verb}"), help);
        }
    }
    found
}

/// The commands that act for a member: they take `--by` or `--sponsor`.
fn commands_with_an_actor(env: &Env) -> BTreeSet<String> {
    leaf_commands(env)
        .into_iter()
        .filter(|(_, help)| help.contains("--by ") || help.contains("--sponsor "))
        .map(|(command, _)| command)
        .collect()
}

/// Where the separation tests cover each CLI command. "actor": the matrix
/// below. "object": it names a list's member, advisory or copy, and
/// `operator::betas_objects_are_unknown_to_alpha` names beta's at alpha.
/// "read": alpha's output is searched for beta's data there. Others: the
/// test named, or no list data at all.
const COVERAGE: &[(&str, &str)] = &[
    ("advisory acks", "object, read"),
    ("advisory announce", "object"),
    ("advisory cancel", "object"),
    ("advisory disclose", "object"),
    ("advisory edit", "object"),
    ("advisory list", "read"),
    ("advisory new", "makes an advisory on the named list only"),
    ("advisory preview", "object (and --for a member of beta)"),
    ("advisory show", "object"),
    ("audit list", "read"),
    ("case ack", "actor"),
    ("case close", "actor"),
    ("case invite", "actor"),
    ("case list", "read"),
    ("case reject", "actor"),
    ("case show", "object"),
    (
        "audit verify",
        "operator::each_list_verifies_its_own_audit_chain",
    ),
    ("completions", "no list data"),
    ("demo", "a throwaway instance of its own"),
    ("ingest", "the mail matrix, tokens.rs"),
    ("init", "makes the first list"),
    (
        "instance observer",
        "instance level, no list's data: observer.rs",
    ),
    (
        "instance report",
        "counts only: observer_digest::instance_report_text_and_json_carry_no_canary_of_any_list",
    ),
    ("key export", "a list's public certificate"),
    (
        "list create",
        "operator::operator_mistakes_between_lists_are_refused",
    ),
    (
        "list ls",
        "names and counts of every list, for the operator",
    ),
    ("list show", "read"),
    ("man", "no list data"),
    ("member add", "actor"),
    (
        "member confirm",
        "tokens::a_confirmation_token_of_alpha_does_not_confirm_on_beta",
    ),
    ("member grant", "actor"),
    ("member list", "read"),
    ("member remove", "actor"),
    ("member resume", "actor"),
    ("member revoke", "actor"),
    ("member set-key", "actor"),
    ("member show", "object"),
    ("member sponsor", "actor"),
    ("member suspend", "actor"),
    ("queue hold", "object"),
    ("queue list", "read"),
    ("queue release", "object"),
    ("queue retry", "object"),
    (
        "queue run",
        "sends the named list's copies only (tokens.rs)",
    ),
    ("serve", "one loop per list"),
];

/// Every CLI command has a place in the separation tests: a command added
/// later fails here until the matrix says how it is covered.
#[test]
fn every_cli_command_has_a_place_in_the_separation_matrix() {
    let env = instance();
    let leaves: BTreeSet<String> = leaf_commands(&env).into_keys().collect();
    let covered: BTreeSet<String> = COVERAGE.iter().map(|(c, _)| (*c).to_owned()).collect();
    assert_eq!(
        leaves.difference(&covered).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "commands the separation matrix does not cover"
    );
    assert_eq!(
        covered.difference(&leaves).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "the matrix names commands that are gone"
    );
    let actors: BTreeSet<String> = COVERAGE
        .iter()
        .filter(|(_, how)| *how == "actor")
        .map(|(c, _)| (*c).to_owned())
        .collect();
    assert_eq!(commands_with_an_actor(&env), actors);
}

/// The names under a clap help's `Commands:` heading, `help` left out
/// (clap's own under each noun; at the top, `embargo help` prints help
/// topics and no list data).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// One CLI form that acts for somebody: its arguments with `ACTOR` where
/// the acting member goes, and beta's own actor for the control run.
struct Form {
    command: &'static str,
    args: Vec<String>,
    control: &'static str,
}

fn forms(env: &Env) -> Vec<Form> {
    let bob_key = path(&env.cert_file(who::BOB)).to_owned();
    let update = env.file("certified-update.asc", &revoked_update(who::CERTIFIED));
    let update = path(&update).to_owned();
    let strings = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    let add = |extra: &[&str]| {
        let mut args = strings(&["member", "add", who::BOB, "--name", "Bob", "--org", "Org"]);
        args.extend(strings(&["--kind", "vendor", "--key", &bob_key]));
        args.extend(strings(extra));
        args
    };
    let form = |command, args: Vec<String>, control| Form {
        command,
        args,
        control,
    };
    let ack = env.file("ack.txt", b"Thank you.\n");
    let ack = path(&ack).to_owned();
    let invitee_key = path(&env.cert_file(who::RSA2048)).to_owned();
    vec![
        form(
            "case ack",
            strings(&["case", "ack", BETA_CASE, "--message", &ack, "--by", "ACTOR"]),
            who::FRANK,
        ),
        form(
            "case invite",
            strings(&[
                "case",
                "invite",
                BETA_CASE,
                who::RSA2048,
                "--key",
                &invitee_key,
                "--reason",
                "r",
                "--by",
                "ACTOR",
            ]),
            who::FRANK,
        ),
        form(
            "case close",
            strings(&["case", "close", BETA_CASE, "--reason", "r", "--by", "ACTOR"]),
            who::FRANK,
        ),
        form(
            "case reject",
            strings(&[
                "case", "reject", BETA_CASE, "--reason", "r", "--by", "ACTOR",
            ]),
            who::FRANK,
        ),
        form(
            "member add",
            add(&[
                "--sponsor",
                who::ERIN,
                "--role",
                "maintainer",
                "--by",
                "ACTOR",
            ]),
            who::ERIN,
        ),
        form("member add", add(&["--sponsor", "ACTOR"]), who::ERIN),
        form(
            "member suspend",
            strings(&[
                "member",
                "suspend",
                who::CERTIFIED,
                "--reason",
                "r",
                "--by",
                "ACTOR",
            ]),
            who::ERIN,
        ),
        form(
            "member resume",
            strings(&[
                "member",
                "resume",
                who::EXPIRING_SUBKEY,
                "--reason",
                "r",
                "--by",
                "ACTOR",
            ]),
            who::ERIN,
        ),
        form(
            "member remove",
            strings(&[
                "member",
                "remove",
                who::FRANK,
                "--reason",
                "r",
                "--by",
                "ACTOR",
            ]),
            who::ERIN,
        ),
        form(
            "member set-key",
            strings(&[
                "member",
                "set-key",
                who::CERTIFIED,
                "--key",
                &update,
                "--by",
                "ACTOR",
            ]),
            who::ERIN,
        ),
        form(
            "member grant",
            strings(&[
                "member",
                "grant",
                who::CERTIFIED,
                "committer",
                "--by",
                "ACTOR",
            ]),
            who::ERIN,
        ),
        form(
            "member revoke",
            strings(&["member", "revoke", who::DAVE, "maintainer", "--by", "ACTOR"]),
            who::ERIN,
        ),
        form(
            "member sponsor",
            strings(&["member", "sponsor", who::CERTIFIED, "--sponsor", "ACTOR"]),
            who::DAVE,
        ),
    ]
}

fn with_actor(args: &[String], actor: &str) -> Vec<String> {
    args.iter()
        .map(|arg| {
            if arg == "ACTOR" {
                actor.to_owned()
            } else {
                arg.clone()
            }
        })
        .collect()
}

/// Every CLI command that acts for a member (`--by`, `--sponsor`), run on
/// beta by alpha's admin, maintainer and committer with arguments naming
/// beta's members: refused with a clear error, nothing of beta shown, no
/// row of either list changed. The same form by beta's own actor works (on
/// a copy). A new `--by` command that the matrix does not cover fails here.
#[test]
fn no_cli_command_acts_on_beta_for_an_actor_of_alpha() {
    let world = world();
    let env = &world.env;
    let forms = forms(env);
    let covered: BTreeSet<String> = forms.iter().map(|f| f.command.to_owned()).collect();
    let with_by = commands_with_an_actor(env);
    let uncovered: Vec<&String> = with_by.iter().filter(|c| !covered.contains(*c)).collect();
    assert!(
        uncovered.is_empty(),
        "--by commands the separation matrix does not cover: {uncovered:?}"
    );
    assert!(
        with_by.len() >= 7,
        "fewer --by commands than expected: {with_by:?}"
    );
    let before = dumps(env);
    let mut runs = 0;
    for form in &forms {
        for actor in ALPHA_ACTORS {
            let args = with_actor(&form.args, actor);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = on(env, BETA, &args);
            assert_eq!(
                run.code, 1,
                "{:?} by {actor} was not refused:\n{}\n{}",
                run.args, run.stdout, run.stderr
            );
            assert!(
                run.stderr.starts_with("error: "),
                "{:?}: no clear error: {}",
                run.args,
                run.stderr
            );
            let shown = format!("{}{}", run.stdout, run.stderr).to_lowercase();
            assert!(
                !shown.contains(CANARY) && !shown.contains(&BETA_CVE.to_lowercase()),
                "{shown}"
            );
            unchanged(env, &before, &format!("{:?}", run.args));
            runs += 1;
        }
        let control = copy(env);
        let args = with_actor(&form.args, form.control);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok_on(&control, BETA, &args);
    }
    assert_eq!(runs, forms.len() * ALPHA_ACTORS.len());
    println!(
        "CLI matrix: {} forms x {} actors = {runs} refused runs",
        forms.len(),
        ALPHA_ACTORS.len()
    );
}
