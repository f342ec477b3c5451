//! Each list's own audit chain, beta's objects named at alpha, and the
//! operator's mistakes between lists.

use super::{
    ALPHA, ALPHA_ADDRESS, ALPHA_ADVISORY, ALPHA_REQUEST, BETA, BETA_ADDRESS, BETA_ADVISORY,
    BETA_CVE, BETA_ONLY_CASE, BETA_REPORTER, BETA_REQUEST, CANARY, dumps, mail, unchanged, world,
};
use crate::common::lists::{create, ingest_to, ok_on, on};
use crate::common::mail::Attachment;
use crate::common::{path, revoked_update, who};

/// Each list's audit log is its own hash chain: both verify, and a row of
/// beta tampered with fails beta's verification and not alpha's.
#[test]
fn each_list_verifies_its_own_audit_chain() {
    let world = world();
    let env = &world.env;
    ok_on(env, ALPHA, &["audit", "verify"]);
    ok_on(env, BETA, &["audit", "verify"]);
    env.sql(
        "UPDATE audit_log SET reason = 'edited' WHERE seq = 2 \
         AND list_id = (SELECT id FROM lists WHERE name = 'beta')",
    );
    ok_on(env, ALPHA, &["audit", "verify"]);
    let run = on(env, BETA, &["audit", "verify"]);
    assert_ne!(
        run.code, 0,
        "a tampered beta verifies:\n{}\n{}",
        run.stdout, run.stderr
    );
    // And the other way round: alpha's tampered row fails alpha alone.
    env.sql(
        "UPDATE audit_log SET reason = 'edited' WHERE seq = 3 \
         AND list_id = (SELECT id FROM lists WHERE name = 'alpha')",
    );
    assert_ne!(on(env, ALPHA, &["audit", "verify"]).code, 0);
}

/// The operator's own mistakes: a `--list` naming no list, no `--list`
/// with two lists, and a new list with an address another list has
/// (either of its two, either way round, in any case) are refused with
/// the lists named and nothing changed.
#[test]
fn operator_mistakes_between_lists_are_refused() {
    let world = world();
    let env = &world.env;
    let before = dumps(env);
    let lists_before = env.sql("SELECT * FROM lists ORDER BY id");
    for args in [
        &["member", "list"][..],
        &["advisory", "show", BETA_ADVISORY],
        &["audit", "list"],
    ] {
        let run = on(env, "gamma", args);
        run.fails_with("no list named gamma");
        assert!(
            run.stderr.contains("alpha") && run.stderr.contains("beta"),
            "{}",
            run.stderr
        );
        let run = env.run(args);
        run.fails_with("--list");
        assert!(
            run.stderr.contains("alpha") && run.stderr.contains("beta"),
            "{}",
            run.stderr
        );
    }
    let taken = [
        (BETA_ADDRESS.to_owned(), None),
        (BETA_ADDRESS.to_uppercase(), None),
        (BETA_REQUEST.to_owned(), None),
        (
            "gamma@lists.example".to_owned(),
            Some(BETA_REQUEST.to_uppercase()),
        ),
        (
            "gamma@lists.example".to_owned(),
            Some(BETA_ADDRESS.to_owned()),
        ),
        (
            ALPHA_ADDRESS.to_uppercase(),
            Some("gamma-request@lists.example".to_owned()),
        ),
        (
            "gamma@lists.example".to_owned(),
            Some(ALPHA_REQUEST.to_uppercase()),
        ),
        // "beta" itself derives beta-request@: taken either way round.
        (
            "Beta@Lists.Example".to_owned(),
            Some("other@lists.example".to_owned()),
        ),
    ];
    for (address, request) in &taken {
        let mut extra = Vec::new();
        if let Some(request) = request {
            extra.extend(["--request-address", request.as_str()]);
        }
        let run = create(env, "gamma", address, who::FRANK, &extra);
        assert_eq!(
            run.code, 1,
            "gamma with {address} / {request:?} was made:\n{}",
            run.stdout
        );
        assert!(
            run.stderr.starts_with("error: ") && run.stderr.contains("refused"),
            "{}",
            run.stderr
        );
        assert_eq!(env.sql("SELECT * FROM lists ORDER BY id"), lists_before);
        assert!(
            !env.dir.path().join("var/lists/gamma").exists(),
            "gamma's folder was made"
        );
    }
    // A name in use, whatever the addresses, and `list show` of no list.
    let run = create(env, BETA, "delta@lists.example", who::FRANK, &[]);
    run.fails_with("already a list named beta");
    let run = env.run(&["list", "show", "gamma"]);
    run.fails_with("no list named gamma");
    assert!(
        run.stderr.contains("alpha") && run.stderr.contains("beta"),
        "{}",
        run.stderr
    );
    assert_eq!(env.sql("SELECT * FROM lists ORDER BY id"), lists_before);
    unchanged(env, &before, "the refused operator commands");
}

