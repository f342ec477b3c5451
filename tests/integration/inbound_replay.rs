//! `embargo ingest`: a signed command is carried out once, whatever
//! envelope it is re-sent in, and a signature's time is judged by the
//! configured tolerances (`future_skew`, `signature_max_age`) alone.

use base64::Engine as _;

use crate::common::limits::{ingest_measured, list_with};
use crate::common::mail::{
    Headers, LIST_ADDRESS, REQUEST_ADDRESS, SIGNED_NOW, cleartext_signed, rewrap,
    signed_encrypted_mime, signed_entity, signed_mime,
};
use crate::common::{Env, who};

fn command(line: &str) -> String {
    format!("Hello,\n\nList: {LIST_ADDRESS}\n{line}\n\nThanks\n")
}

fn status(env: &Env, email: &str) -> String {
    env.show(email)["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Ingests `message`, which must be carried out: taken, not dropped, and
/// the database changed (at least a reply queued).
fn carried_out(env: &Env, what: &str, message: &[u8]) {
    let before = env.dump();
    let run = ingest_measured(env, message);
    assert_eq!(run.code, 0, "{what}: {}", run.stderr);
    assert!(
        !run.stderr.contains("inbound message dropped"),
        "{what}: dropped:\n{}",
        run.stderr
    );
    assert_ne!(env.dump(), before, "{what}: nothing was done");
}

/// Ingests `message`, which must be dropped for `reason` and change
/// nothing.
fn refused(env: &Env, what: &str, message: &[u8], reason: &str) {
    crate::common::limits::dropped_unchanged(env, what, message, reason);
}

/// Splits a message at its first blank line.
fn split(message: &[u8]) -> (String, String) {
    let text = String::from_utf8(message.to_vec()).expect("ASCII mail");
    let (head, body) = text.split_once("\r\n\r\n").expect("a header block");
    (head.to_owned(), body.to_owned())
}

/// The same message with its root body in another transfer encoding
/// (with bare LF line ends inside the encoding when `lf_inside`).
fn reencoded(message: &[u8], encoding: &str, lf_inside: bool) -> Vec<u8> {
    let (head, body) = split(message);
    let body = if lf_inside {
        body.replace("\r\n", "\n")
    } else {
        body
    };
    let head: Vec<&str> = head
        .lines()
        .filter(|line| !line.starts_with("Content-Transfer-Encoding"))
        .collect();
    let body = match encoding {
        "base64" => {
            let text = base64::engine::general_purpose::STANDARD.encode(body.as_bytes());
            let lines: Vec<&str> = text
                .as_bytes()
                .chunks(76)
                .map(|l| std::str::from_utf8(l).expect("base64"))
                .collect();
            lines.join("\r\n")
        }
        _ => body
            .split("\r\n")
            .map(|line| {
                line.chars()
                    .enumerate()
                    .map(|(i, c)| match c {
                        '=' => "=3D".to_owned(),
                        ' ' if i + 1 == line.len() => "=20".to_owned(),
                        c => c.to_string(),
                    })
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\r\n"),
    };
    format!(
        "{}\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n{body}",
        head.join("\r\n")
    )
    .into_bytes()
}

/// The message with bare LF line ends.
fn lf(message: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(message)
        .replace("\r\n", "\n")
        .into_bytes()
}

/// The message with blanks added at the end of each line of the signed
/// text (a cleartext signature does not cover trailing white space).
fn trailing_blanks(message: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(message);
    let (before, rest) = text.split_once("Hash: ").expect("a cleartext block");
    let (signed, after) = rest
        .split_once("-----BEGIN PGP SIGNATURE-----")
        .expect("a signature block");
    let padded = signed.replace("\r\n", " \t \r\n");
    format!("{before}Hash: {padded}-----BEGIN PGP SIGNATURE-----{after}").into_bytes()
}

fn other_headers() -> Headers {
    let mut headers = Headers::new(who::ALICE, REQUEST_ADDRESS);
    headers.subject = "Re: again".to_owned();
    headers.date = "Mon, 01 Jun 2026 11:59:30 +0000".to_owned();
    headers
}

/// A cleartext-signed command replayed with other line ends and another
/// transfer encoding was carried out again: the replay key was a digest
/// of the bytes as received. It is now a digest of what the signature
/// covers in canonical form, so every re-encoding of the same signed
/// command is a replay; so is a PGP/MIME signed part re-wrapped.
#[test]
fn a_signed_command_replayed_in_another_encoding_is_refused() {
    let env = list_with("");
    let original = cleartext_signed(
        who::ALICE,
        &Headers::new(who::ALICE, REQUEST_ADDRESS),
        &command(&format!("SUSPEND {}", who::DAVE)),
        "",
        SIGNED_NOW,
    );
    carried_out(&env, "the cleartext command", &original);
    assert_eq!(status(&env, who::DAVE), "suspended");
    let (_, body) = split(&original);
    let variants = [
        ("LF line ends", lf(&original)),
        (
            "quoted-printable",
            reencoded(&original, "quoted-printable", false),
        ),
        ("base64", reencoded(&original, "base64", false)),
        ("base64 of LF text", reencoded(&original, "base64", true)),
        ("trailing white space", trailing_blanks(&original)),
        (
            "trailing white space, quoted-printable",
            reencoded(&trailing_blanks(&original), "quoted-printable", false),
        ),
        (
            "other outer headers",
            rewrap(
                &other_headers(),
                format!("Content-Type: text/plain\r\n\r\n{body}").as_bytes(),
            ),
        ),
    ];
    for (what, message) in variants {
        refused(&env, what, &message, "already used");
    }

    let entity = signed_entity(
        who::ALICE,
        &command(&format!("APPROVE {}", who::DAVE)),
        &[],
        SIGNED_NOW,
    );
    let mime = rewrap(&Headers::new(who::ALICE, REQUEST_ADDRESS), &entity);
    carried_out(&env, "the PGP/MIME command", &mime);
    assert_eq!(status(&env, who::DAVE), "active");
    let wrapped = rewrap(&other_headers(), &entity);
    for (what, message) in [
        ("PGP/MIME re-wrapped", wrapped.clone()),
        ("PGP/MIME re-wrapped, LF line ends", lf(&wrapped)),
    ] {
        refused(&env, what, &message, "already used");
    }
}

/// `YYYYMMDDTHHMMSS!` for GnuPG's `--faked-system-time`.
fn faked(when: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(when)
        .expect("an RFC 3339 time")
        .format("%Y%m%dT%H%M%S!")
        .to_string()
}

/// A signature a few seconds in the future was dropped although
/// `future_skew` allows 5 minutes: sequoia was asked to verify at `now`
/// with no tolerance. A near-future signature is now verified at its own
/// time and the configured skew decides, as the configured maximum age
/// does in the past; for each way a command can be signed.
#[test]
fn a_signature_within_the_future_skew_is_accepted() {
    let env = list_with("future_skew = \"5m\"\nsignature_max_age = \"2d\"");
    let list_cert = env.ok(&["key", "export"]).stdout.into_bytes();
    // The clock is at common::NOW, 2026-06-01T12:00:00Z.
    let times = [
        ("10 s ahead", "2026-06-01T12:00:10Z", None),
        ("4 min ahead", "2026-06-01T12:04:00Z", None),
        (
            "6 min ahead",
            "2026-06-01T12:06:00Z",
            Some("from the future"),
        ),
        ("2 days less a minute ago", "2026-05-30T12:01:00Z", None),
        (
            "2 days and a minute ago",
            "2026-05-30T11:59:00Z",
            Some("too old"),
        ),
    ];
    let mut n = 0;
    for (label, when, refusal) in times {
        let when = faked(when);
        let headers = || Headers::new(who::DAVE, REQUEST_ADDRESS);
        let mut next = || {
            n += 1;
            command(&format!("ACK NO-SUCH-{n} affected"))
        };
        let messages = [
            (
                "PGP/MIME",
                signed_mime(who::DAVE, &headers(), &next(), &[], &when),
            ),
            (
                "cleartext",
                cleartext_signed(who::DAVE, &headers(), &next(), "", &when),
            ),
            (
                "encrypted",
                signed_encrypted_mime(who::DAVE, &list_cert, &headers(), &next(), &[], &when),
            ),
        ];
        for (kind, message) in messages {
            let what = format!("{kind}, signed {label}");
            match refusal {
                None => carried_out(&env, &what, &message),
                Some(reason) => refused(&env, &what, &message, reason),
            }
        }
    }
}
