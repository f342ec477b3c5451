//! A throw-away GnuPG home that signs, encrypts and exports at a chosen time.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use super::mail::unique;
use super::mime::crlf_bytes;
use super::{keys, path};

/// A throw-away GnuPG home; its agent is stopped when it is dropped.
pub struct GnuPg {
    /// The home folder (the builders run GnuPG in it directly too).
    pub home: tempfile::TempDir,
}

impl GnuPg {
    pub fn new() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().expect("GnuPG home");
        // GnuPG warns about a home that others can read.
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod GnuPG home");
        Self { home }
    }

    /// A home holding `email`'s fixture secret key, and that key's
    /// fingerprint.
    pub fn with_secret(email: &str, when: &str) -> (Self, String) {
        let gpg = Self::new();
        let fpr = gpg.import(when, keys().secret(email));
        (gpg, fpr)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let file = self.home.path().join(name);
        std::fs::write(&file, bytes).expect("write file for gpg");
        file
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.home.path().join(name)).expect("read gpg output")
    }

    /// Runs gpg at the faked time `when` with status lines on stderr; does
    /// not judge the exit status. `batch` is off only for the commands that
    /// refuse batch mode (`--gen-revoke`), which then read `input`.
    pub fn output(&self, when: &str, args: &[&str], input: Option<&[u8]>, batch: bool) -> Output {
        use std::io::Write;
        let mut command = Command::new("gpg");
        command.arg("--homedir").arg(self.home.path());
        if batch {
            command.arg("--batch");
        }
        command
            .args(["--yes", "--no-tty", "--pinentry-mode", "loopback"])
            .args(["--passphrase", "", "--status-fd", "2"])
            .args(["--faked-system-time", when])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .expect("run gpg (scripts/test installs GnuPG)");
        let mut stdin = child.stdin.take().expect("stdin");
        let input = input.unwrap_or_default().to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().expect("wait for gpg");
        writer.join().expect("stdin writer").expect("write to gpg");
        out
    }

    /// Runs gpg in batch mode and insists that it succeeds.
    pub fn run(&self, when: &str, args: &[&str]) -> Output {
        let out = self.output(when, args, None, true);
        assert!(
            out.status.success(),
            "gpg {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Imports `bytes` and returns the fingerprint of the first key in it.
    /// `--ignore-time-conflict` keeps the list key, whose self-signatures
    /// are dated NOW, when importing at [`SIGNED_NOW`]: without it GnuPG
    /// drops them as "created in the future" and then the whole key.
    pub fn import(&self, when: &str, bytes: &[u8]) -> String {
        let file = self.write(&unique("import."), bytes);
        let out = self.run(when, &["--ignore-time-conflict", "--import", path(&file)]);
        status_field(&out.stderr, "IMPORT_OK", 1).unwrap_or_else(|| {
            panic!(
                "gpg imported no key: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    pub fn export(&self, when: &str, fpr: &str) -> Vec<u8> {
        self.run(when, &["--armor", "--export", fpr]).stdout
    }

    /// A detached, armored signature by `fpr` over exactly `data`.
    pub fn detach_sign(
        &self,
        fpr: &str,
        data: &[u8],
        when: &str,
        digest: Option<&str>,
    ) -> Signature {
        let input = self.write(&unique("data."), data);
        let output = self.home.path().join(unique("sig."));
        let mut args = vec!["--local-user", fpr, "--armor", "--detach-sign"];
        if let Some(algo) = digest {
            args.extend(["--digest-algo", algo]);
        }
        args.extend(["--output", path(&output), path(&input)]);
        let out = self.run(when, &args);
        let hash = status_field(&out.stderr, "SIG_CREATED", 2).expect("SIG_CREATED line");
        Signature {
            armor: crlf_bytes(&std::fs::read(&output).expect("signature")),
            micalg: micalg(&hash),
        }
    }
}

impl Drop for GnuPg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--kill", "all"])
            .status();
    }
}

pub struct Signature {
    /// The armored detached signature.
    pub armor: Vec<u8>,
    /// Its `micalg` parameter (`pgp-sha256`, …).
    pub micalg: &'static str,
}

/// Field `index` (0 = the first after the keyword) of the first status line
/// `[GNUPG:] KEYWORD …` in `status`.
fn status_field(status: &[u8], keyword: &str, index: usize) -> Option<String> {
    String::from_utf8_lossy(status).lines().find_map(|line| {
        let rest = line.strip_prefix("[GNUPG:] ")?.strip_prefix(keyword)?;
        rest.strip_prefix(' ')?
            .split(' ')
            .nth(index)
            .map(str::to_owned)
    })
}

/// The RFC 3156 `micalg` name of an OpenPGP hash algorithm number.
pub fn micalg(hash: &str) -> &'static str {
    match hash {
        "1" => "pgp-md5",
        "2" => "pgp-sha1",
        "3" => "pgp-ripemd160",
        "8" => "pgp-sha256",
        "9" => "pgp-sha384",
        "10" => "pgp-sha512",
        "11" => "pgp-sha224",
        other => panic!("GnuPG used hash algorithm {other}"),
    }
}
