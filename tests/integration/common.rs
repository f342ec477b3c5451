//! The test harness: a temp folder with a config for each test, a fixed
//! clock, certificates made by GnuPG the way members make them, and helpers
//! to run the real `embargo` binary and read the real SQLite file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use tempfile::TempDir;

/// The instant every test runs at (`EMBARGO_TEST_NOW`).
pub const NOW: &str = "2026-06-01T12:00:00Z";

/// When GnuPG made the fixture keys (`--faked-system-time`).
const KEYS_MADE_AT: &str = "20260101T000000!";

/// The addresses of the fixture certificates and how each was made.
pub mod who {
    pub const ALICE: &str = "alice@project.example";
    pub const BOB: &str = "bob@project.example";
    pub const CAROL: &str = "carol@advisor.example";
    pub const DAVE: &str = "dave@vendor.example";
    pub const ERIN: &str = "erin@distro.example";
    pub const FRANK: &str = "frank@user.example";
    pub const RSA2048: &str = "rsa2048@vendor.example";
    pub const RSA1024: &str = "rsa1024@vendor.example";
    pub const RSA1024_SUBKEY: &str = "rsa1024sub@vendor.example";
    pub const EXPIRED_SUBKEY: &str = "expired@vendor.example";
    /// Encryption subkey valid until 2026-06-10, nine days after [`NOW`].
    pub const EXPIRING_SUBKEY: &str = "expiring@vendor.example";
    pub const REVOKED_SUBKEY: &str = "revoked@vendor.example";
    pub const NO_ENCRYPTION: &str = "signonly@vendor.example";
    pub const SHA1_BINDINGS: &str = "sha1@vendor.example";
    pub const SHA1_SUBKEY: &str = "sha1sub@vendor.example";
    pub const CERTIFIED: &str = "certified@vendor.example";
}

/// Certificates made once per test run by GnuPG, keyed by address.
pub struct Keys {
    public: HashMap<&'static str, Vec<u8>>,
    binary: HashMap<&'static str, Vec<u8>>,
    secret: HashMap<&'static str, Vec<u8>>,
}

impl Keys {
    /// The armored public certificate for `email`.
    pub fn public(&self, email: &str) -> &[u8] {
        self.public
            .get(email)
            .unwrap_or_else(|| panic!("no fixture key for {email}"))
    }

    /// The binary public certificate for `email`.
    pub fn binary(&self, email: &str) -> &[u8] {
        self.binary
            .get(email)
            .unwrap_or_else(|| panic!("no fixture key for {email}"))
    }

    /// The armored secret key for `email` (exported without passphrase).
    pub fn secret(&self, email: &str) -> &[u8] {
        self.secret
            .get(email)
            .unwrap_or_else(|| panic!("no fixture key for {email}"))
    }
}

/// The fixture keys, made on first use.
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(make_keys)
}

fn gpg(home: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new("gpg")
        .arg("--homedir")
        .arg(home)
        .args([
            "--batch",
            "--yes",
            "--no-tty",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ])
        .args(["--faked-system-time", KEYS_MADE_AT])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run gpg (scripts/test installs GnuPG)");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write to gpg");
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().expect("wait for gpg");
    assert!(
        out.status.success(),
        "gpg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn fingerprint(home: &Path, email: &str) -> String {
    let out = gpg(home, &["--with-colons", "--list-keys", email], None);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|line| line.starts_with("fpr:"))
        .and_then(|line| line.split(':').nth(9))
        .expect("fingerprint line")
        .to_owned()
}

