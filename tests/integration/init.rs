//! `embargo init`, `key export`, file modes and the demo.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::common::{Env, keys, path, who};

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
}

#[test]
fn init_creates_a_private_database_and_key_and_the_first_admin() {
    let env = Env::new();
    env.init();
    // On PostgreSQL there is no database file; the server keeps the data.
    if !env.on_postgres() {
        assert_eq!(mode(&env.database()), 0o600, "database mode");
    }
    assert_eq!(mode(&env.key_file()), 0o600, "key file mode");
    assert_eq!(mode(&env.dir.path().join("var")), 0o700, "data folder mode");
    for entry in std::fs::read_dir(env.dir.path().join("var")).expect("list var") {
        let entry = entry.expect("entry");
        assert_eq!(
            mode(&entry.path()) & 0o077,
            0,
            "{} is readable by others",
            entry.path().display()
        );
    }
    let members = env.members();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["email"], who::ALICE);
    assert_eq!(members[0]["status"], "active");
    assert_eq!(
        members[0]["roles"],
        serde_json::json!(["admin", "committer"])
    );
    assert_eq!(members[0]["sponsor"], serde_json::Value::Null);
}

#[test]
fn the_list_key_is_v4_ed25519_with_a_cv25519_subkey_and_both_addresses() {
    let env = Env::new();
    env.init();
    let export = env.ok(&["key", "export"]);
    assert!(
        export
            .stdout
            .starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    );
    assert!(
        !export.stdout.contains("PRIVATE KEY"),
        "export leaked the secret key"
    );
    let cert = env.file("list.asc", export.stdout.as_bytes());
    let out = Command::new("gpg")
        .args(["--batch", "--with-colons", "--show-keys"])
        .arg(&cert)
        .output()
        .expect("gpg --show-keys");
    let listing = String::from_utf8_lossy(&out.stdout);
    let pub_line = listing
        .lines()
        .find(|l| l.starts_with("pub:"))
        .expect("pub line");
    let fields: Vec<&str> = pub_line.split(':').collect();
    assert_eq!(fields[3], "22", "primary is EdDSA: {pub_line}");
    assert!(
        fields[11].contains('s') && fields[11].contains('c'),
        "primary certifies and signs: {pub_line}"
    );
    let sub_line = listing
        .lines()
        .find(|l| l.starts_with("sub:"))
        .expect("sub line");
    let sub: Vec<&str> = sub_line.split(':').collect();
    assert_eq!(sub[3], "18", "subkey is ECDH: {sub_line}");
    assert_eq!(sub[16], "cv25519", "{sub_line}");
    assert!(
        listing.contains("<security-announce@project.example>"),
        "{listing}"
    );
    assert!(
        listing.contains("<security-announce-request@project.example>"),
        "{listing}"
    );
    let packets = Command::new("gpg")
        .args(["--batch", "--list-packets"])
        .arg(&cert)
        .output()
        .expect("gpg --list-packets");
    let packets = String::from_utf8_lossy(&packets.stdout);
    assert!(packets.contains("version 4"), "{packets}");
}

#[test]
fn init_can_import_a_list_key() {
    let env = Env::new();
    let admin = env.cert_file(who::ALICE);
    let list_key = env.file("imported.asc", keys().secret(who::FRANK));
    env.ok(&[
        "init",
        "--admin",
        who::ALICE,
        "--name",
        "Alice",
        "--org",
        "Project",
        "--key",
        path(&admin),
        "--import-key",
        path(&list_key),
    ]);
    let export = env.ok(&["key", "export"]);
    let listing = Command::new("gpg")
        .args(["--batch", "--with-colons", "--show-keys"])
        .arg(env.file("list.asc", export.stdout.as_bytes()))
        .output()
        .expect("gpg --show-keys");
    assert!(String::from_utf8_lossy(&listing.stdout).contains(who::FRANK));
}

#[test]
fn importing_a_public_certificate_as_the_list_key_is_refused() {
    let env = Env::new();
    let admin = env.cert_file(who::ALICE);
    let public = env.cert_file(who::FRANK);
    let run = env.run(&[
        "init",
        "--admin",
        who::ALICE,
        "--name",
        "Alice",
        "--org",
        "Project",
        "--key",
        path(&admin),
        "--import-key",
        path(&public),
    ]);
    run.fails_with("secret signing key");
    assert!(!env.database().exists());
    assert!(!env.key_file().exists());
}

