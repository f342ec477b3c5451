//! The tests that prove each inbound-mail builder in `common::mail` makes
//! what it claims: GnuPG and mail-parser confirm it, never the project's
//! own code.

use std::path::PathBuf;

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use crate::common::gnupg::{GnuPg, micalg};
use crate::common::hostile::{huge_header, many_parts, nested};
use crate::common::mail::*;
use crate::common::mime::crlf;
use crate::common::{Env, keys, path, who};

// ---------------------------------------------------------------------------
// Self-tests: GnuPG and mail-parser confirm what the builders claim.

/// A time after every signing time the builders use.
const VERIFY_AT: &str = "20260602T000000!";

/// Checks CRLF line ends throughout.
fn assert_crlf(raw: &[u8]) {
    let text = String::from_utf8_lossy(raw);
    assert!(
        !text.replace("\r\n", "").contains(['\r', '\n']),
        "not CRLF throughout:\n{text}"
    );
}

/// GnuPG's status lines for `gpg --verify sig data` at `at`, in a home that
/// holds only `cert`.
fn gpg_verify(cert: &[u8], sig: &[u8], data: Option<&[u8]>, at: &str) -> String {
    let gpg = GnuPg::new();
    gpg.import(VERIFY_AT, cert);
    let sig = gpg.write("verify.sig", sig);
    let mut args = vec!["--verify", path(&sig)];
    let data = data.map(|bytes| gpg.write("verify.data", bytes));
    if let Some(data) = &data {
        args.push(path(data));
    }
    let out = gpg.output(at, &args, None, true);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The `VALIDSIG` fields (0 = fingerprint, 2 = timestamp, 7 = hash algo).
fn validsig(status: &str) -> Vec<String> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("[GNUPG:] VALIDSIG "))
        .unwrap_or_else(|| panic!("no VALIDSIG:\n{status}"))
        .split(' ')
        .map(str::to_owned)
        .collect()
}

fn parse(raw: &[u8]) -> Message<'_> {
    MessageParser::default()
        .parse(raw)
        .expect("mail-parser parses it")
}

fn is_type(part: &mail_parser::MessagePart, ctype: &str, subtype: &str) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case(ctype)
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case(subtype))
    })
}

/// The first multipart/signed in `raw`: the exact bytes of its first part,
/// its signature, and its micalg.
fn signed_parts(raw: &[u8]) -> (Vec<u8>, Vec<u8>, String) {
    let message = parse(raw);
    let root = message
        .parts
        .iter()
        .find(|part| is_type(part, "multipart", "signed"))
        .expect("a multipart/signed part");
    let micalg = root
        .content_type()
        .and_then(|ct| ct.attribute("micalg"))
        .expect("micalg")
        .to_owned();
    let PartType::Multipart(children) = &root.body else {
        panic!("multipart/signed without parts");
    };
    assert_eq!(children.len(), 2, "multipart/signed has two parts");
    let first = &message.parts[children[0] as usize];
    let data = raw[first.offset_header as usize..first.offset_end as usize].to_vec();
    let second = &message.parts[children[1] as usize];
    assert!(is_type(second, "application", "pgp-signature"));
    (data, second.contents().to_vec(), micalg)
}

/// Asserts a good signature by `email`'s fixture key made at `when`, and
/// returns the status lines.
fn assert_good(email: &str, sig: &[u8], data: Option<&[u8]>, when: &str) -> String {
    let status = gpg_verify(keys().public(email), sig, data, VERIFY_AT);
    assert!(status.contains("[GNUPG:] GOODSIG "), "{status}");
    assert_eq!(
        validsig(&status)[2],
        signed_at(when).to_string(),
        "{status}"
    );
    status
}

