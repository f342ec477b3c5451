//! The roster through the CLI: the sponsor gate, the member lifecycle,
//! roles and keys.

use rstest::rstest;

use crate::common::{Env, path, who};

/// How the would-be sponsor is set up before the gate is asked.
#[derive(Debug, Clone, Copy)]
enum Sponsor {
    Unknown,
    Pending,
    Suspended,
    Removed,
    SubscriberOnly,
    MaintainerOnly,
    AdminOnly,
    Committer,
    Advisor,
}

fn prepare(env: &Env, sponsor: Sponsor) -> &'static str {
    let committer = ["--role", "committer", "--by", who::ALICE];
    match sponsor {
        Sponsor::Unknown => "ghost@nowhere.example",
        Sponsor::Pending => {
            env.add(who::BOB, who::ALICE, &committer);
            who::BOB
        }
        Sponsor::Suspended => {
            env.add_active(who::BOB, who::ALICE, &committer);
            env.ok(&["member", "suspend", who::BOB, "--reason", "test"]);
            who::BOB
        }
        Sponsor::Removed => {
            env.add_active(who::BOB, who::ALICE, &committer);
            env.ok(&["member", "remove", who::BOB, "--reason", "test"]);
            who::BOB
        }
        Sponsor::SubscriberOnly => {
            env.add_active(who::BOB, who::ALICE, &[]);
            who::BOB
        }
        Sponsor::MaintainerOnly => {
            env.add_active(
                who::BOB,
                who::ALICE,
                &["--role", "maintainer", "--by", who::ALICE],
            );
            who::BOB
        }
        Sponsor::AdminOnly => {
            env.add_active(
                who::BOB,
                who::ALICE,
                &["--role", "admin", "--by", who::ALICE],
            );
            who::BOB
        }
        Sponsor::Committer => {
            env.add_active(who::BOB, who::ALICE, &committer);
            who::BOB
        }
        Sponsor::Advisor => {
            env.add_active(
                who::CAROL,
                who::ALICE,
                &["--role", "advisor", "--by", who::ALICE],
            );
            who::CAROL
        }
    }
}

#[rstest]
#[case::unknown(Sponsor::Unknown, Some("not on the roster"))]
#[case::pending(Sponsor::Pending, Some("is pending"))]
#[case::suspended(Sponsor::Suspended, Some("is suspended"))]
#[case::removed(Sponsor::Removed, Some("is removed"))]
#[case::subscriber_only(Sponsor::SubscriberOnly, Some("committer or advisor"))]
#[case::maintainer_only(Sponsor::MaintainerOnly, Some("committer or advisor"))]
#[case::admin_only(Sponsor::AdminOnly, Some("committer or advisor"))]
#[case::committer(Sponsor::Committer, None)]
#[case::advisor(Sponsor::Advisor, None)]
fn the_sponsor_gate(#[case] sponsor: Sponsor, #[case] refusal: Option<&str>) {
    let env = Env::new();
    env.init();
    let sponsor_email = prepare(&env, sponsor);
    let before = env.dump();
    let key = env.cert_file(who::DAVE);
    let run = env.run(&[
        "member",
        "add",
        who::DAVE,
        "--name",
        "Dave",
        "--org",
        "Vendor",
        "--kind",
        "vendor",
        "--key",
        path(&key),
        "--sponsor",
        sponsor_email,
        "--statement",
        "I vouch for Dave",
    ]);
    match refusal {
        Some(reason) => {
            run.fails_with(reason);
            assert_eq!(env.dump(), before, "a refused add changed the database");
        }
        None => {
            assert_eq!(run.code, 0, "{}", run.stderr);
            let dave = env.show(who::DAVE);
            assert_eq!(dave["status"], "pending");
            assert_eq!(dave["sponsor"], sponsor_email);
            assert_eq!(dave["statement"], "I vouch for Dave");
            let audit = env.ok(&["audit", "list", "--json"]);
            assert!(
                audit.stdout.contains("I vouch for Dave"),
                "statement not audited"
            );
        }
    }
}

#[test]
fn a_new_member_is_pending_until_the_right_token_comes_back() {
    let env = Env::new();
    env.init();
    let token = env.add(who::DAVE, who::ALICE, &[]);
    assert_eq!(env.show(who::DAVE)["status"], "pending");
    let stored =
        env.sql("SELECT confirm_token_hash FROM members WHERE email_norm = 'dave@vendor.example'");
    assert!(!stored.contains(&token), "the token is stored in clear");
    assert_eq!(stored.trim().len(), 64, "a SHA-256 hex digest is stored");

    let before = env.dump();
    env.run(&[
        "member",
        "confirm",
        who::DAVE,
        "--token",
        "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE",
    ])
    .fails_with("does not match");
    assert_eq!(env.dump(), before);

    env.ok(&[
        "member",
        "confirm",
        "DAVE@Vendor.example",
        "--token",
        &token,
    ]);
    let dave = env.show(who::DAVE);
    assert_eq!(dave["status"], "active");
    assert_eq!(dave["confirmed_at"], "2026-06-01T12:00:00Z");
    env.run(&["member", "confirm", who::DAVE, "--token", &token])
        .fails_with("is active");
}

