//! The certificate policy, as a table of certificates made by GnuPG the
//! way members make them.

use std::process::Command;

use rstest::rstest;

use crate::common::{Env, keys, path, who};

#[rstest]
#[case::ed25519_cv25519(who::DAVE, None)]
#[case::rsa_2048(who::RSA2048, None)]
#[case::rsa_1024(who::RSA1024, Some("RSA-1024; at least 2048 bits"))]
#[case::rsa_1024_subkey(who::RSA1024_SUBKEY, Some("RSA-1024; at least 2048 bits"))]
#[case::expired_subkey(who::EXPIRED_SUBKEY, Some("expired on 2026-01-31"))]
#[case::revoked_subkey(who::REVOKED_SUBKEY, Some("revoked"))]
#[case::no_encryption_subkey(who::NO_ENCRYPTION, Some("no encryption-capable subkey"))]
#[case::sha1_bindings(who::SHA1_BINDINGS, Some("SHA-1"))]
#[case::sha1_subkey_binding(who::SHA1_SUBKEY, Some("SHA-1"))]
fn the_certificate_policy(#[case] email: &str, #[case] refusal: Option<&str>) {
    let env = Env::new();
    env.init();
    let before = env.dump();
    let key = env.cert_file(email);
    let run = env.run(&[
        "member",
        "add",
        email,
        "--name",
        "Member",
        "--org",
        "Org",
        "--kind",
        "vendor",
        "--key",
        path(&key),
        "--sponsor",
        who::ALICE,
    ]);
    match refusal {
        Some(reason) => {
            run.fails_with(reason);
            assert_eq!(
                run.stderr
                    .lines()
                    .filter(|l| l.starts_with("caused by:"))
                    .count(),
                1,
                "{}",
                run.stderr
            );
            assert_eq!(
                env.dump(),
                before,
                "a refused certificate changed the database"
            );
        }
        None => {
            assert_eq!(run.code, 0, "{}", run.stderr);
            assert_eq!(env.show(email)["status"], "pending");
        }
    }
}

#[test]
fn binary_certificates_are_accepted_too() {
    let env = Env::new();
    env.init();
    let key = env.file("dave.gpg", keys().binary(who::DAVE));
    env.ok(&[
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
        who::ALICE,
    ]);
}

#[test]
fn a_user_id_for_another_address_is_a_warning_not_a_refusal() {
    let env = Env::new();
    env.init();
    let key = env.cert_file(who::FRANK);
    let run = env.ok(&[
        "member",
        "add",
        "someone-else@vendor.example",
        "--name",
        "Someone",
        "--org",
        "Vendor",
        "--kind",
        "vendor",
        "--key",
        path(&key),
        "--sponsor",
        who::ALICE,
    ]);
    assert!(
        run.stderr
            .contains("warning: no user ID on the certificate names someone-else@vendor.example"),
        "{}",
        run.stderr
    );
}

/// Writes the stored certificate of `email` (read as hexadecimal, which
/// both stores' shells print) to a file and lists its packets with GnuPG.
fn stored_packets(env: &Env, email: &str) -> String {
    let out = env.dir.path().join("stored.gpg");
    let hex = env.sql(&format!(
        "SELECT {} FROM members m JOIN member_certs c ON c.member_id = m.id \
         WHERE m.email_norm = '{email}'",
        env.hex("c.cert")
    ));
    let hex = hex.trim().as_bytes();
    let bytes: Vec<u8> = hex
        .chunks(2)
        .map(|pair| {
            u8::from_str_radix(std::str::from_utf8(pair).expect("hex"), 16).expect("hex digits")
        })
        .collect();
    assert!(!bytes.is_empty(), "no certificate stored for {email}");
    std::fs::write(&out, bytes).expect("write the stored certificate");
    let listing = Command::new("gpg")
        .args(["--batch", "--list-packets"])
        .arg(&out)
        .output()
        .expect("gpg --list-packets");
    String::from_utf8_lossy(&listing.stdout).into_owned()
}

#[test]
fn third_party_certifications_and_secret_keys_are_stripped_on_import() {
    let env = Env::new();
    env.init();
    // The fixture carries Bob's certification; give the secret key too.
    let given = env.file("certified-secret.asc", keys().secret(who::CERTIFIED));
    env.ok(&[
        "member",
        "add",
        who::CERTIFIED,
        "--name",
        "Certified",
        "--org",
        "Vendor",
        "--kind",
        "vendor",
        "--key",
        path(&given),
        "--sponsor",
        who::ALICE,
    ]);
    let original = Command::new("gpg")
        .args(["--batch", "--list-packets"])
        .arg(env.cert_file(who::CERTIFIED))
        .output()
        .expect("gpg --list-packets");
    let original = String::from_utf8_lossy(&original.stdout);
    assert_eq!(
        original.matches("sigclass 0x10").count(),
        1,
        "the fixture should carry Bob's certification:\n{original}"
    );

    let stored = stored_packets(&env, who::CERTIFIED);
    assert!(
        !stored.contains("secret key packet") && !stored.contains("secret sub key packet"),
        "secret key stored:\n{stored}"
    );
    assert!(
        !stored.contains("sigclass 0x10"),
        "third-party certification kept:\n{stored}"
    );
    assert!(
        stored.contains("sigclass 0x13"),
        "the self-signature was lost:\n{stored}"
    );
    assert!(
        stored.contains("sigclass 0x18"),
        "the subkey binding was lost:\n{stored}"
    );
}

#[test]
fn member_show_reports_a_subkey_that_expires() {
    let env = Env::new();
    env.init();
    env.add(who::DAVE, who::ALICE, &[]);
    // Days later the subkey of a certificate that was fine at import has a
    // problem: show it, from the stored certificate, at the current time.
    let key = env.cert_file(who::EXPIRED_SUBKEY);
    let out = env.run_at(
        "2026-01-15T00:00:00Z",
        &[
            "member",
            "add",
            who::EXPIRED_SUBKEY,
            "--name",
            "Soon",
            "--org",
            "Vendor",
            "--kind",
            "vendor",
            "--key",
            path(&key),
            "--sponsor",
            who::ALICE,
        ],
    );
    assert!(out.code == 0, "{}", out.stderr);
    let shown = env.show(who::EXPIRED_SUBKEY);
    let problem = shown["certificate"]["problem"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(problem.contains("expired"), "{shown}");
    let earlier = env.run_at(
        "2026-01-15T00:00:00Z",
        &["member", "show", who::EXPIRED_SUBKEY, "--json"],
    );
    let earlier: serde_json::Value = serde_json::from_str(&earlier.stdout).expect("json");
    assert_eq!(
        earlier["certificate"]["encryption_keys"][0]["expires"],
        "2026-01-31T00:00:00Z"
    );
}
