//! One test's world and the real `embargo` binary run in it.
//!
//! Each test gets a temp folder, a config and a fixed clock
//! (`EMBARGO_TEST_NOW`); helpers run the binary and read the real SQLite
//! file with `sqlite3`, or, when the suite runs on PostgreSQL, the test's
//! own database with `psql` (see [`super::store`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tempfile::TempDir;

use super::store::{self, TestDatabase};
use super::{keys, who};

/// The instant every test runs at (`EMBARGO_TEST_NOW`).
pub const NOW: &str = "2026-06-01T12:00:00Z";

/// One test's world: a temp folder, a config, a fixed clock.
pub struct Env {
    pub dir: TempDir,
    pub config: PathBuf,
    /// The test's own PostgreSQL database when the suite runs on one.
    pub db: Option<TestDatabase>,
}

impl Env {
    /// A fresh folder with the standard test config.
    pub fn new() -> Self {
        Self::with_config("")
    }

    /// A fresh folder whose config names the PostgreSQL database `db`
    /// (on a server the test runs itself) and has `extra` appended.
    pub fn on_server(db: TestDatabase, extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("embargo.toml");
        std::fs::write(
            &config,
            format!(
                "[list]\naddress = \"security-announce@project.example\"\nname = \"Test list\"\n{}\n[storage]\ndata_dir = \"var\"\n{extra}",
                db.config()
            ),
        )
        .expect("write config");
        Self {
            dir,
            config,
            db: Some(db),
        }
    }

    /// A fresh folder whose config has `extra` appended (on PostgreSQL,
    /// with the `[store] url` of a fresh database before `[storage]`, so
    /// what tests append still lands in `[storage]`).
    pub fn with_config(extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("embargo.toml");
        let db = store::database();
        let store = db.as_ref().map(TestDatabase::config).unwrap_or_default();
        std::fs::write(
            &config,
            format!(
                "[list]\naddress = \"security-announce@project.example\"\nname = \"Test list\"\n{store}\n[storage]\ndata_dir = \"var\"\n{extra}"
            ),
        )
        .expect("write config");
        Self { dir, config, db }
    }

    /// Whether this test runs on PostgreSQL.
    pub fn on_postgres(&self) -> bool {
        self.db.is_some()
    }

    /// The database file (SQLite only; on PostgreSQL nothing is there).
    pub fn database(&self) -> PathBuf {
        self.dir.path().join("var/embargo.sqlite")
    }

    /// The list key file.
    pub fn key_file(&self) -> PathBuf {
        self.dir.path().join("var/list-key.asc")
    }

