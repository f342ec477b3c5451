//! Fixture certificates, made once per test run by GnuPG as members make them.
//!
//! They include expired, revoked, SHA-1, RSA-1024 and
//! third-party-certified ones, keyed by address ([`who`]).

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use super::path;

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
