//! Inbound mail built the way members' software builds it, signed by GnuPG.
//!
//! GnuPG signs (and encrypts) in a throw-away home with
//! `--faked-system-time`, so a test chooses when each signature was made,
//! and the MIME around it follows RFC 3156 byte for byte, with CRLF line
//! ends. Also the generators for the hostile messages too big to keep in
//! `tests/data/inbound/`; `inbound_mail.rs` holds the tests that prove each
//! builder makes what it claims.
//!
//! Nothing here calls the project's own code: a builder that shared the
//! parser or the signer under test would hide the bugs it should reveal.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;

use super::{keys, path, who};

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
const DATE_NOW: &str = "Mon, 01 Jun 2026 11:59:00 +0000";

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

fn unique(prefix: &str) -> String {
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
fn boundary() -> String {
    unique("=_embargo_test_")
}

// ---------------------------------------------------------------------------
// GnuPG

/// A throw-away GnuPG home; its agent is stopped when it is dropped.
pub struct GnuPg {
    home: tempfile::TempDir,
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
    armor: Vec<u8>,
    micalg: &'static str,
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

// ---------------------------------------------------------------------------
// MIME pieces

/// `text` with every line end, and a final one, as CRLF.
pub fn crlf(text: &str) -> String {
    let mut out = text.replace("\r\n", "\n").replace('\n', "\r\n");
    if !out.is_empty() && !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out
}

fn crlf_bytes(bytes: &[u8]) -> Vec<u8> {
    crlf(std::str::from_utf8(bytes).expect("gpg armor is ASCII")).into_bytes()
}

/// A subject as an RFC 2047 encoded word when it is not plain ASCII.
fn encode_word(text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(text);
    format!("=?UTF-8?B?{b64}?=")
}

/// Whether `text` must be quoted-printable to survive as 7bit mail and
/// keep a signature valid: 8-bit bytes, long lines, trailing white space
/// (which transports strip) and `From ` (which mbox mangles).
fn needs_qp(text: &str) -> bool {
    !text.is_ascii()
        || text
            .lines()
            .any(|line| line.len() > 76 || line.ends_with([' ', '\t']) || line.starts_with("From "))
}

/// Quoted-printable (RFC 2045) of `text`, lines ending in CRLF.
fn quoted_printable(text: &str) -> String {
    let mut out = String::new();
    let text = crlf(text);
    for line in text.strip_suffix("\r\n").unwrap_or(&text).split("\r\n") {
        let bytes = line.as_bytes();
        let mut width = 0;
        for (i, &byte) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let literal = match byte {
                b' ' | b'\t' => !last,
                b'F' => !(i == 0 && line.starts_with("From ")),
                b'=' => false,
                33..=126 => true,
                _ => false,
            };
            let piece = if literal {
                (byte as char).to_string()
            } else {
                format!("={byte:02X}")
            };
            if width + piece.len() > 75 {
                out.push_str("=\r\n");
                width = 0;
            }
            width += piece.len();
            out.push_str(&piece);
        }
        out.push_str("\r\n");
    }
    out
}

/// A text/plain entity (headers and body): 7bit when that is safe,
/// otherwise quoted-printable.
fn text_part(text: &str) -> Vec<u8> {
    let (encoding, body) = if needs_qp(text) {
        ("quoted-printable", quoted_printable(text))
    } else {
        ("7bit", crlf(text))
    };
    format!(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n{body}"
    )
    .into_bytes()
}

fn attachment_part(attachment: &Attachment) -> Vec<u8> {
    let (name, disposition) = match &attachment.filename {
        Some(file) => (
            format!("; name=\"{file}\""),
            format!("attachment; filename=\"{file}\""),
        ),
        None => (String::new(), "attachment".to_owned()),
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(&attachment.bytes);
    let mut out = format!(
        "Content-Type: {}{name}\r\nContent-Disposition: {disposition}\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        attachment.content_type
    );
    for line in b64.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).expect("base64"));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// A multipart entity. Every part ends in CRLF, which stays part of it:
/// the CRLF written before each delimiter belongs to the delimiter
/// (RFC 2046 §5.1.1), so a signed part's bytes are exactly what was signed.
fn multipart(subtype: &str, params: &str, preamble: &str, parts: &[&[u8]]) -> Vec<u8> {
    let b = boundary();
    let mut out =
        format!("Content-Type: multipart/{subtype};{params}\r\n boundary=\"{b}\"\r\n\r\n");
    if !preamble.is_empty() {
        out.push_str(&crlf(preamble));
    }
    let mut out = out.into_bytes();
    for (i, part) in parts.iter().enumerate() {
        assert!(part.ends_with(b"\r\n"), "a part must end in CRLF");
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{b}\r\n").as_bytes());
        out.extend_from_slice(part);
    }
    out.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    out
}

/// The text, alone or with its attachments in a multipart/mixed.
fn content(text: &str, attachments: &[Attachment]) -> Vec<u8> {
    let text = text_part(text);
    if attachments.is_empty() {
        return text;
    }
    let files: Vec<Vec<u8>> = attachments.iter().map(attachment_part).collect();
    let mut parts: Vec<&[u8]> = vec![&text];
    parts.extend(files.iter().map(Vec::as_slice));
    multipart("mixed", "", "", &parts)
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

// ---------------------------------------------------------------------------
// Hostile messages generated at test time

fn hostile_headers(id: &str) -> String {
    format!(
        "From: Alice <{}>\r\nTo: {REQUEST_ADDRESS}\r\nSubject: command\r\nDate: {DATE_NOW}\r\nMessage-ID: <{id}@project.example>\r\nMIME-Version: 1.0\r\n",
        who::ALICE
    )
}

/// A message from Alice whose multiparts nest `depth` deep (boundaries
/// `n1` … `nDEPTH`, outermost first), with an unsigned text/plain
/// `SPONSOR mallory@evil.example` at the bottom. `nested(1000)` is
/// `tests/data/inbound/nested-1000.eml`.
pub fn nested(depth: usize) -> Vec<u8> {
    let mut out = hostile_headers(&format!("nested-{depth}"));
    for level in 1..=depth {
        out.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"n{level}\"\r\n\r\n--n{level}\r\n"
        ));
    }
    out.push_str(
        "Content-Type: text/plain; charset=us-ascii\r\n\r\nSPONSOR mallory@evil.example\r\n",
    );
    for level in (1..=depth).rev() {
        out.push_str(&format!("\r\n--n{level}--\r\n"));
    }
    out.into_bytes()
}

