//! Reading inbound mail (mail-parser), within limits, down to what a
//! signature covers.
//!
//! Only the message's root decides how it is authenticated: a root
//! `multipart/signed` (the signed first part and its signature), a root
//! `multipart/encrypted` (the OpenPGP payload, signed inside), or a root
//! `text/plain` holding a cleartext-signed block. Anything else — a signed
//! part wrapped in `multipart/mixed` beside unsigned text, a forwarded
//! `message/rfc822` — is unsigned as a whole. The command text is then read
//! from the verified bytes alone ([`signed_content`]), never from the
//! message around them.

use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders, PartType};

use super::raw::{crlf, find};

mod prescan;
use prescan::prescan;

/// Size and structure limits, checked before and after parsing.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_parts: usize,
    /// Header fields in the whole message, every part's included.
    pub max_headers: usize,
    /// Bytes in one header block (so in one header field).
    pub max_header_bytes: usize,
}

/// Why a message was dropped without being read further.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Dropped {
    #[error("larger than {0} bytes")]
    TooLarge(usize),
    #[error("MIME nested deeper than {0}")]
    TooDeep(usize),
    #[error("more than {0} MIME parts")]
    TooManyParts(usize),
    #[error("more than {0} header fields")]
    TooManyHeaders(usize),
    #[error("a header block larger than {0} bytes")]
    HeaderTooLarge(usize),
    #[error("a multipart or message/rfc822 part is base64 or quoted-printable encoded")]
    EncodedContainer,
    #[error("not a MIME message")]
    Unparsable,
}

/// How an inbound message claims to be authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A root `multipart/signed`: the first part exactly as signed (CRLF)
    /// and the detached signature.
    Signed { signed: Vec<u8>, signature: Vec<u8> },
    /// A root `multipart/encrypted`: the OpenPGP message.
    Encrypted { payload: Vec<u8> },
    /// A root `text/plain` with a cleartext-signed block (from its BEGIN
    /// line to its END line).
    Cleartext { armored: Vec<u8> },
    /// A delivery status notification, with the addresses it was sent to
    /// (envelope and header recipients) and its first `Status:` code.
    Bounce {
        recipients: Vec<String>,
        status: Option<String>,
    },
    /// Nothing that could authenticate a command.
    Unsigned,
}

/// What a verified MIME entity holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignedContent {
    /// The text of its `text/plain` parts, in order.
    pub text: String,
    /// Attached certificates (`application/pgp-keys`).
    pub keys: Vec<Vec<u8>>,
    /// Addresses in its own (protected) To header.
    pub to: Vec<String>,
}

fn parse<'x>(bytes: &'x [u8], limits: &Limits) -> Result<Message<'x>, Dropped> {
    // mail-parser 0.11 asserts on some malformed nestings of multiparts
    // (`debug_assert!`, so debug builds panic; found by
    // `examples/fuzz_ingest.rs`, the inputs are
    // `tests/data/fuzz-corpus/crash-530c190305d0f6c9.eml` and
    // `crash-8de5a9834e0f1054.eml`): a stranger's message must not be able
    // to crash `embargo ingest`, whatever the build, so a panic there is
    // an unparsable message.
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        MessageParser::default().parse(bytes)
    }));
    let message = parsed
        .unwrap_or_else(|_| {
            tracing::warn!("malformed MIME made the parser panic; refused");
            None
        })
        .ok_or(Dropped::Unparsable)?;
    if message.parts.len() > limits.max_parts {
        return Err(Dropped::TooManyParts(limits.max_parts));
    }
    // Depth of the part tree, without recursion.
    let mut stack = vec![(0usize, 1usize)];
    let mut seen = 0usize;
    while let Some((id, depth)) = stack.pop() {
        seen += 1;
        if depth > limits.max_depth {
            return Err(Dropped::TooDeep(limits.max_depth));
        }
        if seen > limits.max_parts {
            return Err(Dropped::TooManyParts(limits.max_parts));
        }
        if let Some(PartType::Multipart(children)) = message.parts.get(id).map(|p| &p.body) {
            for child in children {
                stack.push((*child as usize, depth + 1));
            }
        }
    }
    Ok(message)
}

