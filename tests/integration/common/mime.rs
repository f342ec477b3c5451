//! MIME pieces for hand-built mail: CRLF, quoted-printable, parts, multiparts.

use base64::Engine as _;

use super::mail::{Attachment, boundary};

/// `text` with every line end, and a final one, as CRLF.
pub fn crlf(text: &str) -> String {
    let mut out = text.replace("\r\n", "\n").replace('\n', "\r\n");
    if !out.is_empty() && !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out
}

pub fn crlf_bytes(bytes: &[u8]) -> Vec<u8> {
    crlf(std::str::from_utf8(bytes).expect("gpg armor is ASCII")).into_bytes()
}

/// A subject as an RFC 2047 encoded word when it is not plain ASCII.
pub fn encode_word(text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(text);
    format!("=?UTF-8?B?{b64}?=")
}

/// Whether `text` must be quoted-printable to survive as 7bit mail and
/// keep a signature valid: 8-bit bytes, long lines, trailing white space
/// (which transports strip) and `From ` (which mbox mangles).
pub fn needs_qp(text: &str) -> bool {
    !text.is_ascii()
        || text
            .lines()
            .any(|line| line.len() > 76 || line.ends_with([' ', '\t']) || line.starts_with("From "))
}

/// Quoted-printable (RFC 2045) of `text`, lines ending in CRLF.
pub fn quoted_printable(text: &str) -> String {
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
pub fn text_part(text: &str) -> Vec<u8> {
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

pub fn attachment_part(attachment: &Attachment) -> Vec<u8> {
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
pub fn multipart(subtype: &str, params: &str, preamble: &str, parts: &[&[u8]]) -> Vec<u8> {
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
pub fn content(text: &str, attachments: &[Attachment]) -> Vec<u8> {
    let text = text_part(text);
    if attachments.is_empty() {
        return text;
    }
    let files: Vec<Vec<u8>> = attachments.iter().map(attachment_part).collect();
    let mut parts: Vec<&[u8]> = vec![&text];
    parts.extend(files.iter().map(Vec::as_slice));
    multipart("mixed", "", "", &parts)
}