/// Beta's objects named at alpha (`--list alpha`): beta's copy ids, its
/// advisory, its members. Alpha does not know them — every change is
/// refused naming nothing of beta, and nothing changes — and alpha's
/// listings show nothing of beta.
#[test]
fn betas_objects_are_unknown_to_alpha() {
    let world = world();
    let env = &world.env;
    let copy_id = env
        .sql("SELECT min(id) FROM deliveries WHERE list_id = (SELECT id FROM lists WHERE name = 'beta')")
        .trim()
        .to_owned();
    assert!(!copy_id.is_empty(), "beta has no copy");
    let key = env.file("certified-update.asc", &revoked_update(who::CERTIFIED));
    let until = "2026-06-10T14:00:00Z";
    let ack = env.file("ack.txt", b"Thanks.\n");
    let changes: Vec<Vec<&str>> = vec![
        vec!["queue", "retry", &copy_id],
        vec!["queue", "hold", &copy_id, "--reason", "r"],
        vec!["queue", "release", &copy_id],
        vec![
            "queue",
            "hold",
            BETA_ADVISORY,
            "--until",
            until,
            "--reason",
            "r",
        ],
        vec!["queue", "release", BETA_ADVISORY],
        vec!["advisory", "show", BETA_ADVISORY],
        vec!["advisory", "preview", BETA_ADVISORY],
        vec!["advisory", "acks", BETA_ADVISORY],
        vec![
            "advisory",
            "preview",
            ALPHA_ADVISORY,
            "--for",
            who::ERIN,
            "--sealed",
        ],
        vec!["advisory", "edit", BETA_ADVISORY, "--title", "x"],
        vec!["advisory", "announce", BETA_ADVISORY],
        vec!["advisory", "cancel", BETA_ADVISORY, "--reason", "r"],
        vec![
            "advisory",
            "disclose",
            BETA_ADVISORY,
            "--now",
            "--reason",
            "r",
        ],
        vec!["member", "show", who::ERIN],
        vec!["member", "suspend", who::ERIN],
        vec!["member", "resume", who::EXPIRING_SUBKEY],
        vec!["member", "remove", who::FRANK, "--reason", "r"],
        vec![
            "member",
            "grant",
            who::CERTIFIED,
            "committer",
            "--by",
            who::ERIN,
        ],
        vec![
            "member",
            "revoke",
            who::FRANK,
            "maintainer",
            "--by",
            who::ERIN,
        ],
        vec!["member", "set-key", who::CERTIFIED, "--key", path(&key)],
        vec!["member", "sponsor", who::CERTIFIED, "--sponsor", who::ALICE],
        vec!["case", "show", BETA_ONLY_CASE],
        vec![
            "case",
            "ack",
            BETA_ONLY_CASE,
            "--message",
            path(&ack),
            "--by",
            who::ALICE,
        ],
        vec![
            "case",
            "close",
            BETA_ONLY_CASE,
            "--reason",
            "r",
            "--by",
            who::ALICE,
        ],
    ];
    let before = dumps(env);
    for args in &changes {
        let run = on(env, ALPHA, args);
        assert_eq!(
            run.code, 1,
            "{:?} worked on alpha:\n{}",
            run.args, run.stdout
        );
        assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
        let shown = format!("{}{}", run.stdout, run.stderr).to_lowercase();
        assert!(
            !shown.contains(CANARY),
            "{:?} shows beta's advisory: {shown}",
            run.args
        );
        unchanged(env, &before, &format!("{args:?} on alpha"));
    }
    let reads: [&[&str]; 8] = [
        &["case", "list", "--json"],
        &["case", "show", "CASE-2026-0001", "--json"],
        &["member", "list", "--json"],
        &["advisory", "list", "--json"],
        &["queue", "list", "--all", "--json"],
        &["audit", "list", "--json"],
        &["list", "show", ALPHA, "--json"],
        &["advisory", "acks", ALPHA_ADVISORY, "--json"],
    ];
    for args in reads {
        let shown = ok_on(env, ALPHA, args).stdout.to_lowercase();
        for beta_only in [
            who::ERIN,
            who::FRANK,
            who::CERTIFIED,
            who::EXPIRING_SUBKEY,
            CANARY,
            "be-2026",
            BETA_CVE,
            BETA_REPORTER,
        ] {
            assert!(
                !shown.contains(&beta_only.to_lowercase()),
                "{args:?} on alpha shows {beta_only}:\n{shown}"
            );
        }
    }
    println!(
        "alpha refused {} changes naming beta's objects",
        changes.len()
    );
}

