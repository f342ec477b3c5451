//! Tokens one list minted, presented to the other: confirmation tokens
//! and bounce (VERP) addresses.

use super::{
    ALPHA, BETA, BETA_ADDRESS, BETA_REQUEST, deliver, done_on_beta, dumps, mail, unchanged, world,
};
use crate::common::lists::{copy, dump_list, ingest_to, ok_on, on};
use crate::common::mail::bounce;
use crate::common::smtp::SmtpServer;
use crate::common::who;

/// A confirmation token alpha minted for a person pending on both lists:
/// at beta's CLI and in a CONFIRM to beta naming beta it is refused, and
/// the person stays pending on beta; beta's own token works (on a copy).
#[test]
fn a_confirmation_token_of_alpha_does_not_confirm_on_beta() {
    let world = world();
    let env = &world.env;
    let before = dumps(env);
    let run = on(
        env,
        BETA,
        &[
            "member",
            "confirm",
            who::RSA2048,
            "--token",
            &world.alpha_token,
        ],
    );
    run.fails_with("token");
    unchanged(env, &before, "alpha's token at beta's CLI");
    let run = on(
        env,
        ALPHA,
        &[
            "member",
            "confirm",
            who::RSA2048,
            "--token",
            &world.beta_token,
        ],
    );
    run.fails_with("token");
    unchanged(env, &before, "beta's token at alpha's CLI");
    let members_before = env.sql("SELECT * FROM members ORDER BY id");
    let message = mail(
        who::RSA2048,
        BETA_REQUEST,
        BETA_ADDRESS,
        &format!("CONFIRM {}", world.alpha_token),
        &[],
    );
    assert_eq!(ingest_to(env, BETA_REQUEST, &message), 0);
    assert_eq!(env.sql("SELECT * FROM members ORDER BY id"), members_before);
    assert_eq!(done_on_beta(env), 0);
    let control = copy(env);
    ok_on(
        &control,
        BETA,
        &[
            "member",
            "confirm",
            who::RSA2048,
            "--token",
            &world.beta_token,
        ],
    );
}

/// The VERP sender of the copy to Dave from the list whose VERP local
/// part starts `prefix`, as the SMTP server recorded it.
fn verp_to_dave(smtp: &SmtpServer, prefix: &str) -> String {
    smtp.accepted()
        .into_iter()
        .find(|r| r.rcpt == vec![who::DAVE.to_owned()] && r.mail_from.starts_with(prefix))
        .map(|r| r.mail_from)
        .unwrap_or_else(|| panic!("no copy to Dave from {prefix}"))
}

/// `ID-TOKEN` of a VERP address `LOCAL-bounces+ID-TOKEN@DOMAIN`.
fn id_and_token(verp: &str) -> String {
    verp.split_once("-bounces+")
        .and_then(|(_, rest)| rest.split_once('@'))
        .map(|(id_token, _)| id_token.to_owned())
        .expect("a VERP address")
}

/// Bounces alpha's tokens made, handed to beta: to alpha's VERP address
/// for beta's addresses, and beta's VERP form carrying alpha's delivery id
/// and token. `shared_secret` gives both lists one `[inbound]
/// bounce_secret`, so alpha's token is also a valid token for beta: only
/// the list boundary of the copy it names keeps it out.
fn alpha_bounces_change_nothing_on_beta(shared_secret: bool) {
    let world = world();
    let env = &world.env;
    if shared_secret {
        env.file("bounce.secret", b"one secret for every list\n");
        let mut config = std::fs::read_to_string(&env.config).expect("config");
        config.push_str("\n[inbound]\nbounce_secret = { file = \"bounce.secret\" }\n");
        std::fs::write(&env.config, config).expect("config");
    }
    let smtp = deliver(env);
    let alpha_verp = verp_to_dave(&smtp, "alpha-bounces+");
    let forged = format!("beta-bounces+{}@lists.example", id_and_token(&alpha_verp));
    let before = dumps(env);
    for (to, recipient) in [
        (alpha_verp.as_str(), BETA_REQUEST),
        (alpha_verp.as_str(), BETA_ADDRESS),
        (forged.as_str(), BETA_REQUEST),
        (forged.as_str(), forged.as_str()),
    ] {
        let dsn = bounce(to, who::DAVE, "5.1.1", "<x@y>");
        assert_eq!(
            ingest_to(env, recipient, &dsn),
            0,
            "bounce to {to} via {recipient}"
        );
        unchanged(
            env,
            &before,
            &format!("a bounce to {to} delivered for {recipient}"),
        );
    }
}

#[test]
fn a_bounce_token_of_alpha_does_nothing_on_beta() {
    alpha_bounces_change_nothing_on_beta(false);
}

#[test]
fn a_bounce_token_of_alpha_does_nothing_on_beta_with_one_shared_secret() {
    alpha_bounces_change_nothing_on_beta(true);
}

/// `embargo ingest --recipient <VERP address>` — the envelope recipient
/// the MTA gives a bounce — exited 75 ("no list here has the address"):
/// in an instance of several lists the MTA retried every bounce until it
/// gave up, and none counted. A VERP recipient now reaches the list whose
/// address it was made from, which checks the token; it counts there, on
/// that list alone, in any letter case.
#[test]
fn a_bounce_to_a_lists_verp_address_reaches_that_list() {
    let world = world();
    let env = &world.env;
    let smtp = deliver(env);
    for (prefix, list, other) in [
        ("alpha-bounces+", ALPHA, BETA),
        ("beta-bounces+", BETA, ALPHA),
    ] {
        let verp = verp_to_dave(&smtp, prefix);
        let before = dump_list(env, other);
        let dsn = bounce(&verp, who::DAVE, "5.1.1", "<x@y>");
        let recipient = if list == ALPHA {
            verp.clone()
        } else {
            verp.to_uppercase()
        };
        assert_eq!(
            ingest_to(env, &recipient, &dsn),
            0,
            "own bounce via {recipient}"
        );
        let score = env.sql(&format!(
            "SELECT bounce_score FROM members WHERE email = '{}' \
             AND list_id = (SELECT id FROM lists WHERE name = '{list}')",
            who::DAVE
        ));
        // SQLite prints the REAL as "1.0", PostgreSQL its double as "1".
        assert_eq!(
            score.trim().parse::<f64>().ok(),
            Some(1.0),
            "{list}'s own bounce did not count"
        );
        assert_eq!(
            dump_list(env, other),
            before,
            "{list}'s bounce changed {other}"
        );
    }
    // A VERP-shaped recipient of no list is still refused for the MTA.
    let stray = "gamma-bounces+1-0011223344556677@lists.example";
    let dsn = bounce(stray, who::DAVE, "5.1.1", "<x@y>");
    assert_eq!(ingest_to(env, stray, &dsn), 75);
}