#[test]
fn signed_mime_verifies_in_gnupg_over_the_first_part_at_each_time() {
    let texts = [
        "SPONSOR mallory@evil.example\n",
        "CONFIRM ABCDE-FGHJK-LMNPQ-RSTUV-WXYZ2\nTrailing space \nFrom here on: caf\u{e9}\n",
    ];
    for (text, when) in texts
        .iter()
        .zip([SIGNED_NOW, SIGNED_30_DAYS_AGO])
        .chain([(&texts[0], SIGNED_IN_AN_HOUR)])
    {
        let headers = Headers::new(who::DAVE, REQUEST_ADDRESS);
        let raw = signed_mime(who::DAVE, &headers, text, &[], when);
        assert_crlf(&raw);
        let message = parse(&raw);
        assert_eq!(message.subject(), Some("command"));
        assert_eq!(
            message
                .from()
                .and_then(|f| f.first())
                .and_then(|a| a.address()),
            Some(who::DAVE)
        );
        assert_eq!(
            message.message_id(),
            Some(headers.message_id.trim_matches(['<', '>']))
        );
        assert_eq!(message.body_text(0).as_deref(), Some(crlf(text).as_str()));
        let (data, sig, named) = signed_parts(&raw);
        assert!(data.starts_with(b"Content-Type: text/plain") && data.ends_with(b"\r\n"));
        let status = assert_good(who::DAVE, &sig, Some(&data), when);
        assert_eq!(named, micalg(&validsig(&status)[7]));
    }
}

#[test]
fn signed_mime_with_attachments_signs_the_whole_multipart_mixed() {
    let cert = keys().public(who::FRANK);
    let raw = signed_mime(
        who::ALICE,
        &Headers::new(who::ALICE, REQUEST_ADDRESS),
        "SPONSOR frank@user.example\n",
        &[
            Attachment::pgp_keys(cert),
            Attachment::new("text/plain", None, b"note\r\n"),
        ],
        SIGNED_NOW,
    );
    assert_crlf(&raw);
    let (data, sig, _) = signed_parts(&raw);
    assert!(
        data.starts_with(b"Content-Type: multipart/mixed"),
        "{}",
        String::from_utf8_lossy(&data)
    );
    assert_good(who::ALICE, &sig, Some(&data), SIGNED_NOW);
    let message = parse(&raw);
    let keys_part = message
        .parts
        .iter()
        .find(|part| is_type(part, "application", "pgp-keys"))
        .expect("pgp-keys part");
    assert_eq!(keys_part.contents(), cert);
    assert_eq!(keys_part.attachment_name(), Some("OpenPGP_key.asc"));
}

#[test]
fn signed_mime_sha1_is_a_sha1_signature() {
    let raw = signed_mime_sha1(
        who::DAVE,
        &Headers::new(who::DAVE, REQUEST_ADDRESS),
        "SUSPEND erin@distro.example\n",
        SIGNED_NOW,
    );
    assert_crlf(&raw);
    let (data, sig, micalg) = signed_parts(&raw);
    assert_eq!(micalg, "pgp-sha1");
    let status = assert_good(who::DAVE, &sig, Some(&data), SIGNED_NOW);
    assert_eq!(validsig(&status)[7], "2");
    let gpg = GnuPg::new();
    let file = gpg.write("sig.asc", &sig);
    let packets = gpg.run(VERIFY_AT, &["--list-packets", path(&file)]).stdout;
    assert!(String::from_utf8_lossy(&packets).contains("digest algo 2,"));
}