    /// Writes `bytes` to a file in the test folder and returns its path.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write file");
        path
    }

    /// Writes the fixture certificate of `email` to a file.
    pub fn cert_file(&self, email: &str) -> PathBuf {
        self.file(&format!("{email}.asc"), keys().public(email))
    }

    /// The `embargo` binary, set up for this test.
    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_embargo"));
        command
            .current_dir(self.dir.path())
            .env("EMBARGO_CONFIG", &self.config)
            .env("EMBARGO_TEST_NOW", NOW)
            .env_remove("EMBARGO_LOG");
        command
    }

    /// Runs `embargo ARGS` and returns what happened.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_at(NOW, args)
    }

    /// Runs `embargo ARGS` with the clock at `now` instead of [`NOW`].
    pub fn run_at(&self, now: &str, args: &[&str]) -> Run {
        let output = self
            .command()
            .env("EMBARGO_TEST_NOW", now)
            .args(args)
            .output()
            .expect("run embargo");
        Run {
            args: args.iter().map(ToString::to_string).collect(),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs `embargo ARGS` and insists that it succeeds.
    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(
            run.code, 0,
            "embargo {:?} failed:\n{}\n{}",
            run.args, run.stdout, run.stderr
        );
        run
    }

    /// `embargo init` with Alice as admin and committer.
    pub fn init(&self) {
        self.init_at(NOW);
    }

    /// [`Env::init`] with the clock at `at`.
    pub fn init_at(&self, at: &str) {
        let key = self.cert_file(who::ALICE);
        let run = self.run_at(
            at,
            &[
                "init",
                "--admin",
                who::ALICE,
                "--name",
                "Alice Admin",
                "--org",
                "Project",
                "--key",
                path(&key),
                "--role",
                "committer",
            ],
        );
        assert_eq!(
            run.code, 0,
            "embargo init failed:\n{}\n{}",
            run.stdout, run.stderr
        );
    }

    /// Adds `email` (with its fixture cert) sponsored by `sponsor`, and
    /// returns the confirmation token.
    pub fn add(&self, email: &str, sponsor: &str, extra: &[&str]) -> String {
        let key = self.cert_file(email);
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
            path(&key),
            "--sponsor",
            sponsor,
            "--json",
        ];
        args.extend_from_slice(extra);
        let run = self.ok(&args);
        let value: serde_json::Value =
            serde_json::from_str(&run.stdout).expect("member add --json");
        value["confirmation_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// Adds and confirms `email`, sponsored by `sponsor`.
    pub fn add_active(&self, email: &str, sponsor: &str, extra: &[&str]) {
        let token = self.add(email, sponsor, extra);
        self.ok(&["member", "confirm", email, "--token", &token]);
    }

    /// `advisory new ID` with product `p`, a one-line body and disclosure
    /// at 2026-06-09 14:00 UTC (eight days after [`NOW`]).
    pub fn draft(&self, id: &str, title: &str, severity: &str) {
        let body = self.file("body.md", b"Details.\n");
        self.ok(&[
            "advisory",
            "new",
            id,
            "--title",
            title,
            "--severity",
            severity,
            "--product",
            "p",
            "--body",
            path(&body),
            "--disclose-at",
            "2026-06-09T14:00:00Z",
        ]);
    }

    /// Runs SQL with the `sqlite3` command-line shell on the database, or
    /// with `psql` on PostgreSQL (which prints rows the same way).
    pub fn sql(&self, statement: &str) -> String {
        if let Some(db) = &self.db {
            return store::psql(db.url(), statement);
        }
        // The daemon or a CLI may be mid-write or mid-checkpoint: wait for
        // the lock as embargo itself does, rather than fail the test.
        let out = Command::new("sqlite3")
            .args(["-cmd", ".timeout 5000"])
            .arg(self.database())
            .arg(statement)
            .output()
            .expect("run sqlite3 (scripts/test installs it)");
        assert!(
            out.status.success(),
            "sqlite3 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// SQL for the text of `key` in the JSON object stored in `column`:
    /// the two stores spell it differently.
    pub fn json_text(&self, column: &str, key: &str) -> String {
        if self.on_postgres() {
            format!("({column}::json ->> '{key}')")
        } else {
            format!("json_extract({column}, '$.{key}')")
        }
    }

    /// The column that orders a table only ever inserted into by insertion
    /// (SQLite's rowid; a PostgreSQL row's place in its table).
    pub fn insertion_order(&self) -> &'static str {
        if self.on_postgres() { "ctid" } else { "rowid" }
    }

    /// SQL for the integer `expr` as decimal digits zero-padded to `width`.
    pub fn zero_padded(&self, expr: &str, width: usize) -> String {
        if self.on_postgres() {
            format!("lpad(CAST({expr} AS TEXT), {width}, '0')")
        } else {
            format!("printf('%0{width}d', {expr})")
        }
    }

    /// SQL for the blob `expr` as hexadecimal digits.
    pub fn hex(&self, expr: &str) -> String {
        if self.on_postgres() {
            format!("encode({expr}, 'hex')")
        } else {
            format!("hex({expr})")
        }
    }

    /// A full dump of the database, to prove that nothing changed.
    pub fn dump(&self) -> String {
        if let Some(db) = &self.db {
            return db.dump();
        }
        if !self.database().exists() {
            return String::new();
        }
        self.sql(".dump")
    }

    /// The members as `member list --json` prints them.
    pub fn members(&self) -> Vec<serde_json::Value> {
        let run = self.ok(&["member", "list", "--json"]);
        serde_json::from_str(&run.stdout).expect("member list --json")
    }

    /// One member as `member show --json` prints it.
    pub fn show(&self, email: &str) -> serde_json::Value {
        let run = self.ok(&["member", "show", email, "--json"]);
        serde_json::from_str(&run.stdout).expect("member show --json")
    }
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts a failure with exit status 1 whose message holds `needle`.
    pub fn fails_with(&self, needle: &str) {
        assert_eq!(
            self.code, 1,
            "embargo {:?} should fail with 1:\n{}\n{}",
            self.args, self.stdout, self.stderr
        );
        assert!(
            self.stderr.to_lowercase().contains(&needle.to_lowercase()),
            "embargo {:?}: stderr does not mention {needle:?}:\n{}",
            self.args,
            self.stderr
        );
        assert!(
            self.stderr.starts_with("error: "),
            "no error line: {}",
            self.stderr
        );
    }
}

/// A path as `&str` for argument lists.
pub fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// Starts `embargo ingest` with `message` written to its stdin (then
/// closed); stdout is discarded, stderr goes to `stderr`.
pub fn spawn_ingest(env: &Env, message: &[u8], stderr: Stdio) -> std::process::Child {
    use std::io::Write as _;
    let mut child = env
        .command()
        .arg("ingest")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("run embargo ingest");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(message)
        .expect("write the message");
    child
}

/// `embargo ingest` with `message` on stdin; returns the exit status and
/// fails the test if the program panicked.
pub fn ingest(env: &Env, message: &[u8]) -> i32 {
    let out = spawn_ingest(env, message, Stdio::piped())
        .wait_with_output()
        .expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "ingest panicked: {stderr}");
    out.status.code().unwrap_or(-1)
}
