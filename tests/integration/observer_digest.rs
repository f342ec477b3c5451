//! The observers' digest: on its schedule, encrypted to the observer
//! alone, signed by the home list, and never carrying anything of an
//! advisory or a member's address; nor does `instance report`.

use mail_parser::{MessageParser, MimeHeaders};

use crate::common::gnupg::GnuPg;
use crate::common::outbox::{maildir, of_kind};
use crate::common::two_lists::{
    HOME, KERNEL, OBSERVER, assert_no_canary, ok_in, report_json, two_lists,
};
use crate::common::{Env, NOW, keys, path, who};

/// Every copy of the digest in the outbox: (recipient, state).
fn digests(env: &Env) -> Vec<(String, String)> {
    of_kind(env, "digest")
}

/// Decrypts `eml`'s payload in `gpg` at `when`; answers the plaintext, or
/// `None` when GnuPG cannot decrypt it.
fn decrypt(env: &Env, gpg: &GnuPg, when: &str, eml: &[u8]) -> Option<Vec<u8>> {
    let message = MessageParser::default()
        .parse(eml)
        .expect("the digest parses");
    let payload = env.file(
        "digest-payload.asc",
        message.part(2).expect("payload").contents(),
    );
    let out = gpg.output(when, &["--decrypt", path(&payload)], None, true);
    let status = String::from_utf8_lossy(&out.stderr);
    (out.status.success() && status.contains("[GNUPG:] DECRYPTION_OKAY")).then_some(out.stdout)
}

#[test]
fn the_digest_goes_once_per_schedule_encrypted_to_the_observer_alone_and_carries_no_canary() {
    let env = two_lists();
    let key = env.cert_file(OBSERVER);
    env.ok(&[
        "instance",
        "observer",
        "add",
        OBSERVER,
        "--key",
        path(&key),
        "--reason",
        "foundation",
    ]);
    // Weekly on Monday 08:00 UTC: nothing a second early, one copy at the
    // time, none more on the next pass, one more a week later. Only the
    // home list's loop sends it; the kernel list's never does.
    ok_in(&env, HOME, "2026-06-08T07:59:59Z", &["queue", "run"]);
    ok_in(&env, KERNEL, "2026-06-08T08:00:00Z", &["queue", "run"]);
    assert_eq!(digests(&env), []);
    ok_in(&env, HOME, "2026-06-08T08:00:00Z", &["queue", "run"]);
    assert_eq!(digests(&env), [(OBSERVER.to_owned(), "sent".to_owned())]);
    ok_in(&env, HOME, "2026-06-08T08:00:30Z", &["queue", "run"]);
    ok_in(&env, HOME, "2026-06-15T07:59:59Z", &["queue", "run"]);
    assert_eq!(digests(&env).len(), 1);
    ok_in(&env, HOME, "2026-06-15T08:00:00Z", &["queue", "run"]);
    assert_eq!(digests(&env).len(), 2);

    let mail: Vec<Vec<u8>> = maildir(&env)
        .into_iter()
        .map(|file| std::fs::read(file).expect("mail"))
        .filter(|eml| String::from_utf8_lossy(eml).contains(&format!("To: {OBSERVER}")))
        .collect();
    assert_eq!(mail.len(), 2, "two digests reached the observer");
    let eml = &mail[0];
    let raw = String::from_utf8_lossy(eml);
    assert_no_canary("the digest as sent", &raw);
    let message = MessageParser::default()
        .parse(eml.as_slice())
        .expect("parses");
    assert_eq!(message.subject(), Some("[embargo] security announcement"));
    let root = message
        .part(0)
        .and_then(|p| p.content_type())
        .expect("type");
    assert_eq!(
        (root.ctype(), root.subtype()),
        ("multipart", Some("encrypted"))
    );

    let when = "20260608T080100";
    let observer = GnuPg::new();
    observer.import(when, keys().secret(OBSERVER));
    let list_key = ok_in(&env, HOME, NOW, &["key", "export"]).stdout;
    let list_fpr = observer.import(when, list_key.as_bytes());
    let plaintext = decrypt(&env, &observer, when, eml).expect("the observer decrypts it");
    let text = String::from_utf8_lossy(&plaintext).replace("\r\n", "\n");
    assert_no_canary("the decrypted digest", &text);
    for line in [
        "list kernel",
        "list security-announce",
        "all 2 lists",
        "active holds: 1",
        "breaches of the acknowledgement clock (72 hours): 1",
    ] {
        assert!(
            text.contains(line),
            "{line:?} is not in the digest:\n{text}"
        );
    }
    // Signed by the home list's key, over exactly the signed part.
    let inner = MessageParser::default()
        .parse(&plaintext)
        .expect("inner MIME");
    let signed = inner.part(1).expect("signed part");
    let data = env.file(
        "digest-signed.bin",
        &plaintext[signed.offset_header as usize..signed.offset_end as usize],
    );
    let sig = env.file("digest.sig", inner.part(2).expect("signature").contents());
    let verified = observer.output(when, &["--verify", path(&sig), path(&data)], None, true);
    let status = String::from_utf8_lossy(&verified.stderr);
    assert!(status.contains(&format!("VALIDSIG {list_fpr}")), "{status}");

    // Nobody else can read it: not a member, not the list's admin.
    for other in [who::DAVE, who::ALICE] {
        let gpg = GnuPg::new();
        gpg.import(when, keys().secret(other));
        assert!(
            decrypt(&env, &gpg, when, eml).is_none(),
            "{other} decrypted the digest"
        );
    }
}

#[test]
fn instance_report_text_and_json_carry_no_canary_of_any_list() {
    let env = two_lists();
    for at in [NOW, "2026-06-04T12:00:01Z", "2026-06-12T00:00:00Z"] {
        let text = env.run_at(at, &["instance", "report"]);
        assert_eq!(text.code, 0, "{}", text.stderr);
        assert!(text.stdout.contains("list kernel"), "{}", text.stdout);
        assert_no_canary("instance report", &text.stdout);
        assert_no_canary("instance report --json", &report_json(&env, at).to_string());
    }
}

/// A digest queued for an observer whose server kept deferring it still
/// went out after the observer was removed. Removing an observer now
/// stops their copies that have not gone out, and only theirs; the next
/// digest is not sealed for them.
#[test]
fn a_removed_observer_gets_no_digest_still_queued_for_them() {
    // A port nobody listens on: every copy is deferred and stays queued.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let env = Env::with_config(&format!(
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n"
    ));
    env.init();
    for observer in [OBSERVER, who::FRANK] {
        let key = env.cert_file(observer);
        env.ok(&[
            "instance",
            "observer",
            "add",
            observer,
            "--key",
            path(&key),
            "--reason",
            "test",
        ]);
    }
    env.ok(&["queue", "run"]);
    let run = env.run_at("2026-06-08T08:00:00Z", &["queue", "run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let queued = |who: &str| (who.to_owned(), "queued".to_owned());
    assert_eq!(digests(&env), [queued(OBSERVER), queued(who::FRANK)]);

    env.ok(&[
        "instance", "observer", "remove", OBSERVER, "--reason", "left",
    ]);
    let dropped = (OBSERVER.to_owned(), "dropped".to_owned());
    assert_eq!(digests(&env), [dropped.clone(), queued(who::FRANK)]);

    let run = env.run_at("2026-06-15T08:00:00Z", &["queue", "run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let copies = digests(&env);
    assert_eq!(copies.len(), 3, "{copies:?}");
    assert_eq!(copies[0], dropped);
    assert!(
        copies[1..].iter().all(|(to, _)| to == who::FRANK),
        "{copies:?}"
    );
}