#[test]
fn signed_encrypted_mime_decrypts_with_the_list_key_and_verifies() {
    let env = Env::new();
    env.init();
    let list_cert = env.ok(&["key", "export"]).stdout.into_bytes();
    let raw = signed_encrypted_mime(
        who::DAVE,
        &list_cert,
        &Headers::new(who::DAVE, REQUEST_ADDRESS),
        "CONFIRM ABCDE-FGHJK-LMNPQ-RSTUV-WXYZ2\n",
        &[Attachment::pgp_keys(keys().public(who::DAVE))],
        SIGNED_NOW,
    );
    assert_crlf(&raw);
    let message = parse(&raw);
    assert!(is_type(&message.parts[0], "multipart", "encrypted"));
    assert_eq!(
        message.parts[0]
            .content_type()
            .and_then(|ct| ct.attribute("protocol")),
        Some("application/pgp-encrypted")
    );
    assert_eq!(message.parts[1].contents(), b"Version: 1\r\n");
    let ciphertext = message.parts[2].contents().to_vec();
    assert!(ciphertext.starts_with(b"-----BEGIN PGP MESSAGE-----"));

    let gpg = GnuPg::new();
    gpg.import(VERIFY_AT, &std::fs::read(env.key_file()).expect("list key"));
    gpg.import(VERIFY_AT, keys().public(who::DAVE));
    let file = gpg.write("in.asc", &ciphertext);
    let packets =
        String::from_utf8_lossy(&gpg.run(VERIFY_AT, &["--list-packets", path(&file)]).stdout)
            .into_owned();
    assert_eq!(
        packets.matches(":pubkey enc packet:").count(),
        1,
        "{packets}"
    );
    let out = gpg.output(VERIFY_AT, &["--decrypt", path(&file)], None, true);
    let status = String::from_utf8_lossy(&out.stderr);
    assert!(status.contains("[GNUPG:] DECRYPTION_OKAY"), "{status}");
    assert!(status.contains("[GNUPG:] GOODSIG "), "{status}");
    assert_eq!(validsig(&status)[2], signed_at(SIGNED_NOW).to_string());
    let inner = parse(&out.stdout);
    assert!(is_type(&inner.parts[0], "multipart", "mixed"));
    assert_eq!(
        inner.body_text(0).as_deref(),
        Some("CONFIRM ABCDE-FGHJK-LMNPQ-RSTUV-WXYZ2\r\n")
    );
    assert_eq!(
        inner.attachment(0).map(|a| a.contents()),
        Some(keys().public(who::DAVE))
    );
}

#[test]
fn cleartext_signed_verifies_and_keeps_the_text_after_the_signature() {
    let raw = cleartext_signed(
        who::ERIN,
        &Headers::new(who::ERIN, REQUEST_ADDRESS),
        "SUSPEND dave@vendor.example\n- dashed line\n",
        "SPONSOR mallory@evil.example\n",
        SIGNED_30_DAYS_AGO,
    );
    assert_crlf(&raw);
    let message = parse(&raw);
    let body = message.body_text(0).expect("text body").into_owned();
    let (signed, after) = body
        .split_once("-----END PGP SIGNATURE-----\r\n")
        .expect("END line");
    assert_eq!(after, "SPONSOR mallory@evil.example\r\n");
    assert!(signed.contains("\r\n- - dashed line\r\n"), "{signed}");
    let signed = format!("{signed}-----END PGP SIGNATURE-----\r\n");
    assert_good(who::ERIN, signed.as_bytes(), None, SIGNED_30_DAYS_AGO);
}

#[test]
fn rewrapped_and_mixed_entities_still_verify() {
    let entity = signed_entity(who::BOB, "SPONSOR carol@advisor.example\n", &[], SIGNED_NOW);
    assert!(entity.starts_with(b"Content-Type: multipart/signed; micalg=pgp-sha256;\r\n"));
    let first = rewrap(&Headers::new(who::BOB, REQUEST_ADDRESS), &entity);
    let mut replay = Headers::new(who::BOB, REQUEST_ADDRESS);
    replay.subject = "Re: command".to_owned();
    let second = rewrap(&replay, &entity);
    let mixed = mixed_with_unsigned(
        &Headers::new(who::BOB, REQUEST_ADDRESS),
        &entity,
        "SPONSOR mallory@evil.example\n",
    );
    for raw in [&first, &second, &mixed] {
        assert_crlf(raw);
        let (data, sig, _) = signed_parts(raw);
        assert_good(who::BOB, &sig, Some(&data), SIGNED_NOW);
    }
    let message = parse(&mixed);
    assert!(is_type(&message.parts[0], "multipart", "mixed"));
    let last = message.parts.last().expect("parts");
    assert!(is_type(last, "text", "plain"));
    assert_eq!(
        last.text_contents(),
        Some("SPONSOR mallory@evil.example\r\n")
    );
}