fn make_keys() -> Keys {
    use who::*;
    let home = tempfile::tempdir().expect("GnuPG home");
    let h = home.path();
    let uid = |email: &str| format!("Test Member <{email}>");
    let standard = |email: &str| {
        gpg(
            h,
            &[
                "--quick-gen-key",
                &uid(email),
                "ed25519",
                "cert,sign",
                "never",
            ],
            None,
        );
        let fpr = fingerprint(h, email);
        gpg(
            h,
            &["--quick-add-key", &fpr, "cv25519", "encr", "never"],
            None,
        );
        fpr
    };
    for email in [ALICE, BOB, CAROL, DAVE, ERIN, FRANK, CERTIFIED] {
        standard(email);
    }
    gpg(
        h,
        &[
            "--quick-gen-key",
            &uid(RSA2048),
            "rsa2048",
            "default",
            "never",
        ],
        None,
    );
    let fpr = fingerprint(h, RSA2048);
    gpg(
        h,
        &["--quick-add-key", &fpr, "rsa2048", "encr", "never"],
        None,
    );

    gpg(
        h,
        &[
            "--quick-gen-key",
            &uid(RSA1024),
            "rsa1024",
            "default",
            "never",
        ],
        None,
    );
    let fpr = fingerprint(h, RSA1024);
    gpg(
        h,
        &["--quick-add-key", &fpr, "rsa1024", "encr", "never"],
        None,
    );

    gpg(
        h,
        &[
            "--quick-gen-key",
            &uid(RSA1024_SUBKEY),
            "ed25519",
            "cert,sign",
            "never",
        ],
        None,
    );
    let fpr = fingerprint(h, RSA1024_SUBKEY);
    gpg(
        h,
        &["--quick-add-key", &fpr, "rsa1024", "encr", "never"],
        None,
    );

    gpg(
        h,
        &[
            "--quick-gen-key",
            &uid(EXPIRED_SUBKEY),
            "ed25519",
            "cert,sign",
            "never",
        ],
        None,
    );
    let fpr = fingerprint(h, EXPIRED_SUBKEY);
    gpg(h, &["--quick-add-key", &fpr, "cv25519", "encr", "1m"], None);

    gpg(
        h,
        &[
            "--quick-gen-key",
            &uid(EXPIRING_SUBKEY),
            "ed25519",
            "cert,sign",
            "never",
        ],
        None,
    );
    let fpr = fingerprint(h, EXPIRING_SUBKEY);
    gpg(
        h,
        &["--quick-add-key", &fpr, "cv25519", "encr", "2026-06-10"],
        None,
    );

    let fpr = standard(REVOKED_SUBKEY);
    gpg(
        h,
        &["--command-fd", "0", "--edit-key", &fpr],
        Some("key 1\nrevkey\ny\n0\n\ny\nsave\n"),
    );

    gpg(
        h,
        &[
            "--quick-gen-key",
            &uid(NO_ENCRYPTION),
            "ed25519",
            "cert,sign",
            "never",
        ],
        None,
    );

    gpg(
        h,
        &[
            "--cert-digest-algo",
            "SHA1",
            "--digest-algo",
            "SHA1",
            "--quick-gen-key",
            &uid(SHA1_BINDINGS),
            "ed25519",
            "cert,sign",
            "never",
        ],
        None,
    );
    let fpr = fingerprint(h, SHA1_BINDINGS);
    gpg(
        h,
        &[
            "--cert-digest-algo",
            "SHA1",
            "--digest-algo",
            "SHA1",
            "--quick-add-key",
            &fpr,
            "cv25519",
            "encr",
            "never",
        ],
        None,
    );

    gpg(
        h,
        &[
            "--quick-gen-key",
            &uid(SHA1_SUBKEY),
            "ed25519",
            "cert,sign",
            "never",
        ],
        None,
    );
    let fpr = fingerprint(h, SHA1_SUBKEY);
    gpg(
        h,
        &[
            "--cert-digest-algo",
            "SHA1",
            "--digest-algo",
            "SHA1",
            "--quick-add-key",
            &fpr,
            "cv25519",
            "encr",
            "never",
        ],
        None,
    );

    // Bob certifies the CERTIFIED member's user ID: a third-party
    // certification that import must strip.
    let certified = fingerprint(h, CERTIFIED);
    let bob = fingerprint(h, BOB);
    gpg(
        h,
        &["--local-user", &bob, "--quick-sign-key", &certified],
        None,
    );

    let all = [
        ALICE,
        BOB,
        CAROL,
        DAVE,
        ERIN,
        FRANK,
        RSA2048,
        RSA1024,
        RSA1024_SUBKEY,
        EXPIRED_SUBKEY,
        EXPIRING_SUBKEY,
        REVOKED_SUBKEY,
        NO_ENCRYPTION,
        SHA1_BINDINGS,
        SHA1_SUBKEY,
        CERTIFIED,
    ];
    let mut keys = Keys {
        public: HashMap::new(),
        binary: HashMap::new(),
        secret: HashMap::new(),
    };
    for email in all {
        keys.public
            .insert(email, gpg(h, &["--armor", "--export", email], None).stdout);
        keys.binary
            .insert(email, gpg(h, &["--export", email], None).stdout);
        keys.secret.insert(
            email,
            gpg(h, &["--armor", "--export-secret-keys", email], None).stdout,
        );
    }
    // Stop the agent GnuPG started for this home.
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(h)
        .args(["--kill", "all"])
        .status();
    keys
}

/// One test's world: a temp folder, a config, a fixed clock.
pub struct Env {
    pub dir: TempDir,
    pub config: PathBuf,
}

impl Env {
    /// A fresh folder with the standard test config.
    pub fn new() -> Self {
        Self::with_config("")
    }

    /// A fresh folder whose config has `extra` appended.
    pub fn with_config(extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("embargo.toml");
        std::fs::write(
            &config,
            format!(
                "[list]\naddress = \"security-announce@project.example\"\nname = \"Test list\"\n\n[storage]\ndata_dir = \"var\"\n{extra}"
            ),
        )
        .expect("write config");
        Self { dir, config }
    }

    /// The database file.
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

    /// Runs SQL with the `sqlite3` command-line shell on the database.
    pub fn sql(&self, statement: &str) -> String {
        let out = Command::new("sqlite3")
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

    /// A full dump of the database, to prove that nothing changed.
    pub fn dump(&self) -> String {
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

/// `email`'s certificate as it looks after its owner revoked the
/// encryption subkey in GnuPG: the update a member would send.
pub fn revoked_update(email: &str) -> Vec<u8> {
    let home = tempfile::tempdir().expect("GnuPG home");
    let h = home.path();
    let secret = h.join("secret.asc");
    std::fs::write(&secret, keys().secret(email)).expect("write secret key");
    gpg(h, &["--import", path(&secret)], None);
    let fpr = fingerprint(h, email);
    gpg(
        h,
        &["--command-fd", "0", "--edit-key", &fpr],
        Some("key 1\nrevkey\ny\n0\n\ny\nsave\n"),
    );
    let public = gpg(h, &["--armor", "--export", email], None).stdout;
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(h)
        .args(["--kill", "all"])
        .status();
    public
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