/// A message from Alice: one multipart/mixed with `n` parts, each an empty
/// header block and `x`, except the last, an unsigned
/// `SUSPEND dave@vendor.example`.
pub fn many_parts(n: usize) -> Vec<u8> {
    let mut out = hostile_headers(&format!("parts-{n}"));
    out.push_str("Content-Type: multipart/mixed; boundary=\"p\"\r\n\r\n");
    for _ in 1..n {
        out.push_str("--p\r\n\r\nx\r\n");
    }
    out.push_str("--p\r\n\r\nSUSPEND dave@vendor.example\r\n--p--\r\n");
    out.into_bytes()
}

/// A message from Alice whose `X-Padding` header field is exactly `bytes`
/// long (name, value, folding and its final CRLF), folded into lines
/// shorter than 80 bytes, then an unsigned text/plain
/// `SUSPEND dave@vendor.example`.
pub fn huge_header(bytes: usize) -> Vec<u8> {
    let mut field = String::with_capacity(bytes);
    field.push_str("X-Padding: x");
    let mut line = field.len();
    // Leave room for the final CRLF; a fold costs CRLF, a space and an x.
    while field.len() + 2 < bytes {
        if line >= 76 && bytes - 2 - field.len() >= 4 {
            field.push_str("\r\n ");
            line = 1;
        }
        field.push('x');
        line += 1;
    }
    field.push_str("\r\n");
    let mut out = hostile_headers("huge-header");
    out.push_str(&field);
    out.push_str(
        "Content-Type: text/plain; charset=us-ascii\r\n\r\nSUSPEND dave@vendor.example\r\n",
    );
    out.into_bytes()
}