#[test]
fn forwarded_carries_the_whole_signed_message() {
    let inner = signed_mime(
        who::ALICE,
        &Headers::new(who::ALICE, REQUEST_ADDRESS),
        "SPONSOR mallory@evil.example\n",
        &[],
        SIGNED_NOW,
    );
    let raw = forwarded(&Headers::new(who::FRANK, REQUEST_ADDRESS), "FYI\n", &inner);
    assert_crlf(&raw);
    let message = parse(&raw);
    assert_eq!(message.body_text(0).as_deref(), Some("FYI\r\n"));
    let part = message
        .parts
        .iter()
        .find(|part| is_type(part, "message", "rfc822"))
        .expect("message/rfc822 part");
    assert!(matches!(part.body, PartType::Message(_)));
    let carried = &raw[part.offset_body as usize..part.offset_end as usize];
    assert!(
        carried.starts_with(&inner[..inner.len() - 2]),
        "the inner message is carried whole"
    );
    let (data, sig, _) = signed_parts(&inner);
    assert_good(who::ALICE, &sig, Some(&data), SIGNED_NOW);
}

#[test]
fn unsigned_and_bounces_parse_as_claimed() {
    let raw = unsigned(
        &Headers::new(who::DAVE, REQUEST_ADDRESS),
        "CONFIRM ABCDE-FGHJK-LMNPQ-RSTUV-WXYZ2\n",
    );
    assert_crlf(&raw);
    let message = parse(&raw);
    assert!(is_type(&message.parts[0], "text", "plain"));
    assert_eq!(
        message.body_text(0).as_deref(),
        Some("CONFIRM ABCDE-FGHJK-LMNPQ-RSTUV-WXYZ2\r\n")
    );

    let verp = "security-announce-bounces+dave=vendor.example@project.example";
    for (status, action) in [("5.1.1", "failed"), ("4.2.2", "delayed")] {
        let raw = bounce(verp, who::DAVE, status, "abc.123@project.example");
        assert_crlf(&raw);
        let message = parse(&raw);
        let root = message.parts[0].content_type().expect("type");
        assert_eq!(
            (root.ctype(), root.subtype()),
            ("multipart", Some("report"))
        );
        assert_eq!(root.attribute("report-type"), Some("delivery-status"));
        assert_eq!(
            message
                .to()
                .and_then(|t| t.first())
                .and_then(|a| a.address()),
            Some(verp)
        );
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains(&format!("\r\nAction: {action}\r\nStatus: {status}\r\n")));
        assert!(text.contains(&format!("Final-Recipient: rfc822; {}\r\n", who::DAVE)));
        let headers_part = message
            .parts
            .iter()
            .find(|part| is_type(part, "text", "rfc822-headers"))
            .expect("text/rfc822-headers part");
        let original = String::from_utf8_lossy(headers_part.contents());
        assert!(
            original.contains("Message-ID: <abc.123@project.example>\r\n"),
            "{original}"
        );
    }
}

#[test]
fn revoked_key_signature_is_good_before_and_revoked_after_the_update() {
    let (cert, raw) = revoked_key_signed_mime(
        who::DAVE,
        &Headers::new(who::DAVE, REQUEST_ADDRESS),
        "SPONSOR mallory@evil.example\n",
        SIGNED_NOW,
    );
    assert_crlf(&raw);
    let (data, sig, _) = signed_parts(&raw);
    assert_good(who::DAVE, &sig, Some(&data), SIGNED_NOW);
    let status = gpg_verify(&cert, &sig, Some(&data), VERIFY_AT);
    assert!(status.contains("[GNUPG:] REVKEYSIG "), "{status}");
    let gpg = GnuPg::new();
    let file = gpg.write("cert.asc", &cert);
    let packets =
        String::from_utf8_lossy(&gpg.run(VERIFY_AT, &["--list-packets", path(&file)]).stdout)
            .into_owned();
    assert!(packets.contains("sigclass 0x20"), "{packets}");
    assert!(packets.contains("revocation reason 0x02"), "{packets}");
    assert!(
        packets.contains(&format!("created {}", signed_at(REVOKED_AT))),
        "{packets}"
    );
}

