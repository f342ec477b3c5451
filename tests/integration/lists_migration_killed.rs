//! The migration of a previous release's database, killed part way.
//!
//! SQLite runs the migration in one transaction, so a process killed
//! during it leaves the old release's database, which the next open
//! migrates from the start. The test kills `embargo member list` (whose
//! first open migrates) with SIGKILL after short, increasing times until
//! one run finishes, and reads a copy of the files after each kill.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::Env;
use crate::common::old_release::{
    LISTS_MIGRATION, MADE_UNTIL, OLD_MIGRATIONS, all_migrations, assert_sound, migrations,
    old_json, restore, row_counts, skip_on_postgres, sqlite,
};

/// Rows added to `secrets` (a table the migration rebuilds) so that the
/// migration writes more pages than SQLite's page cache holds: SQLite
/// then spills them into the write-ahead log before the commit, and a
/// kill inside the transaction shows as uncommitted frames in the log.
const PADDING_ROWS: u32 = 20_000;

/// The longest any one attempt may run before it is killed.
const LONGEST: Duration = Duration::from_secs(10);

/// What a killed attempt left.
#[derive(Debug, PartialEq)]
enum Left {
    /// The old release's database, with no trace of the migration.
    Old,
    /// The old database, and in the write-ahead log uncommitted pages of
    /// the migration, which SQLite ignores. The first time this shows,
    /// the attempt just killed wrote them: nothing before the migration
    /// writes more than the log's 32-byte header.
    OldWithUncommittedPages,
    /// The migrated database.
    Migrated,
}

/// How one attempt ended.
struct Attempt {
    finished: bool,
    killed: bool,
    stdout: String,
    stderr: String,
}

/// `embargo member list --json` killed with SIGKILL after `after`.
/// `timeout` sends the signal to its whole process group, itself
/// included, so either it exits 137 or it dies of SIGKILL too.
fn member_list_killed_after(env: &Env, after: Duration) -> Attempt {
    use std::os::unix::process::ExitStatusExt as _;
    let mut command = env.command();
    command.env("EMBARGO_TEST_NOW", MADE_UNTIL);
    let out = Command::new("timeout")
        .args(["-s", "KILL", &format!("{:.3}", after.as_secs_f64())])
        .arg(command.get_program())
        .args(["member", "list", "--json"])
        .envs(command.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .env_remove("EMBARGO_LOG")
        .current_dir(env.dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run timeout (coreutils)");
    Attempt {
        finished: out.status.success(),
        killed: out.status.code() == Some(137) || out.status.signal() == Some(9),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Copies the database with its write-ahead log and its rollback journal
/// (a kill while the first open switches the file to WAL mode leaves a
/// hot journal), those that exist, to `into`, and says how many bytes of
/// write-ahead log there were. Reading the copy leaves the files the next
/// attempt opens as the kill left them.
fn snapshot(db: &Path, into: &Path) -> u64 {
    let _ = std::fs::remove_file(into);
    std::fs::copy(db, into).expect("copy the database");
    let mut wal_bytes = 0;
    for suffix in ["-wal", "-journal"] {
        let (from, to) = (beside(db, suffix), beside(into, suffix));
        let _ = std::fs::remove_file(&to);
        if from.exists() {
            let bytes = std::fs::copy(&from, &to).expect("copy the log");
            if suffix == "-wal" {
                wal_bytes = bytes;
            }
        }
    }
    wal_bytes
}

/// The file SQLite keeps next to the database file `db` (`-wal`,
/// `-journal`).
fn beside(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Reads the copy at `db` (with `wal_bytes` of log): it must be sound and
/// wholly old or wholly migrated, with every row of the old database.
fn judge(db: &Path, wal_bytes: u64, rows: &str) -> Left {
    assert_sound(db);
    assert_eq!(row_counts(db), rows, "rows lost or doubled");
    let tables = sqlite(
        db,
        "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master \
         WHERE type = 'table' AND name IN ('list', 'lists', 'observers') \
         OR name LIKE '%\\_old' ESCAPE '\\' OR name LIKE '%\\_new' ESCAPE '\\' ORDER BY name);",
    );
    match migrations(db).as_str() {
        m if m == format!("{OLD_MIGRATIONS}|0") => {
            assert_eq!(tables, "list", "half a migration");
            // Only the log's 32-byte header is written before the
            // migration; anything more is the migration's own pages.
            if wal_bytes > 32 {
                Left::OldWithUncommittedPages
            } else {
                Left::Old
            }
        }
        // The lists migration and any number of the later ones (each is
        // its own transaction): the next open applies the rest.
        m if (OLD_MIGRATIONS + 1..=all_migrations()).any(|n| m == format!("{n}|1")) => {
            assert_eq!(tables, "lists observers", "half a migration");
            Left::Migrated
        }
        other => panic!("migrations {other}: neither the old nor the migrated database"),
    }
}

/// A kill at any point of the first open leaves the old release's
/// database (or, after the commit, the migrated one), never half of each;
/// the next open migrates it, once, and reads the old members.
#[test]
fn a_migration_killed_part_way_leaves_the_old_database_for_the_next_open() {
    if skip_on_postgres() {
        return;
    }
    let env = restore();
    let db = env.database();
    sqlite(
        &db,
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {PADDING_ROWS}) \
             INSERT INTO secrets (name, value) SELECT 'padding-' || i, hex(randomblob(100)) FROM n;"
        ),
    );
    let rows = row_counts(&db);
    let copy = env.dir.path().join("copy.sqlite");
    let mut left = Vec::new();
    let mut after = Duration::from_millis(5);
    let members = loop {
        assert!(after < LONGEST, "no attempt finished; kills left {left:?}");
        let attempt = member_list_killed_after(&env, after);
        let wal_bytes = snapshot(&db, &copy);
        let state = judge(&copy, wal_bytes, &rows);
        if attempt.finished {
            assert_eq!(state, Left::Migrated);
            break attempt.stdout;
        }
        assert!(
            attempt.killed,
            "embargo failed rather than being killed: {}",
            attempt.stderr
        );
        left.push(state);
        after += Duration::from_millis(5);
    };
    eprintln!("kills left: {left:?}");
    assert!(
        left.contains(&Left::OldWithUncommittedPages),
        "no kill landed inside the migration: {left:?}"
    );
    let members: serde_json::Value = serde_json::from_str(&members).expect("member list --json");
    assert_eq!(members, old_json("members.json"));
    assert_sound(&db);
    assert_eq!(row_counts(&db), rows);
    assert_eq!(
        sqlite(
            &db,
            &format!("SELECT count(*) FROM _sqlx_migrations WHERE version = {LISTS_MIGRATION};")
        ),
        "1"
    );
}
