//! Each list's own audit chain, and the operator's mistakes between
//! lists.

use super::{
    ALPHA, ALPHA_ADDRESS, ALPHA_REQUEST, BETA, BETA_ADDRESS, BETA_ADVISORY, BETA_REQUEST, dumps,
    unchanged, world,
};
use crate::common::lists::{create, ok_on, on};
use crate::common::who;

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
    unchanged(env, &before, "the refused operator commands");
}