/// A list's own address could not join its roster (its mail would loop
/// back into it), but another list's could: beta took alpha's address,
/// with alpha's list certificate, as a member, and sealed its embargoed
/// mail into alpha's mailbox, to a key alpha holds. Every address of
/// every list of the instance is now refused, at the CLI and by SPONSOR,
/// and nothing changes.
#[test]
fn another_lists_address_cannot_join_the_roster() {
    let world = world();
    let env = &world.env;
    let alpha_cert = env.file(
        "alpha-list.asc",
        ok_on(env, ALPHA, &["key", "export"]).stdout.as_bytes(),
    );
    let before = dumps(env);
    let verp = "alpha-bounces+1-0011223344556677@project.example";
    for address in [
        ALPHA_ADDRESS,
        ALPHA_REQUEST,
        &ALPHA_ADDRESS.to_uppercase(),
        verp,
    ] {
        let run = on(
            env,
            BETA,
            &[
                "member",
                "add",
                address,
                "--name",
                "Alpha",
                "--org",
                "Project",
                "--kind",
                "vendor",
                "--key",
                path(&alpha_cert),
                "--sponsor",
                who::ERIN,
            ],
        );
        run.fails_with("an address of a list");
        unchanged(env, &before, &format!("adding {address} to beta"));
    }
    let sponsor = format!(
        "SPONSOR {ALPHA_ADDRESS}\nName: Alpha\nOrg: Project\nKind: vendor\nStatement: a list"
    );
    let cert = Attachment::pgp_keys(std::fs::read(&alpha_cert).expect("cert").as_slice());
    let message = mail(who::DAVE, BETA_REQUEST, BETA_ADDRESS, &sponsor, &[cert]);
    assert_eq!(ingest_to(env, BETA_REQUEST, &message), 0);
    let members = env.sql(&format!(
        "SELECT count(*) FROM members WHERE email_norm = '{ALPHA_ADDRESS}'"
    ));
    assert_eq!(members.trim(), "0", "beta took alpha's address by SPONSOR");
    let line = env.sql("SELECT line FROM inbound_commands ORDER BY at DESC, idx DESC LIMIT 1");
    assert!(line.contains("an address of a list"), "{line}");
}

/// `list create --import-key` took alpha's own secret key as beta's: two
/// lists signing with one key (members could not tell them apart) and
/// each able to open mail sealed to the other. And `--admin` could be
/// alpha's address, with alpha's list certificate, so beta's mail went to
/// alpha's mailbox. Both are refused now, and nothing is made.
#[test]
fn a_new_list_shares_no_key_and_no_address_with_another() {
    let world = world();
    let env = &world.env;
    let lists_before = env.sql("SELECT * FROM lists ORDER BY id");
    let before = dumps(env);
    let alpha_secret = env.dir.path().join("var/list-key.asc");
    let run = create(
        env,
        "gamma",
        "gamma@lists.example",
        who::FRANK,
        &["--import-key", path(&alpha_secret)],
    );
    run.fails_with("already the key of the list alpha");
    let alpha_cert = env.file(
        "alpha-list.asc",
        ok_on(env, ALPHA, &["key", "export"]).stdout.as_bytes(),
    );
    let run = env.run(&[
        "list",
        "create",
        "gamma",
        "--address",
        "gamma@lists.example",
        "--admin",
        ALPHA_ADDRESS,
        "--name",
        "Alpha",
        "--org",
        "Project",
        "--key",
        path(&alpha_cert),
    ]);
    run.fails_with("an address of the list alpha");
    assert_eq!(env.sql("SELECT * FROM lists ORDER BY id"), lists_before);
    assert!(
        !env.dir.path().join("var/lists/gamma").exists(),
        "gamma's folder was left"
    );
    unchanged(env, &before, "the refused list create");
    // The class's other side: the same command with a key of its own and
    // a person as admin makes the list.
    let made = create(env, "gamma", "gamma@lists.example", who::FRANK, &[]);
    assert_eq!(made.code, 0, "{}", made.stderr);
}
