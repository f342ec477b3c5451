//! MIME structure tests. The signatures here come from a stand-in signer
//! that records what it was asked to sign; real signatures and GnuPG's
//! verdict on them are in the integration tests.

use std::cell::RefCell;

use chrono::TimeZone;

use super::*;

struct RecordingSigner {
    signed: RefCell<Vec<u8>>,
}

impl DetachedSigner for RecordingSigner {
    fn sign_detached(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        *self.signed.borrow_mut() = data.to_vec();
        Ok(b"-----BEGIN PGP SIGNATURE-----\n\nstand-in\n-----END PGP SIGNATURE-----\n".to_vec())
    }

    fn micalg(&self) -> &str {
        "pgp-sha512"
    }
}

fn list() -> ListIdentity {
    ListIdentity {
        name: "Example list".to_owned(),
        address: Email::parse("security-announce@project.example").expect("valid"),
        list_id: "Example list <security-announce.project.example>".to_owned(),
        autocrypt: autocrypt(
            &Email::parse("security-announce@project.example").expect("valid"),
            &[7; 300],
        ),
    }
}

fn entity(signer: &RecordingSigner) -> SignedEntity {
    sign_text(
        &list(),
        "[DF-2026-0001] EMBARGOED: secret title",
        "From the top.\nline with trailing space \n",
        signer,
    )
    .expect("builds")
}

