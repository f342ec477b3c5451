//! Every kind of bad input: a clear error on stderr, exit status 1, and a
//! database exactly as it was.

use rstest::rstest;

use crate::common::{Env, keys, path, who};

fn add_args<'a>(email: &'a str, name: &'a str, key: &'a str) -> Vec<&'a str> {
    vec![
        "member",
        "add",
        email,
        "--name",
        name,
        "--org",
        "Vendor",
        "--kind",
        "vendor",
        "--key",
        key,
        "--sponsor",
        who::ALICE,
    ]
}

#[rstest]
#[case::missing_key_file("missing", "read key file")]
#[case::key_file_is_a_folder("folder", "read key file")]
#[case::garbage("garbage", "not an OpenPGP certificate")]
#[case::empty_file("empty", "not an OpenPGP certificate")]
#[case::keyring("keyring", "holds 2 certificates")]
fn bad_key_files(#[case] which: &str, #[case] reason: &str) {
    let env = Env::new();
    env.init();
    let key = match which {
        "missing" => env.dir.path().join("no-such-file.asc"),
        "folder" => env.dir.path().join("var"),
        "garbage" => env.file("garbage.asc", b"this is not a key\n\x00\x01\x02\xff"),
        "empty" => env.file("empty.asc", b""),
        "keyring" => {
            let mut both = keys().binary(who::DAVE).to_vec();
            both.extend_from_slice(keys().binary(who::ERIN));
            env.file("keyring.gpg", &both)
        }
        other => panic!("unknown case {other}"),
    };
    let before = env.dump();
    env.run(&add_args(who::DAVE, "Dave", path(&key)))
        .fails_with(reason);
    assert_eq!(env.dump(), before);
}

#[rstest]
#[case::crlf_in_address("dave@vendor.example\r\nBcc: eve@evil.example", "control character")]
#[case::lf_in_address("dave@vendor.example\nx", "control character")]
#[case::no_domain("dave", "no domain")]
#[case::empty_domain("dave@", "no domain")]
#[case::dotless_domain("dave@localhost", "no domain")]
#[case::two_addresses("dave@vendor.example,eve@evil.example", "exactly one @")]
#[case::comma("dave,eve@vendor.example", "not allowed")]
fn bad_addresses(#[case] email: &str, #[case] reason: &str) {
    let env = Env::new();
    env.init();
    let key = env.cert_file(who::DAVE);
    let before = env.dump();
    env.run(&add_args(email, "Dave", path(&key)))
        .fails_with(reason);
    assert_eq!(env.dump(), before);
}

#[test]
fn a_name_with_a_line_break_is_refused() {
    let env = Env::new();
    env.init();
    let key = env.cert_file(who::DAVE);
    let before = env.dump();
    env.run(&add_args(who::DAVE, "Dave\r\nSubject: owned", path(&key)))
        .fails_with("control characters");
    assert_eq!(env.dump(), before);
}

#[test]
fn a_duplicate_address_is_refused_whatever_its_case() {
    let env = Env::new();
    env.init();
    env.add(who::DAVE, who::ALICE, &[]);
    let before = env.dump();
    let other_key = env.cert_file(who::ERIN);
    env.run(&add_args(
        "DAVE@Vendor.Example",
        "Dave again",
        path(&other_key),
    ))
    .fails_with("already on the roster");
    assert_eq!(env.dump(), before);
}

#[test]
fn a_certificate_already_on_the_roster_is_refused() {
    let env = Env::new();
    env.init();
    env.add(who::DAVE, who::ALICE, &[]);
    let before = env.dump();
    let same_key = env.cert_file(who::DAVE);
    env.run(&add_args(
        "dave2@vendor.example",
        "Dave's twin",
        path(&same_key),
    ))
    .fails_with("already registered");
    assert_eq!(env.dump(), before);
}

#[test]
fn init_over_an_existing_list_is_refused() {
    let env = Env::new();
    env.init();
    let before = env.dump();
    let key_before = std::fs::read(env.key_file()).expect("key file");
    let key = env.cert_file(who::BOB);
    env.run(&[
        "init",
        "--admin",
        who::BOB,
        "--name",
        "Bob",
        "--org",
        "Project",
        "--key",
        path(&key),
    ])
    .fails_with("already exists");
    assert_eq!(env.dump(), before);
    assert_eq!(std::fs::read(env.key_file()).expect("key file"), key_before);
}

#[test]
fn a_failed_init_leaves_nothing_behind() {
    let env = Env::new();
    let key = env.cert_file(who::RSA1024);
    env.run(&[
        "init",
        "--admin",
        who::RSA1024,
        "--name",
        "Weak",
        "--org",
        "Vendor",
        "--key",
        path(&key),
    ])
    .fails_with("RSA-1024");
    assert!(!env.database().exists());
    assert!(!env.key_file().exists());
    env.init();
}

#[test]
fn an_unknown_config_key_is_named_and_changes_nothing() {
    let env = Env::new();
    env.init();
    let before = env.dump();
    let good = std::fs::read_to_string(&env.config).expect("config");
    std::fs::write(
        &env.config,
        format!("{good}\n[members]\nconfirm_token_tll_hours = 3\n"),
    )
    .expect("write config");
    let key = env.cert_file(who::DAVE);
    env.run(&add_args(who::DAVE, "Dave", path(&key)))
        .fails_with("confirm_token_tll_hours");
    env.run(&["member", "list"])
        .fails_with("confirm_token_tll_hours");
    std::fs::write(&env.config, format!("{good}\n[mystery]\nx = 1\n")).expect("write config");
    env.run(&["member", "list"]).fails_with("mystery");
    assert_eq!(env.dump(), before);
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let env = Env::new();
    let out = env
        .command()
        .env("EMBARGO_CONFIG", env.dir.path().join("nope.toml"))
        .args(["member", "list"])
        .output()
        .expect("run embargo");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("read config file"));
}

#[test]
fn commands_before_init_say_to_run_init() {
    let env = Env::new();
    env.run(&["member", "list"])
        .fails_with("run `embargo init` first");
    assert!(!env.database().exists(), "a read created the database");
}

#[test]
fn unknown_members_are_named() {
    let env = Env::new();
    env.init();
    let before = env.dump();
    env.run(&["member", "show", "ghost@nowhere.example"])
        .fails_with("no member with address");
    env.run(&["member", "suspend", "ghost@nowhere.example"])
        .fails_with("no member with address");
    env.run(&["member", "remove", "ghost@nowhere.example", "--reason", "x"])
        .fails_with("no member with address");
    assert_eq!(env.dump(), before);
}

/// Regression: logs carried ANSI colour codes when stderr was not a
/// terminal (cron mail, journald). Off a terminal they are plain text.
#[test]
fn logs_off_a_terminal_carry_no_colour_codes() {
    let env = Env::new();
    env.init();
    let out = env
        .command()
        .arg("ingest")
        .env("EMBARGO_LOG", "info")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run embargo ingest");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("dropped"), "a warning was logged: {stderr}");
    assert!(!stderr.contains('\u{1b}'), "colour codes in {stderr:?}");
}
