//! Inbound mail built the way members' software builds it, signed by GnuPG.
//!
//! GnuPG signs (and encrypts) in a throw-away home with
//! `--faked-system-time` (`gnupg.rs`), so a test chooses when each
//! signature was made, and the MIME around it (`mime.rs`) follows RFC 3156
//! byte for byte, with CRLF line ends. The hostile messages too big to keep
//! in `tests/data/inbound/` are in `hostile.rs`; `inbound_mail.rs` holds the
//! tests that prove each builder makes what it claims.
//!
//! Nothing here calls the project's own code: a builder that shared the
//! parser or the signer under test would hide the bugs it should reveal.

use std::sync::atomic::{AtomicU64, Ordering};

use super::gnupg::GnuPg;
use super::mime::{content, crlf, crlf_bytes, encode_word, multipart, text_part};
use super::path;

/// When a signature is made, as GnuPG's `--faked-system-time` value: one
/// minute before [`crate::common::NOW`].
pub const SIGNED_NOW: &str = "20260601T115900!";
/// Thirty days before [`crate::common::NOW`].
pub const SIGNED_30_DAYS_AGO: &str = "20260502T120000!";
/// An hour after [`crate::common::NOW`]: a signature from the future.
pub const SIGNED_IN_AN_HOUR: &str = "20260601T130000!";

/// When [`revoked_key_signed_mime`] revokes the key: 30 seconds before
/// [`crate::common::NOW`], after [`SIGNED_NOW`].
pub const REVOKED_AT: &str = "20260601T115930!";
/// When [`expired_key_signed_mime`] makes its key.
pub const EXPIRING_KEY_MADE_AT: &str = "20260101T000000!";
/// When the key of [`expired_key_signed_mime`] (primary and subkey) expires:
/// 2026-01-31T00:00:00Z, four months before [`crate::common::NOW`].
pub const EXPIRING_KEY_EXPIRES_AT: i64 = 1_769_817_600;
/// When [`expired_key_signed_mime`] signs: inside the key's validity.
pub const SIGNED_IN_JANUARY: &str = "20260115T120000!";

/// The list's posting address in the test config.
pub const LIST_ADDRESS: &str = "security-announce@project.example";
/// The address members send commands to.
pub const REQUEST_ADDRESS: &str = "security-announce-request@project.example";

/// The `Date:` every builder writes unless a test changes it: [`SIGNED_NOW`].
pub const DATE_NOW: &str = "Mon, 01 Jun 2026 11:59:00 +0000";

/// A `--faked-system-time` value as seconds since the epoch.
pub fn signed_at(when: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(when.trim_end_matches('!'), "%Y%m%dT%H%M%S")
        .unwrap_or_else(|err| panic!("faked time {when:?}: {err}"))
        .and_utc()
        .timestamp()
}

/// One attachment of a signed or encrypted message, sent as base64.
pub struct Attachment {
    pub content_type: String,
    pub filename: Option<String>,
    pub bytes: Vec<u8>,
}

impl Attachment {
    /// An attachment of any type.
    pub fn new(content_type: &str, filename: Option<&str>, bytes: &[u8]) -> Self {
        Self {
            content_type: content_type.to_owned(),
            filename: filename.map(str::to_owned),
            bytes: bytes.to_vec(),
        }
    }

    /// A certificate as mail clients attach it (`application/pgp-keys`).
    pub fn pgp_keys(cert_armored: &[u8]) -> Self {
        Self::new(
            "application/pgp-keys",
            Some("OpenPGP_key.asc"),
            cert_armored,
        )
    }
}

/// The outer headers every builder takes. `from` and `to` are written as
/// given, so `"Dave <dave@vendor.example>"` works as well as a bare address.
pub struct Headers {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub message_id: String,
    /// The `Date:` value; [`SIGNED_NOW`] as RFC 5322 text by default.
    pub date: String,
    /// More header fields, written after the standard ones in this order.
    pub extra: Vec<(String, String)>,
}

impl Headers {
    /// Subject "command", a Message-ID unique in this test run, Date one
    /// minute before [`crate::common::NOW`].
    pub fn new(from: &str, to: &str) -> Self {
        Self {
            from: from.to_owned(),
            to: to.to_owned(),
            subject: "command".to_owned(),
            message_id: unique_message_id(from),
            date: DATE_NOW.to_owned(),
            extra: Vec::new(),
        }
    }

