//! The inner entity of a re-sealed post or report (issue 12): what each
//! team member decrypts. The list's preface (who posted, whether their
//! signature was good) comes first; the original message follows whole
//! as `message/rfc822`, attachments included; and the original's Subject,
//! From, To, Cc, Date, Message-ID, In-Reply-To and References stand in
//! the entity's own headers (protected headers, `protected-headers="v1"`),
//! so a reader that understands them shows the real ones while the outer
//! headers stay generic.

use mail_parser::MessageParser;

use super::MailError;
use super::raw::{crlf, find};

/// The original's headers a re-sealed copy carries inside.
const PROTECTED: [&str; 8] = [
    "Subject",
    "From",
    "To",
    "Cc",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
];
/// Longest protected header value kept; a longer one is cut.
const MAX_HEADER: usize = 2000;

/// Builds the inner entity: `preface` (plain text) and `original` (a
/// whole message) under a boundary made of `random`. Refuses an original
/// that is not a message, or one that happens to contain the boundary.
pub fn repost_entity(
    preface: &str,
    original: &[u8],
    random: [u8; 16],
) -> Result<Vec<u8>, MailError> {
    let original = crlf(original);
    let parsed = MessageParser::default()
        .parse(&original)
        .ok_or_else(|| MailError::Build("the original is not a message".to_owned()))?;
    let boundary = format!("=_repost_{}", hex::encode(random));
    if find(&original, boundary.as_bytes()).is_some() {
        return Err(MailError::BoundaryTaken);
    }
    let mut out = Vec::with_capacity(original.len() + preface.len() + 1024);
    out.extend_from_slice(
        format!(
            "Content-Type: multipart/mixed; boundary=\"{boundary}\"; protected-headers=\"v1\"\r\n"
        )
        .as_bytes(),
    );
    for name in PROTECTED {
        if let Some(value) = parsed.header_raw(name) {
            let value = one_line(value);
            if !value.is_empty() {
                out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
        }
    }
    out.extend_from_slice(b"MIME-Version: 1.0\r\n\r\n");
    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    out.extend_from_slice(
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
    );
    out.extend_from_slice(super::qp::encode(preface).as_bytes());
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    out.extend_from_slice(
        format!(
            "Content-Type: message/rfc822\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: {}\r\n\r\n",
            encoding(&original)
        )
        .as_bytes(),
    );
    out.extend_from_slice(&original);
    // The line break before a delimiter belongs to the delimiter: one of
    // its own, so the embedded message keeps its last line end.
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok(out)
}

/// A header value on one line: folding undone, any other line break or
/// control character dropped, cut at [`MAX_HEADER`] bytes (on a character
/// boundary).
fn one_line(value: &str) -> String {
    let mut line = String::with_capacity(value.len().min(MAX_HEADER));
    let mut space = false;
    for c in value.trim().chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if c.is_control() {
            continue;
        }
        if space && !line.is_empty() {
            line.push(' ');
        }
        space = false;
        if line.len() + c.len_utf8() > MAX_HEADER {
            break;
        }
        line.push(c);
    }
    line
}

/// A message's own place in its thread, as its headers say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadHeaders {
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
}

/// Reads the Message-ID, In-Reply-To and References of `message` (raw
/// values, on one line each).
pub fn thread_headers(message: &[u8]) -> ThreadHeaders {
    let Some(parsed) = MessageParser::default().parse(message) else {
        return ThreadHeaders::default();
    };
    let raw = |name: &str| {
        parsed
            .header_raw(name)
            .map(one_line)
            .filter(|value| !value.is_empty())
    };
    ThreadHeaders {
        message_id: raw("Message-ID"),
        in_reply_to: raw("In-Reply-To"),
        references: raw("References"),
    }
}

/// What a report's own headers say of its sender.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SenderHeaders {
    /// The first From address, if one can be read.
    pub from: Option<String>,
    /// Every `Authentication-Results` value, top first.
    pub authentication_results: Vec<String>,
    /// The key of an `Autocrypt` header whose `addr` is the From address
    /// (binary, unchecked): the reporter's key, if they sent one this way.
    pub autocrypt_key: Option<Vec<u8>>,
}

/// Reads a message's From address and `Authentication-Results` values.
pub fn sender_headers(message: &[u8]) -> SenderHeaders {
    let Some(parsed) = MessageParser::default().parse(message) else {
        return SenderHeaders::default();
    };
    let from: Option<String> = parsed
        .from()
        .and_then(|from| from.first())
        .and_then(|address| address.address())
        .map(str::to_owned);
    let autocrypt_key = from.as_deref().and_then(|from| {
        parsed
            .headers_raw()
            .filter(|(name, _)| name.eq_ignore_ascii_case("Autocrypt"))
            .find_map(|(_, value)| autocrypt_keydata(value, from))
    });
    SenderHeaders {
        from,
        authentication_results: parsed
            .headers_raw()
            .filter(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))
            .map(|(_, value)| value.to_owned())
            .collect(),
        autocrypt_key,
    }
}