#[test]
fn expired_key_signature_is_good_in_january_and_expired_at_now() {
    let email = "expired-primary@vendor.example";
    let (cert, raw) = expired_key_signed_mime(
        email,
        &Headers::new(email, REQUEST_ADDRESS),
        "SUSPEND dave@vendor.example\n",
    );
    assert_crlf(&raw);
    let (data, sig, _) = signed_parts(&raw);
    let january = gpg_verify(&cert, &sig, Some(&data), "20260120T000000!");
    assert!(january.contains("[GNUPG:] GOODSIG "), "{january}");
    assert_eq!(
        validsig(&january)[2],
        signed_at(SIGNED_IN_JANUARY).to_string()
    );
    let now = gpg_verify(&cert, &sig, Some(&data), SIGNED_NOW);
    assert!(now.contains("[GNUPG:] EXPKEYSIG "), "{now}");
    let gpg = GnuPg::new();
    gpg.import(VERIFY_AT, &cert);
    let colons =
        String::from_utf8_lossy(&gpg.run(VERIFY_AT, &["--with-colons", "--list-keys"]).stdout)
            .into_owned();
    let expiries: Vec<String> = colons
        .lines()
        .filter(|line| line.starts_with("pub:") || line.starts_with("sub:"))
        .map(|line| line.split(':').nth(6).unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        expiries,
        vec![EXPIRING_KEY_EXPIRES_AT.to_string(); 2],
        "{colons}"
    );
}

// ---------------------------------------------------------------------------
// The static corpus

fn corpus(name: &str) -> Vec<u8> {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/inbound")
        .join(name);
    std::fs::read(&file).unwrap_or_else(|err| panic!("{}: {err}", file.display()))
}

#[test]
fn the_static_corpus_is_what_its_readme_says() {
    let readme = String::from_utf8(corpus("README.md")).expect("README");
    for name in [
        "nested-1000.eml",
        "invalid-utf8.eml",
        "duplicate-content-type.eml",
        "boundary-tricks.eml",
        "unsigned-command.eml",
        "fake-signature.eml",
        "bare-lf.eml",
    ] {
        let raw = corpus(name);
        assert!(raw.len() <= 2 << 20, "{name} is over 2 MiB");
        assert!(
            readme.contains(&format!("`{name}`")),
            "README does not list {name}"
        );
        // mail-parser must survive every one of them.
        let _ = MessageParser::default().parse(&raw);
    }
    assert_eq!(corpus("nested-1000.eml"), nested(1000));
    assert!(std::str::from_utf8(&corpus("invalid-utf8.eml")).is_err());
    let bare = corpus("bare-lf.eml");
    assert!(!bare.contains(&b'\r') && bare.contains(&b'\n'));
    let tricks = corpus("boundary-tricks.eml");
    assert!(
        tricks.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n'),
        "no CR-only line end"
    );
    assert!(
        !String::from_utf8_lossy(&tricks).trim_end().ends_with("--"),
        "has a closing boundary"
    );
    let duplicate = String::from_utf8_lossy(&corpus("duplicate-content-type.eml")).to_lowercase();
    assert_eq!(duplicate.matches("\r\ncontent-type:").count(), 4);
    for name in [
        "unsigned-command.eml",
        "fake-signature.eml",
        "duplicate-content-type.eml",
    ] {
        assert_crlf(&corpus(name));
    }
}

#[test]
fn the_generated_hostile_messages_have_the_claimed_shape() {
    let deep = nested(1000);
    assert_crlf(&deep);
    assert_eq!(
        String::from_utf8_lossy(&deep)
            .matches("multipart/mixed")
            .count(),
        1000
    );

    let many = many_parts(100_000);
    assert_crlf(&many);
    assert_eq!(many.windows(5).filter(|w| w == b"--p\r\n").count(), 100_000);
    let message = parse(&many);
    let PartType::Multipart(children) = &message.parts[0].body else {
        panic!("not multipart");
    };
    assert_eq!(children.len(), 100_000);

    let size = 20 << 20;
    let huge = huge_header(size);
    assert_crlf(&huge);
    let text = String::from_utf8(huge).expect("ASCII");
    let start = text.find("X-Padding:").expect("padding");
    let end = text[start..].find("\r\nContent-Type:").expect("end") + start + 2;
    assert_eq!(end - start, size);
    assert!(text[start..end].split("\r\n").all(|line| line.len() < 80));
}