#[test]
fn an_expired_token_is_refused() {
    let env = Env::with_config("\n[members]\nconfirm_token_ttl_hours = 1\n");
    env.init();
    let token = env.add(who::DAVE, who::ALICE, &[]);
    let before = env.dump();
    let out = env.run_at(
        "2026-06-01T13:00:01Z",
        &["member", "confirm", who::DAVE, "--token", &token],
    );
    assert_eq!(Some(out.code), Some(1));
    assert!(out.stderr.contains("expired"));
    assert_eq!(env.dump(), before);
}

#[test]
fn suspend_resume_and_remove_move_the_status_and_are_audited() {
    let env = Env::new();
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.ok(&[
        "member",
        "suspend",
        who::DAVE,
        "--reason",
        "key compromise reported",
    ]);
    assert_eq!(env.show(who::DAVE)["status"], "suspended");
    env.ok(&["member", "resume", who::DAVE]);
    assert_eq!(env.show(who::DAVE)["status"], "active");
    env.ok(&[
        "member",
        "remove",
        who::DAVE,
        "--reason",
        "left the company",
    ]);
    assert_eq!(env.show(who::DAVE)["status"], "removed");
    env.run(&["member", "resume", who::DAVE])
        .fails_with("is removed");
    let audit = env.ok(&["audit", "list"]).stdout;
    for needle in [
        "member.suspend",
        "key compromise reported",
        "member.resume",
        "member.remove",
        "left the company",
    ] {
        assert!(audit.contains(needle), "audit lacks {needle}:\n{audit}");
    }
    let listed = env.ok(&["member", "list", "--status", "removed", "--json"]);
    let removed: Vec<serde_json::Value> = serde_json::from_str(&listed.stdout).expect("json");
    assert_eq!(removed.len(), 1);
}

#[test]
fn removing_a_sponsor_flags_the_members_they_sponsored() {
    let env = Env::new();
    env.init();
    env.add_active(
        who::BOB,
        who::ALICE,
        &["--role", "committer", "--by", who::ALICE],
    );
    env.add_active(who::DAVE, who::BOB, &[]);
    env.add(who::ERIN, who::BOB, &[]);
    env.add_active(who::FRANK, who::ALICE, &[]);
    let run = env.ok(&["member", "remove", who::BOB, "--reason", "left the project"]);
    assert!(
        run.stdout.contains(who::DAVE) && run.stdout.contains(who::ERIN),
        "{}",
        run.stdout
    );
    let dave = env.show(who::DAVE);
    assert_eq!(dave["needs_sponsor"], true);
    assert_eq!(dave["status"], "active", "nobody is dropped");
    assert_eq!(env.show(who::ERIN)["needs_sponsor"], true);
    assert_eq!(env.show(who::ERIN)["status"], "pending");
    assert_eq!(env.show(who::FRANK)["needs_sponsor"], false);
    let audit = env.ok(&["audit", "list"]).stdout;
    assert_eq!(audit.matches("member.needs-sponsor").count(), 2, "{audit}");

    env.ok(&[
        "member",
        "sponsor",
        who::DAVE,
        "--sponsor",
        who::ALICE,
        "--statement",
        "I know Dave too",
    ]);
    let dave = env.show(who::DAVE);
    assert_eq!(dave["needs_sponsor"], false);
    assert_eq!(dave["sponsor"], who::ALICE);
}

#[test]
fn privileged_roles_need_an_active_admin() {
    let env = Env::new();
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    env.add_active(
        who::BOB,
        who::ALICE,
        &["--role", "committer", "--by", who::ALICE],
    );
    let before = env.dump();
    env.run(&["member", "grant", who::DAVE, "committer"])
        .fails_with("--by");
    env.run(&["member", "grant", who::DAVE, "committer", "--by", who::BOB])
        .fails_with("admin role");
    env.run(&[
        "member",
        "grant",
        who::DAVE,
        "admin",
        "--by",
        "ghost@nowhere.example",
    ])
    .fails_with("no member");
    assert_eq!(env.dump(), before);
    // Adding straight into a privileged role is the same grant.
    let key = env.cert_file(who::ERIN);
    env.run(&[
        "member",
        "add",
        who::ERIN,
        "--name",
        "Erin",
        "--org",
        "Distro",
        "--kind",
        "distribution",
        "--key",
        path(&key),
        "--sponsor",
        who::BOB,
        "--role",
        "maintainer",
    ])
    .fails_with("--by");
    assert_eq!(env.dump(), before);

    env.ok(&["member", "grant", who::DAVE, "advisor", "--by", who::ALICE]);
    assert_eq!(
        env.show(who::DAVE)["roles"],
        serde_json::json!(["advisor", "subscriber"])
    );
    let audit = env.ok(&["audit", "list", "--json"]).stdout;
    assert!(
        audit.contains("member:alice@project.example") && audit.contains("member.grant"),
        "{audit}"
    );
    env.ok(&["member", "revoke", who::DAVE, "advisor", "--by", who::ALICE]);
    assert_eq!(
        env.show(who::DAVE)["roles"],
        serde_json::json!(["subscriber"])
    );
}