#[test]
fn the_signature_covers_exactly_the_first_part_as_it_appears_in_the_entity() {
    let signer = RecordingSigner {
        signed: RefCell::new(Vec::new()),
    };
    let entity = entity(&signer);
    let signed = signer.signed.borrow().clone();
    let text = String::from_utf8(entity.as_bytes().to_vec()).expect("ascii");
    let boundary = text
        .split("boundary=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("boundary");
    let first = text
        .split(&format!("--{boundary}\r\n"))
        .nth(1)
        .and_then(|part| part.strip_suffix("\r\n"))
        .expect("first part");
    assert_eq!(first.as_bytes(), signed.as_slice());
    assert!(text.starts_with("Content-Type: multipart/signed;"));
    assert!(
        text.contains("micalg=\"pgp-sha512\"") || text.contains("micalg=pgp-sha512"),
        "{text}"
    );
    assert!(first.contains("protected-headers=\"v1\""));
    assert!(first.contains("Content-Transfer-Encoding: quoted-printable"));
    assert!(first.contains("=46rom the top."), "{first}");
    assert!(first.contains("trailing space=20"), "{first}");
}

#[test]
fn the_encrypted_message_keeps_the_advisory_out_of_every_outer_header() {
    let signer = RecordingSigner {
        signed: RefCell::new(Vec::new()),
    };
    let _ = entity(&signer);
    let member = Email::parse("dave@vendor.example").expect("valid");
    let list = list();
    let outer = Outer {
        list: &list,
        to: &member,
        subject: "[embargo] security announcement",
        message_id: "<0123abcd@project.example>",
        date: Utc
            .with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
            .single()
            .expect("valid"),
        thread: None,
    };
    let message = encrypted_message(
        &outer,
        b"-----BEGIN PGP MESSAGE-----\n\nxyz\n-----END PGP MESSAGE-----\n",
    )
    .expect("builds");
    let text = String::from_utf8(message).expect("ascii");
    assert!(
        !text.contains("secret title") && !text.contains("DF-2026"),
        "{text}"
    );
    let parsed = mail_parser::MessageParser::default()
        .parse(text.as_bytes())
        .expect("parses");
    assert_eq!(parsed.subject(), Some("[embargo] security announcement"));
    assert_eq!(
        parsed
            .to()
            .and_then(|to| to.first())
            .and_then(|a| a.address()),
        Some("dave@vendor.example")
    );
    assert_eq!(parsed.to().map(|to| to.iter().count()), Some(1));
    assert!(parsed.cc().is_none() && parsed.bcc().is_none());
    assert_eq!(parsed.message_id(), Some("0123abcd@project.example"));
    assert!(text.contains("Content-Type: multipart/encrypted;"));
    assert!(text.contains("protocol=\"application/pgp-encrypted\""));
    assert!(text.contains("List-Id: Example list <security-announce.project.example>"));
    assert!(
        text.contains(
            "Autocrypt: addr=security-announce@project.example; prefer-encrypt=mutual;\r\n keydata="
        ),
        "{text}"
    );
    for line in text.split("\r\n") {
        assert!(line.len() <= 998, "line too long");
    }
}

#[test]
fn header_values_cannot_inject_headers() {
    let signer = RecordingSigner {
        signed: RefCell::new(Vec::new()),
    };
    let mut list = list();
    list.name = "Evil\r\nBcc: eve@evil.example".to_owned();
    let entity =
        sign_text(&list, "subject\r\nBcc: eve@evil.example", "body", &signer).expect("builds");
    let text = String::from_utf8(entity.as_bytes().to_vec()).expect("ascii");
    assert!(!text.contains("\r\nBcc:"), "{text}");
}

// A re-sealed post's entity is built by `repost_entity` and signed whole:
// the signature covers exactly the bytes between the first two
// delimiters, and the signature part follows as RFC 3156 says.
#[test]
fn a_raw_entity_is_signed_over_exactly_its_bytes() {
    let signer = RecordingSigner {
        signed: RefCell::new(Vec::new()),
    };
    let original = b"From: dave@vendor.example\r\nSubject: hi\r\nMessage-ID: <a@b>\r\n\r\nBody\r\n";
    let inner = repost_entity("Posted by Dave.", original, [1; 16]).expect("inner");
    let entity = sign_entity(&inner, &signer, [2; 16]).expect("signed");
    let text = String::from_utf8(entity.as_bytes().to_vec()).expect("ascii");
    let boundary = format!("=_signed_{}", hex::encode([2u8; 16]));
    assert!(
        text.starts_with("Content-Type: multipart/signed;"),
        "{text}"
    );
    assert!(text.contains("protocol=\"application/pgp-signature\""));
    assert!(text.contains("micalg=\"pgp-sha512\""));
    let delimiter = format!("\r\n--{boundary}\r\n");
    let first = text
        .find(&format!("--{boundary}\r\n"))
        .expect("first delimiter")
        + boundary.len()
        + 4;
    let second = text[first..].find(&delimiter).expect("second delimiter") + first;
    let signed = signer.signed.borrow().clone();
    assert_eq!(&text.as_bytes()[first..second], signed.as_slice());
    assert_eq!(signed, inner[..inner.len() - 2].to_vec());
    assert!(text[second..].contains("Content-Type: application/pgp-signature"));
    assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    // Never sent in clear.
    let member = Email::parse("dave@vendor.example").expect("valid");
    let list = list();
    let outer = Outer {
        list: &list,
        to: &member,
        subject: "[embargo] team",
        message_id: "<x@project.example>",
        date: Utc
            .with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
            .single()
            .expect("valid"),
        thread: None,
    };
    assert!(signed_message(&outer, &entity).is_err());
    // An entity that holds the boundary is refused.
    let holding = [inner.as_slice(), format!("--{boundary}\r\n").as_bytes()].concat();
    assert!(sign_entity(&holding, &signer, [2; 16]).is_err());
}

#[test]
fn outer_thread_headers_are_written_when_given() {
    let member = Email::parse("dave@vendor.example").expect("valid");
    let list = list();
    let outer = Outer {
        list: &list,
        to: &member,
        subject: "[embargo] team",
        message_id: "<t.00@project.example>",
        date: Utc
            .with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
            .single()
            .expect("valid"),
        thread: Some(Thread {
            in_reply_to: Some("<t.11@project.example>"),
            references: Some("<t.22@project.example> <t.11@project.example>"),
            reply_to: Some("security+case-2026-0001-00ff@project.example"),
        }),
    };
    let message = encrypted_message(
        &outer,
        b"-----BEGIN PGP MESSAGE-----\n\nx\n-----END PGP MESSAGE-----\n",
    )
    .expect("message");
    let text = String::from_utf8_lossy(&message);
    assert!(
        text.contains("In-Reply-To: <t.11@project.example>\r\n"),
        "{text}"
    );
    assert!(
        text.contains("References: <t.22@project.example> <t.11@project.example>\r\n"),
        "{text}"
    );
    assert!(
        text.contains("Reply-To: security+case-2026-0001-00ff@project.example\r\n"),
        "{text}"
    );
}

/// Regression: lettre makes CRLF line ends by inserting each CR in place,
/// quadratic in the body's size; a 1 MiB report re-sealed to 50 members
/// took 6 s. The ciphertext is given to it with CRLF already.
#[test]
fn a_large_ciphertext_is_wrapped_without_a_quadratic_crlf_pass() {
    let member = Email::parse("dave@vendor.example").expect("valid");
    let list = list();
    let outer = Outer {
        list: &list,
        to: &member,
        subject: "[embargo] x",
        message_id: "<big@project.example>",
        date: Utc
            .with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
            .single()
            .expect("valid"),
        thread: None,
    };
    let mut armored = b"-----BEGIN PGP MESSAGE-----\n\n".to_vec();
    while armored.len() < 12 << 20 {
        armored.extend_from_slice(&[b'A'; 64]);
        armored.push(b'\n');
    }
    armored.extend_from_slice(b"-----END PGP MESSAGE-----\n");
    let started = std::time::Instant::now();
    let message = encrypted_message(&outer, &armored).expect("message");
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(3),
        "wrapping 12 MiB took {took:?}"
    );
    assert!(!message.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));
}