#[test]
fn init_with_a_passphrase_protects_the_key_file() {
    let env = Env::with_config("\n[list_key]\npassphrase = { env = \"TEST_LIST_PASSPHRASE\" }\n");
    let admin = env.cert_file(who::ALICE);
    let out = env
        .command()
        .env("TEST_LIST_PASSPHRASE", "correct horse battery staple")
        .args([
            "init",
            "--admin",
            who::ALICE,
            "--name",
            "Alice",
            "--org",
            "Project",
            "--key",
            path(&admin),
        ])
        .output()
        .expect("run embargo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let packets = Command::new("gpg")
        .args(["--batch", "--list-packets"])
        .arg(env.key_file())
        .output()
        .expect("gpg --list-packets");
    let packets = String::from_utf8_lossy(&packets.stdout);
    assert!(
        packets.contains("protect"),
        "secret key material is not encrypted:\n{packets}"
    );
    let missing = env.run(&[
        "init",
        "--admin",
        who::ALICE,
        "--name",
        "Alice",
        "--org",
        "Project",
        "--key",
        path(&admin),
    ]);
    missing.fails_with("already exists");
}

#[test]
fn the_demo_runs_end_to_end() {
    let env = Env::new();
    let run = env.ok(&["demo"]);
    assert!(
        run.stdout.contains("security@distro.example"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("intact"), "{}", run.stdout);
    assert!(run.stdout.contains("active"), "{}", run.stdout);
}

#[test]
fn help_shows_an_example_for_every_member_verb() {
    let env = Env::new();
    for verb in [
        "add", "list", "show", "confirm", "suspend", "resume", "remove", "set-key", "grant",
        "revoke", "sponsor",
    ] {
        let run = env.ok(&["member", verb, "--help"]);
        assert!(
            run.stdout.contains("Example:"),
            "member {verb} --help has no example"
        );
    }
}

#[test]
fn usage_errors_exit_with_2() {
    let env = Env::new();
    for args in [
        vec!["member"],
        vec!["member", "frobnicate"],
        vec!["member", "add"],
        vec!["bogus"],
    ] {
        let run = env.run(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
    }
}

#[test]
fn the_example_config_is_valid_and_documents_every_section() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config/embargo.example.toml");
    let text = std::fs::read_to_string(example).expect("example config");
    for key in [
        "address",
        "request_address",
        "data_dir",
        "database",
        "busy_timeout_ms",
        "file",
        "passphrase",
        "confirm_token_ttl_hours",
        "max_days",
        "min_notice_hours",
        "warn_weekend",
        "friday_cutoff_hour",
        "outer_subject",
        "public_addresses",
        "templates_dir",
        "min_rsa_bits",
        "host",
        "tls",
        "username",
        "password",
        "maildir",
        "concurrency",
        "retry_first",
        "retry_max",
        "give_up_after",
        "uncertain",
        "timeout",
        "seal_ahead",
        "reminder_before",
        "lease",
        "clock_tolerance",
        "publisher_namespace",
        "key_expiry_check",
        "key_expiry_warn_days",
        "max_bytes",
        "max_depth",
        "max_parts",
        "signature_max_age",
        "future_skew",
        "bounce_threshold",
        "bounce_secret",
        "url",
    ] {
        assert!(
            text.contains(&format!("{key} =")),
            "the example does not document {key}"
        );
    }
    let env = Env::new();
    let copy = env.file("example.toml", text.as_bytes());
    let out = env
        .command()
        .env("EMBARGO_CONFIG", &copy)
        .args(["member", "list"])
        .output()
        .expect("run embargo");
    // The example parses; it fails only because no list was made yet.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("run `embargo init` first"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn without_flag_or_variable_the_config_comes_from_config_embargo_toml() {
    let env = Env::new();
    env.init();
    std::fs::create_dir(env.dir.path().join("config")).expect("config folder");
    let text = std::fs::read_to_string(&env.config)
        .expect("config")
        .replace("data_dir = \"var\"", "data_dir = \"../var\"");
    std::fs::write(env.dir.path().join("config/embargo.toml"), text).expect("write config");
    let out = env
        .command()
        .env_remove("EMBARGO_CONFIG")
        .args(["member", "list", "--json"])
        .output()
        .expect("run embargo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(who::ALICE));
    // --config wins over the variable.
    let out = env
        .command()
        .env("EMBARGO_CONFIG", env.dir.path().join("nope.toml"))
        .arg("--config")
        .arg(&env.config)
        .args(["member", "list"])
        .output()
        .expect("run embargo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn info_logs_do_not_name_members() {
    let env = Env::new();
    env.init();
    let key = env.cert_file(who::DAVE);
    let out = env
        .command()
        .env("EMBARGO_LOG", "info")
        .args([
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
        ])
        .output()
        .expect("run embargo");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("added a pending member"), "{stderr}");
    assert!(
        !stderr.contains("dave@") && !stderr.contains("alice@"),
        "an address leaked into info logs: {stderr}"
    );
}
