//! Which store the suite runs on, and a fresh PostgreSQL database per test.
//!
//! `EMBARGO_TEST_STORE=postgres` runs every test against the PostgreSQL
//! server `EMBARGO_TEST_POSTGRES` names (an admin URL; `scripts/test`
//! starts a throwaway cluster and sets both). Each test then gets its own
//! database, created through `psql` and dropped (connections and all) when
//! the test's world is dropped. Without the variable the tests use the
//! SQLite file, as they always have.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use super::Env;

/// Whether this run uses PostgreSQL.
pub fn postgres() -> bool {
    std::env::var("EMBARGO_TEST_STORE").is_ok_and(|store| store == "postgres")
}

/// The admin URL of the test cluster.
pub fn admin_url() -> String {
    std::env::var("EMBARGO_TEST_POSTGRES")
        .expect("EMBARGO_TEST_STORE=postgres needs EMBARGO_TEST_POSTGRES (scripts/test sets both)")
}

/// `url` with its database name replaced by `name`.
pub fn url_with_database(url: &str, name: &str) -> String {
    let (base, _) = url
        .rsplit_once('/')
        .expect("the admin URL names a database");
    format!("{base}/{name}")
}

/// Runs `sql` through `psql` on `url` and answers its output, rows as
/// `a|b` lines like the sqlite3 shell prints them. Fails the test on an
/// error.
pub fn psql(url: &str, sql: &str) -> String {
    let mut child = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-F",
            "|",
            "-v",
            "ON_ERROR_STOP=1",
            "-f",
            "-",
        ])
        .arg(url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run psql (scripts/test installs postgresql)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(sql.as_bytes())
        .expect("write SQL to psql");
    let out = child.wait_with_output().expect("wait for psql");
    assert!(
        out.status.success(),
        "psql failed on {sql:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One test's own PostgreSQL database, dropped with it (unless it is on
/// a server of the test's own, see [`TestDatabase::on`]).
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    /// Whether it lives in the shared cluster and is dropped from there.
    shared: bool,
}

impl TestDatabase {
    /// A new empty database with a name no other test of any run uses.
    pub fn create() -> Self {
        let db = Self::named();
        psql(&admin_url(), &format!("CREATE DATABASE {}", db.name));
        db
    }

    /// A name (and URL) no other test of any run uses, not yet created.
    fn named() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "embargo_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let url = url_with_database(&admin_url(), &name);
        Self {
            name,
            url,
            shared: true,
        }
    }

    /// The database at `url` on a server the test runs itself (see
    /// `common::cluster`), which goes with that server.
    pub fn on(url: &str) -> Self {
        Self {
            name: String::new(),
            url: url.to_owned(),
            shared: false,
        }
    }

    /// A new database holding a copy of `template`'s (which nothing may
    /// be connected to), for tests that copy one prepared list.
    pub fn copy_of(template: &TestDatabase) -> Self {
        let copy = Self::named();
        psql(
            &admin_url(),
            &format!("CREATE DATABASE {} TEMPLATE {}", copy.name, template.name),
        );
        copy
    }

    /// The URL a `[store] url` names.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The config lines that point a list at this database.
    pub fn config(&self) -> String {
        format!("\n[store]\nurl = \"{}\"\n", self.url)
    }

    /// The data as `INSERT` lines in a stable order, without what changes
    /// when nothing was stored (sequence positions move even for a
    /// transaction that rolled back; comments and settings).
    pub fn dump(&self) -> String {
        let out = Command::new("pg_dump")
            .args(["--data-only", "--inserts", "--no-owner", "--dbname"])
            .arg(&self.url)
            .output()
            .expect("run pg_dump (scripts/test installs postgresql)");
        assert!(
            out.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines: Vec<&str> = text
            .lines()
            .filter(|line| line.starts_with("INSERT INTO "))
            .collect();
        lines.sort_unstable();
        lines.join("\n")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if !self.shared {
            return;
        }
        // A daemon a failed test left running may still be connected:
        // FORCE ends its connections. Errors are not fatal here (a panic
        // while unwinding would abort the whole run).
        let _ = Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .arg(admin_url())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A fresh database when this run uses PostgreSQL, else `None`.
pub fn database() -> Option<TestDatabase> {
    postgres().then(TestDatabase::create)
}

/// The first key of the advisory lock every PostgreSQL write transaction
/// of embargo takes (`store::WRITE_LOCK`); the second is the list's id,
/// and a test's first list is 1.
const WRITE_LOCK: i32 = 0x656d_6261;

/// Another process (an operator's shell) holding the database's write
/// lock the way embargo's own writers take it: `BEGIN IMMEDIATE` in the
/// sqlite3 shell, or the writers' advisory lock in a `psql` transaction.
pub struct WriteLock {
    shell: Child,
}

impl WriteLock {
    /// Takes the lock; returns once it is held.
    pub fn take(env: &Env) -> Self {
        let (mut shell, take) = match &env.db {
            Some(db) => (
                Command::new("psql")
                    .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
                    .arg(db.url())
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("psql"),
                format!(
                    "BEGIN; SELECT 'locked' FROM (SELECT pg_advisory_xact_lock({WRITE_LOCK}, 1)) AS l;"
                ),
            ),
            None => (
                Command::new("sqlite3")
                    .arg(env.database())
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("sqlite3"),
                "BEGIN IMMEDIATE; SELECT 'locked';".to_owned(),
            ),
        };
        let stdin = shell.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{take}").expect("lock");
        stdin.flush().expect("flush");
        let mut line = String::new();
        BufReader::new(shell.stdout.as_mut().expect("stdout"))
            .read_line(&mut line)
            .expect("locked");
        assert_eq!(line.trim(), "locked");
        Self { shell }
    }

    /// Rolls back and ends the shell; answers whether it exited cleanly.
    pub fn release(mut self) -> bool {
        if let Some(mut stdin) = self.shell.stdin.take() {
            writeln!(stdin, "ROLLBACK;").expect("unlock");
        }
        self.shell.wait().is_ok_and(|status| status.success())
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        let _ = self.shell.kill();
        let _ = self.shell.wait();
    }
}
