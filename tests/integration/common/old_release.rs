//! The previous release's one-list database, restored for today's binary.
//!
//! `tests/fixtures/single-list-v0/` holds what the release before many
//! lists (commit 14fac01) wrote and printed; its `make.sh` says exactly
//! how. [`restore`] puts that database back into a fresh SQLite file, as
//! an operator upgrading in place would have it, with the list key and the
//! config beside it. Nothing here opens it with today's code: the first
//! open (the migration) is the tests' business.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::Env;

/// The fixture folder.
pub const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/single-list-v0");

/// When `make.sh` ran the old binary for the last time.
pub const MADE_UNTIL: &str = "2026-06-03T14:00:30Z";

/// How many migrations the old release had applied.
pub const OLD_MIGRATIONS: u64 = 8;

/// The version of the migration that makes one database many lists.
pub const LISTS_MIGRATION: &str = "20261130100000";

/// The tables the old release had and today's keeps, each with every row
/// it held: a migration that loses or doubles a row shows in their counts.
pub const TABLES: [&str; 15] = [
    "members",
    "member_certs",
    "member_keys",
    "retired_member_keys",
    "audit_log",
    "advisories",
    "advisory_revisions",
    "announcements",
    "deliveries",
    "jobs",
    "secrets",
    "inbound_signatures",
    "inbound_commands",
    "acks",
    "exports",
];

/// Whether this run is on PostgreSQL, where a previous release's SQLite
/// file has nothing to say; says so on stderr.
pub fn skip_on_postgres() -> bool {
    let postgres = std::env::var("EMBARGO_TEST_STORE").is_ok_and(|store| store == "postgres");
    if postgres {
        eprintln!("sqlite only: the fixture is a previous release's SQLite database");
    }
    postgres
}

/// A fixture file's path.
pub fn path(name: &str) -> PathBuf {
    Path::new(DIR).join(name)
}

/// A fixture file's bytes.
pub fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(path(name)).unwrap_or_else(|err| panic!("read fixture {name}: {err}"))
}

/// What the old binary printed into `old/NAME`, as JSON.
pub fn old_json(name: &str) -> serde_json::Value {
    serde_json::from_slice(&bytes(&format!("old/{name}")))
        .unwrap_or_else(|err| panic!("fixture old/{name} is not JSON: {err}"))
}

/// What the old binary printed into `old/NAME`, as text.
pub fn old_text(name: &str) -> String {
    String::from_utf8(bytes(&format!("old/{name}"))).expect("UTF-8 fixture")
}

/// A test folder holding the old release's database (restored from its
/// dump with `sqlite3`), its list key and its config, not yet opened by
/// today's binary.
pub fn restore() -> Env {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    std::fs::copy(path("embargo.toml"), &env.config).expect("copy the config");
    let key = env.key_file();
    std::fs::create_dir_all(key.parent().expect("data dir")).expect("make the data dir");
    std::fs::write(&key, bytes("list-key.asc")).expect("copy the list key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod key");
    let dump = std::fs::File::open(path("list.sql")).expect("open the dump");
    let out = Command::new("sqlite3")
        .arg(env.database())
        .stdin(Stdio::from(dump))
        .output()
        .expect("run sqlite3 (scripts/test installs it)");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "restoring the dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    env
}

/// Runs `sql` with the `sqlite3` shell on the database file at `db`.
pub fn sqlite(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .args(["-cmd", ".timeout 5000"])
        .arg(db)
        .arg(sql)
        .output()
        .expect("run sqlite3");
    assert!(
        out.status.success(),
        "sqlite3 {sql:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The row count of each of [`TABLES`], as one line.
pub fn row_counts(db: &Path) -> String {
    let counts: Vec<String> = TABLES
        .iter()
        .map(|table| format!("(SELECT count(*) FROM {table})"))
        .collect();
    sqlite(db, &format!("SELECT {};", counts.join(" || ' ' || ")))
}

/// How many migrations the database records, and how many of them are
/// [`LISTS_MIGRATION`], as `applied|lists`.
/// How many migrations today's binary applies to an SQLite database: the
/// files in `migrations/sqlite/`.
pub fn all_migrations() -> u64 {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    std::fs::read_dir(dir)
        .expect("migrations/sqlite")
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count() as u64
}

pub fn migrations(db: &Path) -> String {
    sqlite(
        db,
        &format!(
            "SELECT count(*) || '|' || count(CASE WHEN version = {LISTS_MIGRATION} THEN 1 END) \
             FROM _sqlx_migrations;"
        ),
    )
}

/// Asserts that SQLite finds the file sound and every reference resolved.
pub fn assert_sound(db: &Path) {
    assert_eq!(sqlite(db, "PRAGMA integrity_check;"), "ok");
    assert_eq!(sqlite(db, "PRAGMA foreign_key_check;"), "");
}
