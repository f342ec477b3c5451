//! Sealed announcements, read back the way a member reads them: GnuPG
//! decrypts with the member's secret key and verifies the list's signature,
//! mail-parser takes the MIME apart.

use std::path::{Path, PathBuf};
use std::process::Command;

use mail_parser::{MessageParser, MimeHeaders};

use crate::common::{Env, keys, path, who};

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
    home: tempfile::TempDir,
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

    fn gpg(&self, args: &[&str], file: Option<&PathBuf>) -> std::process::Output {
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
    env.sql("SELECT fingerprint FROM list").trim().to_owned()
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

fn rendered(env: &Env, kind: &str) -> (String, String) {
    let text = env
        .ok(&["advisory", "preview", "DF-2026-0001", "--kind", kind])
        .stdout;
    let (subject, body) = text.split_once("\n\n").expect("subject and body");
    (
        subject.trim_start_matches("Subject: ").to_owned(),
        body.to_owned(),
    )
}

#[test]
fn every_embargoed_kind_decrypts_and_verifies_in_gnupg_as_the_member() {
    let env = announced();
    env.ok(&["advisory", "edit", "DF-2026-0001", "--severity", "critical"]);
    let member = Member::new(&env, who::DAVE);
    for kind in ["notice", "update", "reminder", "cancellation"] {
        let out = env.dir.path().join(format!("{kind}.eml"));
        env.ok(&[
            "advisory",
            "preview",
            "DF-2026-0001",
            "--kind",
            kind,
            "--for",
            who::DAVE,
            "--sealed",
            "--out",
            path(&out),
        ]);
        let eml = std::fs::read(&out).expect("sealed message");
        let text = read_as_member(&env, &member, &eml);
        let (subject, body) = rendered(&env, kind);
        assert_eq!(
            text.trim_end(),
            body.trim_end(),
            "{kind}: decrypted text differs from the rendered text"
        );
        let plaintext_subject_present = kind != "notice" || subject.contains(TITLE_CANARY);
        assert!(plaintext_subject_present, "{subject}");
    }
}

#[test]
fn the_real_subject_lives_in_the_protected_headers() {
    let env = announced();
    let member = Member::new(&env, who::DAVE);
    let out = env.dir.path().join("notice.eml");
    env.ok(&[
        "advisory",
        "preview",
        "DF-2026-0001",
        "--for",
        who::DAVE,
        "--sealed",
        "--out",
        path(&out),
    ]);
    let eml = std::fs::read(&out).expect("sealed");
    let message = MessageParser::default().parse(&eml).expect("parses");
    let payload = env.file("p.asc", message.part(2).expect("payload").contents());
    let plaintext = member.gpg(&["--decrypt"], Some(&payload)).stdout;
    let text = String::from_utf8_lossy(&plaintext);
    assert!(text.contains("protected-headers=\"v1\""), "{text}");
    let inner = MessageParser::default().parse(&plaintext).expect("inner");
    let signed_part = inner.part(1).expect("signed part");
    let subject = signed_part
        .headers
        .iter()
        .find(|h| h.name.as_str().eq_ignore_ascii_case("subject"))
        .and_then(|h| h.value.as_text())
        .expect("protected Subject");
    assert_eq!(subject, format!("[DF-2026-0001] EMBARGOED: {TITLE_CANARY}"));
}

#[test]
fn the_disclosure_is_signed_in_clear_and_verifies_over_the_exact_part() {
    let env = Env::with_config("\n[mail]\npublic_addresses = [\"oss-security@lists.example\"]\n");
    env.init();
    let body = env.file(
        "body.md",
        b"Public now.\nTrailing white space stays:   \nthen more.\n",
    );
    env.ok(&[
        "advisory",
        "new",
        "DF-2026-0002",
        "--title",
        "Public advisory",
        "--severity",
        "low",
        "--product",
        "frob",
        "--body",
        path(&body),
        "--disclose-at",
        "2026-06-09T14:00:00Z",
    ]);
    let out = env.dir.path().join("disclosure.eml");
    env.ok(&[
        "advisory",
        "preview",
        "DF-2026-0002",
        "--kind",
        "disclosure",
        "--sealed",
        "--out",
        path(&out),
    ]);
    let eml = std::fs::read(&out).expect("disclosure");
    let message = MessageParser::default().parse(&eml).expect("parses");
    assert_eq!(message.subject(), Some("[DF-2026-0002] Public advisory"));
    assert_eq!(
        message
            .to()
            .and_then(|to| to.first())
            .and_then(|a| a.address()),
        Some("oss-security@lists.example")
    );
    let root = message
        .part(0)
        .and_then(|p| p.content_type())
        .expect("type");
    assert_eq!(
        (root.ctype(), root.subtype()),
        ("multipart", Some("signed"))
    );
    let signed_part = message.part(1).expect("signed part");
    let signed = &eml[signed_part.offset_header as usize..signed_part.offset_end as usize];
    let data = env.file("d.bin", signed);
    let sig = env.file("d.sig", message.part(2).expect("signature").contents());
    let member = Member::new(&env, who::ALICE);
    let verified = Command::new("gpg")
        .arg("--homedir")
        .arg(member.home.path())
        .args(["--batch", "--status-fd", "1", "--verify"])
        .arg(&sig)
        .arg(&data)
        .output()
        .expect("gpg --verify");
    let status = String::from_utf8_lossy(&verified.stdout);
    assert!(status.contains("[GNUPG:] GOODSIG"), "{status}");
    let text = message.body_text(0).expect("text").replace("\r\n", "\n");
    assert!(
        text.contains("Trailing white space stays:   \n"),
        "{text:?}"
    );
}

#[test]
fn a_member_whose_key_expires_before_disclosure_is_named_by_the_preflight() {
    let env = Env::new();
    env.init();
    let key = env.cert_file(who::EXPIRED_SUBKEY);
    // Added while the subkey was still valid (it expires 2026-01-31).
    let out = env.run_at(
        "2026-01-20T12:00:00Z",
        &[
            "member",
            "add",
            who::EXPIRED_SUBKEY,
            "--name",
            "Soon",
            "--org",
            "Vendor",
            "--kind",
            "vendor",
            "--key",
            path(&key),
            "--sponsor",
            who::ALICE,
            "--json",
        ],
    );
    assert!(out.code == 0, "{}", out.stderr);
    let token: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let token = token["confirmation_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let confirm = env.run_at(
        "2026-01-20T12:00:00Z",
        &["member", "confirm", who::EXPIRED_SUBKEY, "--token", &token],
    );
    assert!(confirm.code == 0);
    let body = env.file("body.md", b"text\n");
    let run = |args: &[&str]| env.run_at("2026-01-26T12:00:00Z", args);
    let created = run(&[
        "advisory",
        "new",
        "DF-2026-0003",
        "--title",
        "T",
        "--severity",
        "low",
        "--product",
        "p",
        "--body",
        path(&body),
        "--disclose-at",
        "2026-02-03T14:00:00Z",
    ]);
    assert!(created.code == 0, "{}", created.stderr);
    let announced = run(&["advisory", "announce", "DF-2026-0003"]);
    let stdout = announced.stdout;
    assert!(announced.code == 0, "{}", announced.stderr);
    assert!(
        stdout.contains(who::EXPIRED_SUBKEY) && stdout.contains("before the disclosure time"),
        "{stdout}"
    );
    assert!(!stdout.contains(who::ALICE), "{stdout}");
}
