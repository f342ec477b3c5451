//! Reading sealed mail as a member does, with GnuPG and mail-parser.
//!
//! GnuPG decrypts with the member's secret key and verifies the list's
//! signature, mail-parser takes the MIME apart. [`announced`] is the list
//! with an announced advisory full of canaries that must never show
//! outside the ciphertext.

use std::path::{Path, PathBuf};
use std::process::Command;

use mail_parser::{MessageParser, MimeHeaders};

use super::{Env, keys, path, who};

pub const TITLE_CANARY: &str = "Zyzzogeton overflow";
pub const CVE_CANARY: &str = "CVE-2026-98765";
pub const PRODUCT_CANARY: &str = "quuxframework";

/// A list with Dave active and an announced advisory full of canaries.
pub fn announced() -> Env {
    let env = Env::new();
    env.init();
    env.add_active(who::DAVE, who::ALICE, &[]);
    let body = env.file(
        "body.md",
        format!("The {PRODUCT_CANARY} parser overflows.\nFrom here the attacker owns it.\nTrailing space \n").as_bytes(),
    );
    env.ok(&[
        "advisory",
        "new",
        "DF-2026-0001",
        "--title",
        TITLE_CANARY,
        "--severity",
        "high",
        "--product",
        PRODUCT_CANARY,
        "--cve",
        CVE_CANARY,
        "--affected",
        "quuxframework < 1.2",
        "--fixed",
        "quuxframework 1.2",
        "--body",
        path(&body),
        "--allow",
        "deploy",
        "--patch-date",
        "2026-06-08",
        "--disclose-at",
        "2026-06-09T14:00:00Z",
    ]);
    env.ok(&["advisory", "announce", "DF-2026-0001"]);
    env
}

/// A GnuPG home for the member: their secret key and the list's public
/// certificate, imported as GnuPG users do.
pub struct Member {
    /// The member's GnuPG home.
    pub home: tempfile::TempDir,
}

impl Member {
    pub fn new(env: &Env, email: &str) -> Self {
        let home = tempfile::tempdir().expect("GnuPG home");
        let secret = env.file("member-secret.asc", keys().secret(email));
        let list = env.file("list.asc", env.ok(&["key", "export"]).stdout.as_bytes());
        for file in [&secret, &list] {
            let out = Self::gpg_in(home.path(), &["--import"], Some(file));
            assert!(
                out.status.success(),
                "import: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Self { home }
    }

    fn gpg_in(home: &Path, args: &[&str], file: Option<&PathBuf>) -> std::process::Output {
        let mut command = Command::new("gpg");
        command
            .arg("--homedir")
            .arg(home)
            .args([
                "--batch",
                "--no-tty",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
                "--status-fd",
                "2",
            ])
            .args(args);
        if let Some(file) = file {
            command.arg(file);
        }
        command.output().expect("run gpg")
    }

    /// Runs GnuPG in the member's home.
    pub fn gpg(&self, args: &[&str], file: Option<&PathBuf>) -> std::process::Output {
        Self::gpg_in(self.home.path(), args, file)
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--kill", "all"])
            .status();
    }
}

fn list_fingerprint(env: &Env) -> String {
    env.sql("SELECT fingerprint FROM lists").trim().to_owned()
}

/// Checks one embargoed message the way Dave would read it and returns the
/// decrypted, verified text.
pub fn read_as_member(env: &Env, member: &Member, eml: &[u8]) -> String {
    let raw = String::from_utf8(eml.to_vec()).expect("the message is ASCII");
    for canary in [TITLE_CANARY, CVE_CANARY, PRODUCT_CANARY, "DF-2026-0001"] {
        assert!(
            !raw.to_lowercase().contains(&canary.to_lowercase()),
            "{canary} is outside the encrypted payload:\n{raw}"
        );
    }
    assert!(
        raw.contains("\r\n") && !raw.replace("\r\n", "").contains('\n'),
        "not CRLF throughout"
    );
    let message = MessageParser::default().parse(eml).expect("parses");
    assert_eq!(message.subject(), Some("[embargo] security announcement"));
    assert_eq!(message.to().map(|to| to.iter().count()), Some(1));
    assert_eq!(
        message
            .to()
            .and_then(|to| to.first())
            .and_then(|a| a.address()),
        Some(who::DAVE)
    );
    assert!(message.cc().is_none() && message.bcc().is_none());
    let root = message.part(0).expect("root part");
    let content_type = root.content_type().expect("content type");
    assert_eq!(
        (content_type.ctype(), content_type.subtype()),
        ("multipart", Some("encrypted"))
    );
    let payload = message.part(2).expect("encrypted payload part");
    let ciphertext = env.file("payload.asc", payload.contents());

    let packets = member.gpg(&["--list-packets"], Some(&ciphertext));
    let listing = String::from_utf8_lossy(&packets.stdout);
    assert_eq!(
        listing.matches(":pubkey enc packet:").count(),
        1,
        "more than one recipient:\n{listing}"
    );
    assert!(
        listing.contains(":encrypted data packet:") || listing.contains("mdc_method"),
        "not SEIPDv1:\n{listing}"
    );

    let decrypted = member.gpg(&["--decrypt"], Some(&ciphertext));
    let status = String::from_utf8_lossy(&decrypted.stderr);
    assert!(
        decrypted.status.success() && status.contains("[GNUPG:] DECRYPTION_OKAY"),
        "{status}"
    );
    let plaintext = decrypted.stdout;
    let inner = MessageParser::default()
        .parse(&plaintext)
        .expect("inner MIME parses");
    let inner_type = inner
        .part(0)
        .and_then(|p| p.content_type())
        .expect("inner type");
    assert_eq!(
        (inner_type.ctype(), inner_type.subtype()),
        ("multipart", Some("signed"))
    );
    let signed_part = inner.part(1).expect("signed part");
    let signed = &plaintext[signed_part.offset_header as usize..signed_part.offset_end as usize];
    let signature = inner.part(2).expect("signature part").contents().to_vec();
    let data = env.file("signed.bin", signed);
    let sig = env.file("signed.sig", &signature);
    let verified = Command::new("gpg")
        .arg("--homedir")
        .arg(member.home.path())
        .args(["--batch", "--status-fd", "1", "--verify"])
        .arg(&sig)
        .arg(&data)
        .output()
        .expect("gpg --verify");
    let status = String::from_utf8_lossy(&verified.stdout);
    assert!(
        status.contains("[GNUPG:] GOODSIG"),
        "{status}\n{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(
        status.contains(&format!("VALIDSIG {}", list_fingerprint(env)))
            || status.contains(&list_fingerprint(env)),
        "{status}"
    );
    inner.body_text(0).expect("text body").replace("\r\n", "\n")
}