/// The `keydata` of one Autocrypt header value (Autocrypt Level 1, 2.1)
/// when its `addr` is `from`; a header with an attribute we do not know
/// that is not `_`-prefixed is ignored, as the specification says.
fn autocrypt_keydata(value: &str, from: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let mut addr = None;
    let mut keydata = None;
    for attribute in value.split(';') {
        let (name, text) = attribute.split_once('=')?;
        match name.trim() {
            "addr" => addr = Some(text.trim()),
            "keydata" => keydata = Some(text),
            "prefer-encrypt" => {}
            other if other.starts_with('_') => {}
            _ => return None,
        }
    }
    if !addr?.eq_ignore_ascii_case(from.trim()) {
        return None;
    }
    let compact: String = keydata?
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
        .filter(|key| !key.is_empty())
}

/// A plain text message of ours (`subject`, `body`), to be re-sealed
/// behind a preface like a message that arrived: the text the list held
/// for a reporter until they sent a key. The subject is made one line.
pub fn plain_message(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "Subject: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{}",
        one_line(subject),
        String::from_utf8_lossy(&crlf(body.as_bytes()))
    )
    .into_bytes()
}

/// The message a recipient of `message` (an RFC 3156 encrypted message)
/// would read once `entity`, its decrypted content, is in its place:
/// every header of `message` but MIME's own, then `entity` (its own
/// headers and body). A header block that cannot be found gives `None`.
pub fn with_decrypted_body(message: &[u8], entity: &[u8]) -> Option<Vec<u8>> {
    let message = crlf(message);
    let end = find(&message, b"\r\n\r\n")?;
    let head = &message[..end + 2];
    let mut out = Vec::with_capacity(head.len() + entity.len() + 2);
    let mut keep = true;
    for line in head.split_inclusive(|&b| b == b'\n') {
        let folded = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !folded {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            let name = String::from_utf8_lossy(name).to_ascii_lowercase();
            keep = !(name.starts_with("content-") || name.trim() == "mime-version");
        }
        if keep {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"MIME-Version: 1.0\r\n");
    // Content that is not an entity (bare text, encrypted as it was) is
    // given the header block a plain text part would have.
    let first_line = entity.split(|&b| b == b'\n').next().unwrap_or_default();
    let header_name = first_line
        .iter()
        .position(|&b| b == b':')
        .is_some_and(|colon| {
            colon > 0
                && first_line[..colon]
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        });
    if !header_name {
        out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n\r\n");
    }
    out.extend_from_slice(&crlf(entity));
    Some(out)
}

/// The transfer encoding that tells the truth about `message`'s bytes:
/// 7bit, 8bit, or binary (a NUL or a line longer than 998 bytes).
fn encoding(message: &[u8]) -> &'static str {
    let long = message.split(|&b| b == b'\n').any(|line| line.len() > 999);
    if long || message.contains(&0) {
        "binary"
    } else if message.iter().any(|&b| b >= 0x80) {
        "8bit"
    } else {
        "7bit"
    }
}

#[cfg(test)]
mod tests {
    use mail_parser::{MessageParser, MimeHeaders, PartType};

    use super::*;

    const ORIGINAL: &[u8] = b"From: Dave <dave@vendor.example>\r\n\
        To: security@project.example\r\n\
        Cc: erin@distro.example\r\n\
        Subject: Heap overflow in the\r\n parser (CVE pending)\r\n\
        Date: Mon, 01 Jun 2026 12:00:00 +0000\r\n\
        Message-ID: <first@vendor.example>\r\n\
        In-Reply-To: <zero@project.example>\r\n\
        References: <older@project.example>\r\n <zero@project.example>\r\n\
        X-Private: not carried\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
        \r\n\
        --b1\r\n\
        Content-Type: text/plain\r\n\
        \r\n\
        The details.\r\n\
        --b1\r\n\
        Content-Type: application/octet-stream; name=\"poc.bin\"\r\n\
        Content-Transfer-Encoding: base64\r\n\
        \r\n\
        AAECAw==\r\n\
        --b1--\r\n";

    const RANDOM: [u8; 16] = [7; 16];

    #[test]
    fn the_copy_carries_the_preface_the_whole_original_and_its_headers_inside() {
        let entity = repost_entity("Posted by Dave; the signature is good.", ORIGINAL, RANDOM)
            .expect("entity");
        let parsed = MessageParser::default().parse(&entity).expect("parses");
        let root = parsed.part(0).expect("root");
        let content_type = root.content_type().expect("content type");
        assert_eq!(content_type.subtype(), Some("mixed"));
        assert_eq!(content_type.attribute("protected-headers"), Some("v1"));
        assert_eq!(
            parsed.subject(),
            Some("Heap overflow in the parser (CVE pending)")
        );
        assert_eq!(parsed.message_id(), Some("first@vendor.example"));
        let text = String::from_utf8_lossy(&entity);
        assert!(
            text.contains("In-Reply-To: <zero@project.example>\r\n"),
            "{text}"
        );
        assert!(
            text.contains("References: <older@project.example> <zero@project.example>\r\n"),
            "{text}"
        );
        assert!(text.contains("Cc: erin@distro.example\r\n"));
        assert!(!text[..text.find("\r\n\r\n").unwrap_or(0)].contains("X-Private"));
        assert_eq!(
            parsed.body_text(0).as_deref(),
            Some("Posted by Dave; the signature is good.")
        );
        // The original, whole and byte for byte, attachment included.
        let inner = parsed
            .parts
            .iter()
            .find_map(|part| match &part.body {
                PartType::Message(message) => Some(message.raw_message().to_vec()),
                _ => None,
            })
            .expect("an embedded message");
        assert_eq!(inner, ORIGINAL);
        assert!(text.contains("Content-Transfer-Encoding: 7bit\r\n"));
    }