fn type_of(part: &mail_parser::MessagePart<'_>) -> (String, String) {
    part.content_type()
        .map(|ct| {
            (
                ct.ctype().to_ascii_lowercase(),
                ct.subtype().unwrap_or_default().to_ascii_lowercase(),
            )
        })
        .unwrap_or_else(|| ("text".to_owned(), "plain".to_owned()))
}

fn content_type_headers(part: &mail_parser::MessagePart<'_>) -> usize {
    part.headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case("Content-Type"))
        .count()
}

fn addresses(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Address(address) => address
            .iter()
            .filter_map(|a| a.address())
            .map(|a| a.to_ascii_lowercase())
            .collect(),
        HeaderValue::Text(text) => vec![text.trim().trim_matches(['<', '>']).to_ascii_lowercase()],
        HeaderValue::TextList(list) => list
            .iter()
            .map(|t| t.trim().trim_matches(['<', '>']).to_ascii_lowercase())
            .collect(),
        _ => Vec::new(),
    }
}

/// Classifies a message by its root.
pub fn read_inbound(bytes: &[u8], limits: &Limits) -> Result<Inbound, Dropped> {
    prescan(bytes, limits)?;
    let bytes = crlf(bytes);
    let message = parse(&bytes, limits)?;
    let root = message.parts.first().ok_or(Dropped::Unparsable)?;
    // Two Content-Type headers: which one is meant is anybody's guess.
    if content_type_headers(root) > 1 {
        return Ok(Inbound::Unsigned);
    }
    let (ctype, subtype) = type_of(root);
    let children = match &root.body {
        PartType::Multipart(children) => children.clone(),
        _ => Vec::new(),
    };
    let part = |index: usize| {
        children
            .get(index)
            .and_then(|id| message.parts.get(*id as usize))
    };
    match (ctype.as_str(), subtype.as_str()) {
        ("multipart", "signed") => {
            let (Some(first), Some(signature)) = (part(0), part(1)) else {
                return Ok(Inbound::Unsigned);
            };
            if children.len() != 2
                || type_of(signature) != ("application".to_owned(), "pgp-signature".to_owned())
            {
                return Ok(Inbound::Unsigned);
            }
            let start = first.offset_header as usize;
            let end = first.offset_end as usize;
            let Some(signed) = bytes.get(start..end) else {
                return Ok(Inbound::Unsigned);
            };
            Ok(Inbound::Signed {
                signed: signed.to_vec(),
                signature: signature.contents().to_vec(),
            })
        }
        ("multipart", "encrypted") => match part(1) {
            Some(payload) if children.len() == 2 => Ok(Inbound::Encrypted {
                payload: payload.contents().to_vec(),
            }),
            _ => Ok(Inbound::Unsigned),
        },
        ("multipart", "report") => {
            let mut recipients = Vec::new();
            for name in ["Delivered-To", "X-Original-To", "To", "Envelope-To"] {
                for header in root
                    .headers
                    .iter()
                    .filter(|h| h.name().eq_ignore_ascii_case(name))
                {
                    recipients.extend(addresses(header.value()));
                }
            }
            let status = children
                .iter()
                .filter_map(|id| message.parts.get(*id as usize))
                .find(|p| type_of(p).1 == "delivery-status")
                .and_then(|p| {
                    String::from_utf8_lossy(p.contents())
                        .lines()
                        .find_map(|line| {
                            let (name, value) = line.split_once(':')?;
                            name.trim()
                                .eq_ignore_ascii_case("Status")
                                .then(|| value.trim().to_owned())
                        })
                });
            Ok(Inbound::Bounce { recipients, status })
        }
        ("text", "plain") => {
            let text = root.contents();
            let begin = b"-----BEGIN PGP SIGNED MESSAGE-----";
            let end = b"-----END PGP SIGNATURE-----";
            let Some(start) = find(text, begin) else {
                return Ok(Inbound::Unsigned);
            };
            let Some(stop) = find(&text[start..], end) else {
                return Ok(Inbound::Unsigned);
            };
            Ok(Inbound::Cleartext {
                armored: text[start..start + stop + end.len()].to_vec(),
            })
        }
        _ => Ok(Inbound::Unsigned),
    }
}