    fn write(&self) -> Vec<u8> {
        let mut out = format!(
            "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: {}\r\n",
            self.from,
            self.to,
            encode_word(&self.subject),
            self.date,
            self.message_id
        );
        for (name, value) in &self.extra {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("MIME-Version: 1.0\r\n");
        out.into_bytes()
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{}.{n}", std::process::id())
}

fn unique_message_id(from: &str) -> String {
    let domain = from
        .rsplit('@')
        .next()
        .unwrap_or("member.example")
        .trim_end_matches(['>', ' ']);
    format!("<{}@{domain}>", unique("inbound."))
}

/// A boundary that cannot occur in base64 or quoted-printable text, the
/// trick real mail clients use.
pub fn boundary() -> String {
    unique("=_embargo_test_")
}

fn signed_entity_by(
    gpg: &GnuPg,
    fpr: &str,
    text: &str,
    attachments: &[Attachment],
    when: &str,
    digest: Option<&str>,
) -> Vec<u8> {
    let signed = content(text, attachments);
    let signature = gpg.detach_sign(fpr, &signed, when, digest);
    let sig_part = [
        b"Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n".as_slice(),
        b"Content-Description: OpenPGP digital signature\r\n",
        b"Content-Disposition: attachment; filename=\"signature.asc\"\r\n\r\n",
        &signature.armor,
    ]
    .concat();
    let params = format!(
        " micalg={};\r\n protocol=\"application/pgp-signature\";",
        signature.micalg
    );
    multipart(
        "signed",
        &params,
        "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)",
        &[&signed, &sig_part],
    )
}

// ---------------------------------------------------------------------------
// Builders

/// An RFC 3156 multipart/signed message: the first part is `text` as
/// text/plain (7bit, or quoted-printable when needed), or a multipart/mixed
/// of it and `attachments`; the second is `gpg --detach-sign --armor` by
/// `signer` at `when` over exactly the first part's bytes.
pub fn signed_mime(
    signer: &str,
    headers: &Headers,
    text: &str,
    attachments: &[Attachment],
    when: &str,
) -> Vec<u8> {
    rewrap(headers, &signed_entity(signer, text, attachments, when))
}

/// [`signed_mime`] signed by `fpr`, a secret key already in `gpg`: a key a
/// fixture brought along rather than one of [`super::keys`].
pub fn signed_mime_by(
    gpg: &GnuPg,
    fpr: &str,
    headers: &Headers,
    text: &str,
    when: &str,
) -> Vec<u8> {
    rewrap(headers, &signed_entity_by(gpg, fpr, text, &[], when, None))
}

/// [`signed_mime`] with a SHA-1 signature (`micalg=pgp-sha1`).
pub fn signed_mime_sha1(signer: &str, headers: &Headers, text: &str, when: &str) -> Vec<u8> {
    let (gpg, fpr) = GnuPg::with_secret(signer, when);
    rewrap(
        headers,
        &signed_entity_by(&gpg, &fpr, text, &[], when, Some("SHA1")),
    )
}

/// The multipart/signed entity of [`signed_mime`] alone: its Content-Type
/// header, a blank line and the body, without outer headers.
pub fn signed_entity(signer: &str, text: &str, attachments: &[Attachment], when: &str) -> Vec<u8> {
    let (gpg, fpr) = GnuPg::with_secret(signer, when);
    signed_entity_by(&gpg, &fpr, text, attachments, when, None)
}

/// A whole message: `headers` and MIME-Version, then `entity` (which
/// starts with its own Content-Type header) unchanged.
pub fn rewrap(headers: &Headers, entity: &[u8]) -> Vec<u8> {
    [headers.write(), entity.to_vec()].concat()
}

/// An RFC 3156 multipart/encrypted message whose payload is one pass of
/// `gpg --sign --encrypt --armor`, signed by `signer` at `when` and
/// encrypted to `recipient_cert` only, over a MIME entity: `text` as
/// text/plain, or a multipart/mixed of it and `attachments`.
pub fn signed_encrypted_mime(
    signer: &str,
    recipient_cert: &[u8],
    headers: &Headers,
    text: &str,
    attachments: &[Attachment],
    when: &str,
) -> Vec<u8> {
    let (gpg, fpr) = GnuPg::with_secret(signer, when);
    let recipient = gpg.import(when, recipient_cert);
    let input = gpg.write("plain.eml", &content(text, attachments));
    let output = gpg.home.path().join("encrypted.asc");
    // The list key is made at NOW, after SIGNED_NOW: without the two
    // --ignore options GnuPG finds it "created in the future" and will not
    // encrypt to it.
    gpg.run(
        when,
        &[
            "--ignore-time-conflict",
            "--ignore-valid-from",
            "--trust-model",
            "always",
            "--local-user",
            &fpr,
            "--recipient",
            &recipient,
            "--armor",
            "--sign",
            "--encrypt",
            "--output",
            path(&output),
            path(&input),
        ],
    );
    let version = b"Content-Type: application/pgp-encrypted\r\nContent-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n";
    let payload = [
        b"Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n".as_slice(),
        b"Content-Description: OpenPGP encrypted message\r\n",
        b"Content-Disposition: inline; filename=\"encrypted.asc\"\r\n\r\n",
        &crlf_bytes(&gpg.read("encrypted.asc")),
    ]
    .concat();
    let entity = multipart(
        "encrypted",
        " protocol=\"application/pgp-encrypted\";",
        "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)",
        &[version, &payload],
    );
    rewrap(headers, &entity)
}

/// A text/plain message (7bit, or 8bit for non-ASCII) whose body is
/// `gpg --clearsign` by `signer` at `when` of `text`, then `after` on the
/// lines following `-----END PGP SIGNATURE-----` (nothing when empty).
pub fn cleartext_signed(
    signer: &str,
    headers: &Headers,
    text: &str,
    after: &str,
    when: &str,
) -> Vec<u8> {
    let (gpg, fpr) = GnuPg::with_secret(signer, when);
    let input = gpg.write("text.txt", text.as_bytes());
    let output = gpg.home.path().join("text.asc");
    gpg.run(
        when,
        &[
            "--local-user",
            &fpr,
            "--clearsign",
            "--output",
            path(&output),
            path(&input),
        ],
    );
    let mut body = String::from_utf8(gpg.read("text.asc")).expect("clearsigned UTF-8");
    body.push_str(after);
    let encoding = if body.is_ascii() { "7bit" } else { "8bit" };
    let entity = format!(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n{}",
        crlf(&body)
    );
    rewrap(headers, entity.as_bytes())
}

/// A multipart/mixed message: first `signed` (an entity from
/// [`signed_entity`]) as a nested part, then an unsigned text/plain part
/// holding `unsigned_text`.
pub fn mixed_with_unsigned(headers: &Headers, signed: &[u8], unsigned_text: &str) -> Vec<u8> {
    let entity = multipart("mixed", "", "", &[signed, &text_part(unsigned_text)]);
    rewrap(headers, &entity)
}

/// A multipart/mixed message forwarding `inner` (a whole message) as an
/// inline message/rfc822 part after a text/plain part holding `note`.
pub fn forwarded(headers: &Headers, note: &str, inner: &[u8]) -> Vec<u8> {
    let encoding = if inner.is_ascii() { "7bit" } else { "8bit" };
    let mut message = format!(
        "Content-Type: message/rfc822\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
    )
    .into_bytes();
    message.extend_from_slice(inner);
    if !message.ends_with(b"\r\n") {
        message.extend_from_slice(b"\r\n");
    }
    let entity = multipart("mixed", "", "", &[&text_part(note), &message]);
    rewrap(headers, &entity)
}

/// A plain, unsigned text/plain message.
pub fn unsigned(headers: &Headers, text: &str) -> Vec<u8> {
    rewrap(headers, &text_part(text))
}

/// A delivery status notification as Postfix writes it
/// (multipart/report; report-type=delivery-status) to `to` (the VERP
/// return path of the original) about `original_recipient`. `status` "5…"
/// reports a failure (Action: failed), "4…" a delay (Action: delayed). The
/// third part (text/rfc822-headers) holds `original_message_id`, with angle
/// brackets added when missing.
pub fn bounce(
    to: &str,
    original_recipient: &str,
    status: &str,
    original_message_id: &str,
) -> Vec<u8> {
    let domain = original_recipient
        .rsplit('@')
        .next()
        .unwrap_or("vendor.example");
    let mta = format!("mx.{domain}");
    let hard = status.starts_with('5');
    let (subject, action, code, why) = if hard {
        (
            "Undelivered Mail Returned to Sender",
            "failed",
            550,
            "Recipient address rejected: User unknown in virtual mailbox table",
        )
    } else {
        (
            "Delayed Mail (still being retried)",
            "delayed",
            452,
            "Mailbox full, try again later",
        )
    };
    let id = if original_message_id.starts_with('<') {
        original_message_id.to_owned()
    } else {
        format!("<{original_message_id}>")
    };
    let headers = Headers {
        from: format!("Mail Delivery System <MAILER-DAEMON@{mta}>"),
        to: to.to_owned(),
        subject: subject.to_owned(),
        message_id: format!("<{}@{mta}>", unique("dsn.")),
        date: DATE_NOW.to_owned(),
        extra: vec![("Auto-Submitted".to_owned(), "auto-replied".to_owned())],
    };
    let notice = crlf(&format!(
        "Content-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n\
         This is the mail system at host {mta}.\n\n\
         I'm sorry to have to inform you that your message could not\n\
         be delivered to one or more recipients.\n\n\
         <{original_recipient}>: host {mta} said: {code} {status} {why}\n"
    ));
    let report = crlf(&format!(
        "Content-Description: Delivery report\nContent-Type: message/delivery-status\n\n\
         Reporting-MTA: dns; {mta}\n\
         Arrival-Date: Mon, 01 Jun 2026 11:58:00 +0000\n\n\
         Final-Recipient: rfc822; {original_recipient}\n\
         Original-Recipient: rfc822;{original_recipient}\n\
         Action: {action}\n\
         Status: {status}\n\
         Remote-MTA: dns; {mta}\n\
         Diagnostic-Code: smtp; {code} {status} <{original_recipient}>: {why}\n"
    ));
    let original = crlf(&format!(
        "Content-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n\n\
         Return-Path: <{to}>\n\
         From: Test list <{LIST_ADDRESS}>\n\
         To: {original_recipient}\n\
         Subject: [embargo] security announcement\n\
         Date: Mon, 01 Jun 2026 11:57:00 +0000\n\
         Message-ID: {id}\n\
         MIME-Version: 1.0\n"
    ));
    let entity = multipart(
        "report",
        " report-type=delivery-status;",
        "This is a MIME-encapsulated message.",
        &[notice.as_bytes(), report.as_bytes(), original.as_bytes()],
    );
    [b"Return-Path: <>\r\n".to_vec(), rewrap(&headers, &entity)].concat()
}

/// `email`'s fixture key signs a [`signed_mime`] message at `when`; then
/// its owner revokes the whole key (`gpg --gen-revoke`, reason 1 "key has
/// been compromised", a hard revocation, dated [`REVOKED_AT`]) and imports
/// the revocation. Returns `(armored public certificate with the
/// revocation, message)`.
pub fn revoked_key_signed_mime(
    email: &str,
    headers: &Headers,
    text: &str,
    when: &str,
) -> (Vec<u8>, Vec<u8>) {
    let (gpg, fpr) = GnuPg::with_secret(email, when);
    let message = rewrap(
        headers,
        &signed_entity_by(&gpg, &fpr, text, &[], when, None),
    );
    // GnuPG 2.2 refuses --gen-revoke with --batch ("can't do this in batch
    // mode"); with --command-fd and --no-tty it takes its answers on stdin:
    // really revoke, reason 1, no description, confirm.
    let out = gpg.output(
        REVOKED_AT,
        &["--command-fd", "0", "--armor", "--gen-revoke", &fpr],
        Some(b"y\n1\n\ny\n"),
        false,
    );
    assert!(
        out.status.success() && out.stdout.starts_with(b"-----BEGIN PGP PUBLIC KEY BLOCK"),
        "gpg --gen-revoke failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let revocation = gpg.write("revocation.asc", &out.stdout);
    gpg.run(REVOKED_AT, &["--import", path(&revocation)]);
    (gpg.export(REVOKED_AT, &fpr), message)
}

/// A new key for `email`, made at [`EXPIRING_KEY_MADE_AT`]: an Ed25519
/// primary key (certify, sign) and a Cv25519 encryption subkey, both
/// expiring at [`EXPIRING_KEY_EXPIRES_AT`] (2026-01-31T00:00:00Z), with the
/// user ID `Test Member <email>`. It signs a [`signed_mime`] message at
/// [`SIGNED_IN_JANUARY`], while valid. Returns `(armored public
/// certificate, message)`; at [`crate::common::NOW`] the signature is by an
/// expired key (GnuPG reports EXPKEYSIG).
pub fn expired_key_signed_mime(email: &str, headers: &Headers, text: &str) -> (Vec<u8>, Vec<u8>) {
    let gpg = GnuPg::new();
    let uid = format!("Test Member <{email}>");
    let made = EXPIRING_KEY_MADE_AT;
    // Thirty days from EXPIRING_KEY_MADE_AT; GnuPG would read "2026-01-31"
    // as noon of that day.
    let thirty_days = "seconds=2592000";
    gpg.run(
        made,
        &["--quick-gen-key", &uid, "ed25519", "cert,sign", thirty_days],
    );
    let colons = gpg
        .run(made, &["--with-colons", "--list-keys", email])
        .stdout;
    let fpr = String::from_utf8_lossy(&colons)
        .lines()
        .find(|line| line.starts_with("fpr:"))
        .and_then(|line| line.split(':').nth(9))
        .expect("fingerprint")
        .to_owned();
    gpg.run(
        made,
        &["--quick-add-key", &fpr, "cv25519", "encr", thirty_days],
    );
    let message = rewrap(
        headers,
        &signed_entity_by(&gpg, &fpr, text, &[], SIGNED_IN_JANUARY, None),
    );
    (gpg.export(made, &fpr), message)
}
