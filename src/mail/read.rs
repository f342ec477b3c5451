//! Taking PGP/MIME apart (mail-parser): the ciphertext of a
//! `multipart/encrypted` message, and the exact signed bytes and the
//! signature of a `multipart/signed` entity.

use mail_parser::{MessageParser, MimeHeaders};

use super::MailError;

/// The two halves of a `multipart/signed` entity.
#[derive(Debug, Clone)]
pub struct SignedParts {
    /// The first part exactly as signed: its headers and body, CRLF line
    /// ends, without the CRLF that belongs to the boundary.
    pub signed: Vec<u8>,
    pub signature: Vec<u8>,
    /// The signed part's text body.
    pub text: String,
    /// The protected Subject inside the signed part, if any.
    pub subject: Option<String>,
}

fn content_type(part: &mail_parser::MessagePart<'_>) -> (String, String) {
    part.content_type()
        .map(|ct| {
            (
                ct.ctype().to_ascii_lowercase(),
                ct.subtype().unwrap_or_default().to_ascii_lowercase(),
            )
        })
        .unwrap_or_default()
}

/// The OpenPGP message inside an RFC 3156 `multipart/encrypted` message.
pub fn encrypted_payload(message: &[u8]) -> Result<Vec<u8>, MailError> {
    let parsed = MessageParser::default()
        .parse(message)
        .ok_or_else(|| MailError::Build("not a MIME message".to_owned()))?;
    let root = parsed
        .part(0)
        .ok_or_else(|| MailError::Build("no root part".to_owned()))?;
    if content_type(root) != ("multipart".to_owned(), "encrypted".to_owned()) {
        return Err(MailError::Build("not multipart/encrypted".to_owned()));
    }
    let payload = parsed
        .part(2)
        .ok_or_else(|| MailError::Build("no encrypted payload part".to_owned()))?;
    Ok(payload.contents().to_vec())
}

/// Splits an RFC 3156 `multipart/signed` entity (LF or CRLF line ends).
pub fn signed_parts(entity: &[u8]) -> Result<SignedParts, MailError> {
    // Signatures cover CRLF text; readers that stored LF convert back.
    let crlf = super::raw::crlf(entity);
    let parsed = MessageParser::default()
        .parse(&crlf)
        .ok_or_else(|| MailError::Build("not a MIME entity".to_owned()))?;
    let root = parsed
        .part(0)
        .ok_or_else(|| MailError::Build("no root part".to_owned()))?;
    if content_type(root) != ("multipart".to_owned(), "signed".to_owned()) {
        return Err(MailError::Build("not multipart/signed".to_owned()));
    }
    let first = parsed
        .part(1)
        .ok_or_else(|| MailError::Build("no signed part".to_owned()))?;
    let signature = parsed
        .part(2)
        .ok_or_else(|| MailError::Build("no signature part".to_owned()))?;
    let start = usize::try_from(first.offset_header).unwrap_or(usize::MAX);
    let end = usize::try_from(first.offset_end).unwrap_or(usize::MAX);
    let signed = crlf
        .get(start..end)
        .ok_or_else(|| MailError::Build("the signed part is out of bounds".to_owned()))?
        .to_vec();
    let subject = first
        .headers()
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case("Subject"))
        .and_then(|h| h.value().as_text().map(ToOwned::to_owned));
    Ok(SignedParts {
        signed,
        signature: signature.contents().to_vec(),
        text: parsed
            .body_text(0)
            .map(|t| t.into_owned())
            .unwrap_or_default(),
        subject,
    })
}