    #[test]
    fn header_values_stay_on_one_line_whatever_they_hold() {
        assert_eq!(one_line(" a\r\n\tb  c "), "a b c");
        assert_eq!(one_line("a\rb\nc\u{0}d\u{7f}e"), "a b cde");
        let long = "x".repeat(MAX_HEADER * 2);
        assert_eq!(one_line(&long).len(), MAX_HEADER);
        let wide = "é".repeat(MAX_HEADER);
        let cut = one_line(&wide);
        assert!(cut.len() <= MAX_HEADER && cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn the_transfer_encoding_tells_the_truth_about_the_original() {
        let eight = [ORIGINAL, "Ünïcode body\r\n".as_bytes()].concat();
        assert_eq!(encoding(&eight), "8bit");
        let long = [ORIGINAL, "y".repeat(1200).as_bytes(), b"\r\n"].concat();
        assert_eq!(encoding(&long), "binary");
        let nul = [ORIGINAL, b"\0\r\n".as_slice()].concat();
        assert_eq!(encoding(&nul), "binary");
        assert_eq!(encoding(ORIGINAL), "7bit");
        let entity = repost_entity("p", &eight, RANDOM).expect("entity");
        assert!(String::from_utf8_lossy(&entity).contains("Content-Transfer-Encoding: 8bit\r\n"));
    }

    #[test]
    fn an_original_that_holds_the_boundary_or_is_no_message_is_refused() {
        let boundary = format!("=_repost_{}", hex::encode(RANDOM));
        let holding = [ORIGINAL, format!("--{boundary}--\r\n").as_bytes()].concat();
        assert!(repost_entity("p", &holding, RANDOM).is_err());
        assert!(repost_entity("p", &holding, [8; 16]).is_ok());
        assert!(repost_entity("p", b"", RANDOM).is_err());
    }

    #[test]
    fn an_autocrypt_key_counts_only_for_the_from_address() {
        use base64::Engine as _;
        let key = base64::engine::general_purpose::STANDARD.encode(b"KEYBYTES-0123456789");
        let (head, tail) = key.split_at(8);
        let message = |addr: &str, extra: &str| {
            format!(
                "From: Rita <rita@reporter.example>\r\nAutocrypt: addr={addr};{extra} keydata={head}\r\n {tail}\r\nSubject: x\r\n\r\nbody\r\n"
            )
        };
        let read = |text: String| sender_headers(text.as_bytes()).autocrypt_key;
        assert_eq!(
            read(message("Rita@Reporter.example", " prefer-encrypt=mutual;")),
            Some(b"KEYBYTES-0123456789".to_vec())
        );
        assert_eq!(
            read(message("rita@reporter.example", " _ignored=1;")),
            Some(b"KEYBYTES-0123456789".to_vec())
        );
        // Another address's key, or an attribute we must not ignore.
        assert_eq!(read(message("mallory@reporter.example", "")), None);
        assert_eq!(read(message("rita@reporter.example", " critical=1;")), None);
    }

    #[test]
    fn a_decrypted_entity_takes_the_place_of_the_encrypted_body() {
        let encrypted = b"From: Rita <rita@reporter.example>\r\n\
            Subject: ...\r\n\
            MIME-Version: 1.0\r\n\
            Content-Type: multipart/encrypted; boundary=\"e\";\r\n protocol=\"application/pgp-encrypted\"\r\n\
            \r\n--e\r\nVersion: 1\r\n--e--\r\n";
        let entity = b"Content-Type: text/plain; charset=utf-8\r\n\r\nthe secret\r\n";
        let clear = with_decrypted_body(encrypted, entity).expect("a header block");
        let parsed = MessageParser::default().parse(&clear).expect("parses");
        assert_eq!(parsed.subject(), Some("..."));
        assert_eq!(parsed.body_text(0).as_deref(), Some("the secret\r\n"));
        assert!(!String::from_utf8_lossy(&clear).contains("multipart/encrypted"));
        assert!(!String::from_utf8_lossy(&clear).contains("protocol="));
        // Bare text is made a text part.
        let clear = with_decrypted_body(encrypted, b"just: text? no, a line\r\n").expect("block");
        assert!(String::from_utf8_lossy(&clear).contains("just: text"));
        let clear = with_decrypted_body(encrypted, b"plain words\r\n").expect("block");
        let parsed = MessageParser::default().parse(&clear).expect("parses");
        assert_eq!(parsed.body_text(0).as_deref(), Some("plain words\r\n"));
    }
}
