//! Several lists in one test's instance: making them, working on one by
//! name, mail to one by its envelope recipient, and one list's rows as text.
//!
//! [`dump_list`] reads with plain `SELECT`s only (no `printf`, no sqlite3
//! dot-commands), so the same proof that a list did not change can run on
//! PostgreSQL through [`Env::sql`].

use std::path::Path;

use super::{Env, Run, path};

/// An instance whose `[list]` (the one `init` makes) is `alpha`.
pub fn instance() -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("embargo.toml");
    let db = super::store::database();
    let store = db
        .as_ref()
        .map(super::store::TestDatabase::config)
        .unwrap_or_default();
    std::fs::write(
        &config,
        format!(
            "[list]\naddress = \"alpha@project.example\"\nname = \"Alpha list\"\n{store}\n[storage]\ndata_dir = \"var\"\n"
        ),
    )
    .expect("write config");
    Env { dir, config, db }
}

/// A copy of `env`'s whole folder (config, database, keys) as an
/// instance of its own: a change tried there proves that arguments are
/// valid without touching `env`.
pub fn copy(env: &Env) -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_tree(env.dir.path(), dir.path());
    let config = dir.path().join("embargo.toml");
    // On PostgreSQL the copy gets a database of its own, copied from the
    // original's, and its config names it.
    let db = env.db.as_ref().map(|original| {
        let copy = super::store::TestDatabase::copy_of(original);
        let text = std::fs::read_to_string(&config).expect("read the copied config");
        std::fs::write(&config, text.replace(original.url(), copy.url()))
            .expect("write the copied config");
        copy
    });
    Env { dir, config, db }
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            std::fs::create_dir_all(&target).expect("make dir");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// `embargo list create NAME --address ADDRESS` with `admin` (and its
/// fixture certificate) as the first admin; `extra` is appended.
pub fn create(env: &Env, name: &str, address: &str, admin: &str, extra: &[&str]) -> Run {
    let key = env.cert_file(admin);
    let mut args = vec![
        "list",
        "create",
        name,
        "--address",
        address,
        "--admin",
        admin,
        "--name",
        "First Admin",
        "--org",
        "Project",
        "--key",
    ];
    args.push(path(&key));
    args.extend_from_slice(extra);
    env.run(&args)
}

/// `embargo --list LIST ARGS`.
pub fn on(env: &Env, list: &str, args: &[&str]) -> Run {
    let mut all = vec!["--list", list];
    all.extend_from_slice(args);
    env.run(&all)
}

/// [`on`], insisting that it succeeds.
pub fn ok_on(env: &Env, list: &str, args: &[&str]) -> Run {
    let run = on(env, list, args);
    assert_eq!(
        run.code, 0,
        "embargo {:?} failed:\n{}\n{}",
        run.args, run.stdout, run.stderr
    );
    run
}

/// Adds `email` (its fixture certificate) to `list`, sponsored by
/// `sponsor`; `extra` is appended (`--role`, `--by`). Returns the
/// confirmation token.
pub fn add(env: &Env, list: &str, email: &str, sponsor: &str, extra: &[&str]) -> String {
    let key = env.cert_file(email);
    let mut args = vec![
        "member",
        "add",
        email,
        "--name",
        "Test Member",
        "--org",
        "Org",
        "--kind",
        "vendor",
        "--key",
    ];
    args.push(path(&key));
    args.extend_from_slice(&["--sponsor", sponsor, "--json"]);
    args.extend_from_slice(extra);
    let run = ok_on(env, list, &args);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).expect("member add --json");
    value["confirmation_token"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// Adds and confirms `email` on `list`.
pub fn add_active(env: &Env, list: &str, email: &str, sponsor: &str, extra: &[&str]) {
    let token = add(env, list, email, sponsor, extra);
    ok_on(env, list, &["member", "confirm", email, "--token", &token]);
}

/// `embargo ingest --recipient RECIPIENT` with `message` on stdin: the
/// exit status (the test fails if the program panicked).
pub fn ingest_to(env: &Env, recipient: &str, message: &[u8]) -> i32 {
    let (code, printed) = super::team::ingest_with(env, &[], recipient, message);
    assert!(!printed.contains("panicked"), "ingest panicked: {printed}");
    if code != 0 {
        eprintln!("embargo ingest --recipient {recipient} exited {code}: {printed}");
    }
    code
}

/// The tables holding a list's own rows (`list_id`), each with the
/// columns that order it.
const OWN_TABLES: &[(&str, &str)] = &[
    ("members", "id"),
    ("member_keys", "fingerprint"),
    ("retired_member_keys", "fingerprint"),
    ("advisories", "id"),
    ("announcements", "id"),
    ("deliveries", "id"),
    ("jobs", "name"),
    ("secrets", "name"),
    ("audit_log", "seq"),
    ("inbound_signatures", "signer, signed_at, digest"),
    ("inbound_commands", "signer, signed_at, digest, idx"),
    ("cases", "id"),
];

/// The tables whose rows hang off a parent row of a list: (table, column
/// naming the parent, parent table, order).
const CHILD_TABLES: &[(&str, &str, &str, &str)] = &[
    ("member_certs", "member_id", "members", "member_id"),
    (
        "advisory_revisions",
        "advisory_id",
        "advisories",
        "advisory_id, revision",
    ),
    (
        "acks",
        "advisory_id",
        "advisories",
        "advisory_id, member_id",
    ),
    ("exports", "advisory_id", "advisories", "advisory_id"),
    ("case_clock", "case_id", "cases", "case_id, step"),
    ("case_messages", "case_id", "cases", "id"),
    ("case_participants", "case_id", "cases", "id"),
];

/// Every row of the list `name` across every table, ordered, as text: two
/// dumps are equal exactly when nothing of the list changed.
pub fn dump_list(env: &Env, name: &str) -> String {
    assert!(
        name.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')),
        "not a list name: {name}"
    );
    let list = format!("(SELECT id FROM lists WHERE name = '{name}')");
    let mut out = format!(
        "== lists\n{}",
        env.sql(&format!("SELECT * FROM lists WHERE name = '{name}'"))
    );
    for (table, order) in OWN_TABLES {
        let rows = env.sql(&format!(
            "SELECT * FROM {table} WHERE list_id = {list} ORDER BY {order}"
        ));
        out.push_str(&format!("== {table}\n{rows}"));
    }
    for (table, column, parent, order) in CHILD_TABLES {
        let rows = env.sql(&format!(
            "SELECT * FROM {table} WHERE {column} IN (SELECT id FROM {parent} WHERE list_id = {list}) ORDER BY {order}"
        ));
        out.push_str(&format!("== {table}\n{rows}"));
    }
    out
}