/// Reads the text and attached keys of a MIME entity that a signature
/// verified: the entity is parsed from those bytes alone.
pub fn signed_content(entity: &[u8], limits: &Limits) -> Result<SignedContent, Dropped> {
    prescan(entity, limits)?;
    let bytes = crlf(entity);
    let message = parse(&bytes, limits)?;
    let mut content = SignedContent::default();
    if let Some(root) = message.parts.first() {
        if content_type_headers(root) > 1 {
            return Ok(content);
        }
        for header in root
            .headers
            .iter()
            .filter(|h| h.name().eq_ignore_ascii_case("To"))
        {
            content.to.extend(addresses(header.value()));
        }
    }
    for part in &message.parts {
        let (ctype, subtype) = type_of(part);
        match (&part.body, ctype.as_str(), subtype.as_str()) {
            (PartType::Text(text), "text", "plain") => {
                if !content.text.is_empty() {
                    content.text.push('\n');
                }
                content.text.push_str(text);
            }
            (_, "application", "pgp-keys") => content.keys.push(part.contents().to_vec()),
            _ => {}
        }
    }
    Ok(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_bytes: 1 << 20,
        max_depth: 20,
        max_parts: 500,
        max_headers: 1000,
        max_header_bytes: 64 * 1024,
    };

    #[test]
    fn only_the_root_decides_how_a_message_is_signed() {
        let signed = b"Content-Type: multipart/signed; boundary=b; protocol=\"application/pgp-signature\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nCONFIRM X\r\n--b\r\nContent-Type: application/pgp-signature\r\n\r\nSIG\r\n--b--\r\n";
        match read_inbound(signed, &LIMITS).expect("reads") {
            Inbound::Signed { signed, signature } => {
                assert_eq!(
                    signed,
                    b"Content-Type: text/plain\r\n\r\nCONFIRM X".to_vec()
                );
                assert_eq!(signature, b"SIG".to_vec());
            }
            other => panic!("{other:?}"),
        }
        let mut wrapped = b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n".to_vec();
        wrapped.extend_from_slice(signed);
        wrapped.extend_from_slice(
            b"\r\n--o\r\nContent-Type: text/plain\r\n\r\nSUSPEND x@y\r\n--o--\r\n",
        );
        assert_eq!(
            read_inbound(&wrapped, &LIMITS).expect("reads"),
            Inbound::Unsigned
        );
    }

    #[test]
    fn limits_drop_before_parsing() {
        let big = vec![b'a'; (1 << 20) + 1];
        assert_eq!(read_inbound(&big, &LIMITS), Err(Dropped::TooLarge(1 << 20)));
        let mut nested = String::new();
        for level in 0..30 {
            nested.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=b{level}\r\n\r\n--b{level}\r\n"
            ));
        }
        nested.push_str("Content-Type: text/plain\r\n\r\nx\r\n");
        assert_eq!(
            read_inbound(nested.as_bytes(), &LIMITS),
            Err(Dropped::TooDeep(20))
        );
    }

    /// The inputs the fuzzer found that made mail-parser 0.11.9 assert
    /// ("Invalid part ID, could not find multipart"): refused, not a
    /// panic.
    #[test]
    fn malformed_multipart_nesting_is_refused_not_a_panic() {
        for message in [
            &include_bytes!("../../tests/data/fuzz-corpus/crash-530c190305d0f6c9.eml")[..],
            &include_bytes!("../../tests/data/fuzz-corpus/crash-8de5a9834e0f1054.eml")[..],
        ] {
            let read = std::panic::catch_unwind(|| {
                let _ = read_inbound(message, &LIMITS);
                let _ = signed_content(message, &LIMITS);
            });
            assert!(read.is_ok(), "the parser's panic escaped");
        }
    }

    #[test]
    fn two_content_types_make_a_message_unsigned() {
        let tricky = b"Content-Type: multipart/signed; boundary=b\r\nContent-Type: text/plain\r\n\r\n--b\r\n\r\nx\r\n--b\r\nContent-Type: application/pgp-signature\r\n\r\nS\r\n--b--\r\n";
        assert_eq!(
            read_inbound(tricky, &LIMITS).expect("reads"),
            Inbound::Unsigned
        );
    }
}
