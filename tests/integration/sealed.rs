//! Sealed announcements, read back the way a member reads them: GnuPG
//! decrypts with the member's secret key and verifies the list's signature,
//! mail-parser takes the MIME apart.

use std::process::Command;

use mail_parser::{MessageParser, MimeHeaders};

use crate::common::member::{Member, TITLE_CANARY, announced, read_as_member};
use crate::common::{Env, path, who};

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