#[test]
fn the_last_admin_stays() {
    let env = Env::new();
    env.init();
    let before = env.dump();
    env.run(&["member", "revoke", who::ALICE, "admin", "--by", who::ALICE])
        .fails_with("last active admin");
    env.run(&["member", "suspend", who::ALICE])
        .fails_with("last active admin");
    env.run(&["member", "remove", who::ALICE, "--reason", "x"])
        .fails_with("last active admin");
    assert_eq!(env.dump(), before);
    env.add_active(
        who::BOB,
        who::ALICE,
        &["--role", "admin", "--by", who::ALICE],
    );
    env.ok(&["member", "revoke", who::ALICE, "admin", "--by", who::BOB]);
}

#[test]
fn set_key_replaces_the_certificate_and_keeps_the_old_fingerprint_in_the_audit_log() {
    let env = Env::new();
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    let old = env.show(who::DAVE)["fingerprint"]
        .as_str()
        .expect("fingerprint")
        .to_owned();
    let new_key = env.cert_file(who::RSA2048);
    let run = env.ok(&["member", "set-key", who::DAVE, "--key", path(&new_key)]);
    assert!(
        run.stderr.contains("no user ID on the certificate names"),
        "{}",
        run.stderr
    );
    let dave = env.show(who::DAVE);
    assert_ne!(dave["fingerprint"], old);
    assert_eq!(dave["certificate"]["primary_algorithm"], "RSA-2048");
    let audit = env.ok(&["audit", "list", "--json"]).stdout;
    assert!(audit.contains(&old), "old fingerprint not audited");
}

#[test]
fn member_show_describes_the_certificate() {
    let env = Env::new();
    env.init();
    env.add(who::DAVE, who::ALICE, &[]);
    let dave = env.show(who::DAVE);
    let cert = &dave["certificate"];
    assert_eq!(cert["fingerprint"].as_str().map(str::len), Some(40));
    assert_eq!(cert["primary_algorithm"], "EdDSA Ed25519");
    assert_eq!(cert["encryption_keys"][0]["algorithm"], "ECDH Curve25519");
    assert_eq!(
        cert["encryption_keys"][0]["expires"],
        serde_json::Value::Null
    );
    assert_eq!(cert["problem"], serde_json::Value::Null);
    let text = env.ok(&["member", "show", who::DAVE]).stdout;
    assert!(text.contains("expires never"), "{text}");
    assert!(
        text.contains(cert["fingerprint"].as_str().unwrap_or_default()),
        "{text}"
    );
}

/// `member list --json` prints the JSON the database keeps per member
/// (triggers in the migration); it must say exactly what the roster module
/// says about the same members, whatever happened to them.
#[test]
fn the_stored_listing_matches_the_roster_module() {
    let env = Env::new();
    env.init();
    env.add_active(
        who::BOB,
        who::ALICE,
        &["--role", "committer", "--by", who::ALICE],
    );
    env.add_active(who::DAVE, who::BOB, &[]);
    let key = env.cert_file(who::ERIN);
    env.ok(&[
        "member",
        "add",
        who::ERIN,
        "--name",
        "Érin \"the\" O'Brien \\ Ünal",
        "--org",
        "Distro/Ops",
        "--kind",
        "distribution",
        "--key",
        path(&key),
        "--sponsor",
        who::BOB,
        "--role",
        "advisor",
        "--role",
        "subscriber",
        "--by",
        who::ALICE,
    ]);
    env.ok(&["member", "remove", who::BOB, "--reason", "left"]);
    env.ok(&[
        "member",
        "grant",
        who::DAVE,
        "maintainer",
        "--by",
        who::ALICE,
    ]);
    env.ok(&["member", "suspend", who::DAVE]);
    let new_key = env.cert_file(who::RSA2048);
    env.ok(&["member", "set-key", who::DAVE, "--key", path(&new_key)]);

    let config = embargo::config::Config::load(Some(&env.config)).expect("config");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (typed, stored) = runtime.block_on(async {
        let app = embargo::app::App::open(config, Box::new(embargo::clock::SystemClock))
            .await
            .expect("open");
        let mut pairs = Vec::new();
        for status in [
            None,
            Some(embargo::roster::Status::Active),
            Some(embargo::roster::Status::Removed),
        ] {
            let summaries = app.list_members(status).await.expect("summaries");
            let text = app.list_members_json(status).await.expect("listing");
            // Byte for byte, not only the same values: the PostgreSQL
            // trigger builds the text itself and must match SQLite's
            // json_object (no spaces, the same key order and escapes).
            assert_eq!(
                text,
                serde_json::to_string(&summaries).expect("json"),
                "the stored listing's text"
            );
            let typed = serde_json::to_value(summaries).expect("json");
            let stored: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
            pairs.push((typed, stored));
        }
        app.close().await;
        pairs.into_iter().unzip::<_, _, Vec<_>, Vec<_>>()
    });
    assert_eq!(typed, stored);
    assert_eq!(stored[0].as_array().map(Vec::len), Some(4));
    assert_eq!(stored[0][2]["needs_sponsor"], true, "{}", stored[0]);
}
