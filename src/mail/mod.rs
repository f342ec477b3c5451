//! Mail: the only module that names lettre and mail-parser.
//!
//! It turns a rendered subject and body into RFC 3156 PGP/MIME:
//!
//! - [`sign_text`] builds the signed entity once per announcement: a
//!   `multipart/signed` whose first part is the quoted-printable text with
//!   the real Subject in its protected headers, and whose second part is the
//!   list key's detached signature over exactly that part's bytes.
//! - [`encrypted_message`] wraps one member's ciphertext of that entity in
//!   `multipart/encrypted` with outer headers that say nothing about the
//!   advisory: a generic Subject, To the member alone.
//! - [`signed_message`] sends the signed entity as it is (the public
//!   disclosure).
//!
//! Signing needs the OpenPGP module; it is reached through the
//! [`DetachedSigner`] trait, which the application wires up.

mod date;
mod inbound;
mod qp;
mod raw;
mod read;
mod repost;
mod transport;

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::message::header::{
    self, ContentDisposition, ContentTransferEncoding, ContentType, HeaderName, HeaderValue,
};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use thiserror::Error;

use crate::roster::Email;
use crate::text::fold_line;

pub use date::with_date;
pub use inbound::{Dropped, Inbound, Limits, SignedContent, read_inbound, signed_content};
pub use raw::crlf;
pub use read::{SignedParts, encrypted_payload, signed_parts};
pub use repost::{
    SenderHeaders, ThreadHeaders, plain_message, repost_entity, sender_headers, thread_headers,
    with_decrypted_body,
};
pub use transport::{Connection, Envelope, Outcome, SmtpTarget, Transport};

/// Something that makes an armored detached signature over bytes.
pub trait DetachedSigner {
    /// The armored signature over exactly `data`.
    fn sign_detached(&self, data: &[u8]) -> Result<Vec<u8>, String>;
    /// The `micalg` parameter matching the signature's hash.
    fn micalg(&self) -> &str;
}

/// Why a message could not be built.
#[derive(Debug, Error)]
pub enum MailError {
    #[error("sign the message: {0}")]
    Sign(String),
    #[error("build the message: {0}")]
    Build(String),
    /// The boundary drawn for a re-sealed message occurs in the original:
    /// the caller draws another.
    #[error("the boundary drawn occurs in the original")]
    BoundaryTaken,
}

/// Who the list is in headers.
#[derive(Debug, Clone)]
pub struct ListIdentity {
    pub name: String,
    pub address: Email,
    /// `List-Id` value, e.g. `Example list <security-announce.project.example>`.
    pub list_id: String,
    /// The Autocrypt header value for the list key (see [`autocrypt`]).
    pub autocrypt: String,
}

/// The outer headers of one message.
#[derive(Debug, Clone)]
pub struct Outer<'a> {
    pub list: &'a ListIdentity,
    pub to: &'a Email,
    pub subject: &'a str,
    pub message_id: &'a str,
    pub date: DateTime<Utc>,
    /// Outer In-Reply-To and References (stand-ins, see
    /// `inbound::thread`), for re-sealed posts that thread.
    pub thread: Option<Thread<'a>>,
}

/// A message's place in a thread, as outer headers say it.
#[derive(Debug, Clone, Copy)]
pub struct Thread<'a> {
    pub in_reply_to: Option<&'a str>,
    pub references: Option<&'a str>,
    /// Where replies go (a case's reply address), when not the From.
    pub reply_to: Option<&'a str>,
}

/// The `multipart/signed` entity of one announcement: built and signed
/// once, then encrypted per member or sent as it is. One made from raw
/// bytes ([`sign_entity`]) is only ever encrypted.
#[derive(Debug, Clone)]
pub struct SignedEntity {
    multipart: Option<MultiPart>,
    bytes: Vec<u8>,
}

impl SignedEntity {
    /// The entity's exact bytes (its Content-Type header, an empty line and
    /// the multipart body), as they are encrypted.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

fn mailbox(name: &str, email: &Email) -> Result<Mailbox, MailError> {
    let name = fold_line(name);
    let address = email
        .as_str()
        .parse()
        .map_err(|err| MailError::Build(format!("address {email}: {err}")))?;
    Ok(Mailbox::new(Some(name), address))
}

fn content_type(text: &str) -> Result<ContentType, MailError> {
    ContentType::parse(text).map_err(|err| MailError::Build(format!("content type {text}: {err}")))
}

/// Builds and signs the entity for `subject` and `body`. The real subject
/// goes only into the protected headers of the signed part.
pub fn sign_text(
    list: &ListIdentity,
    subject: &str,
    body: &str,
    signer: &dyn DetachedSigner,
) -> Result<SignedEntity, MailError> {
    let text = SinglePart::builder()
        .header(content_type(
            "text/plain; charset=utf-8; protected-headers=\"v1\"",
        )?)
        .header(header::Subject::from(fold_line(subject)))
        .header(header::From::from(lettre::message::Mailboxes::from(
            mailbox(&list.name, &list.address)?,
        )))
        .body(Body::dangerous_pre_encoded(
            qp::encode(body).into_bytes(),
            ContentTransferEncoding::QuotedPrintable,
        ));
    let mut signed_bytes = text.formatted();
    // The CRLF after the part belongs to the boundary that follows it.
    if signed_bytes.ends_with(b"\r\n") {
        signed_bytes.truncate(signed_bytes.len() - 2);
    }
    let signature = signer
        .sign_detached(&signed_bytes)
        .map_err(MailError::Sign)?;
    let signature = String::from_utf8(signature).map_err(|err| MailError::Sign(err.to_string()))?;
    let signature_part = SinglePart::builder()
        .header(content_type(
            "application/pgp-signature; name=\"signature.asc\"",
        )?)
        .header(ContentDisposition::attachment("signature.asc"))
        .header(ContentTransferEncoding::SevenBit)
        .body(signature.replace("\r\n", "\n").replace('\n', "\r\n"));
    let multipart = MultiPart::signed(
        "application/pgp-signature".to_owned(),
        signer.micalg().to_owned(),
    )
    .singlepart(text)
    .singlepart(signature_part);
    let bytes = multipart.formatted();
    Ok(SignedEntity {
        multipart: Some(multipart),
        bytes,
    })
}

/// Signs an entity built elsewhere (a re-sealed post, [`repost_entity`])
/// into RFC 3156 `multipart/signed`: the signature covers exactly
/// `entity`'s bytes (CRLF line ends). `random` makes the boundary; an
/// entity that holds it is refused (draw another).
pub fn sign_entity(
    entity: &[u8],
    signer: &dyn DetachedSigner,
    random: [u8; 16],
) -> Result<SignedEntity, MailError> {
    let mut signed = crlf(entity);
    while signed.ends_with(b"\r\n") {
        signed.truncate(signed.len() - 2);
    }
    let boundary = format!("=_signed_{}", hex::encode(random));
    if raw::find(&signed, boundary.as_bytes()).is_some() {
        return Err(MailError::Build(
            "the boundary occurs in the entity; try another".to_owned(),
        ));
    }
    let signature = signer.sign_detached(&signed).map_err(MailError::Sign)?;
    let signature = String::from_utf8(signature).map_err(|err| MailError::Sign(err.to_string()))?;
    let mut bytes = Vec::with_capacity(signed.len() + signature.len() + 512);
    bytes.extend_from_slice(
        format!(
            "Content-Type: multipart/signed; boundary=\"{boundary}\"; micalg=\"{}\"; \r\n protocol=\"application/pgp-signature\"\r\n\r\n--{boundary}\r\n",
            signer.micalg()
        )
        .as_bytes(),
    );
    bytes.extend_from_slice(&signed);
    bytes.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\nContent-Type: application/pgp-signature; name=\"signature.asc\"\r\n\
             Content-Disposition: attachment; filename=\"signature.asc\"\r\n\
             Content-Transfer-Encoding: 7bit\r\n\r\n"
        )
        .as_bytes(),
    );
    bytes.extend_from_slice(
        signature
            .replace("\r\n", "\n")
            .replace('\n', "\r\n")
            .as_bytes(),
    );
    if !bytes.ends_with(b"\r\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok(SignedEntity {
        multipart: None,
        bytes,
    })
}

fn outer_builder(outer: &Outer<'_>) -> Result<lettre::message::MessageBuilder, MailError> {
    let to_address = outer
        .to
        .as_str()
        .parse()
        .map_err(|err| MailError::Build(format!("address {}: {err}", outer.to)))?;
    let mut builder = lettre::Message::builder();
    if let Some(thread) = outer.thread {
        for (name, value) in [
            ("In-Reply-To", thread.in_reply_to),
            ("References", thread.references),
            ("Reply-To", thread.reply_to),
        ] {
            if let Some(value) = value {
                builder = builder.raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str(name),
                    fold_line(value),
                ));
            }
        }
    }
    Ok(builder
        .from(mailbox(&outer.list.name, &outer.list.address)?)
        .to(Mailbox::new(None, to_address))
        .subject(fold_line(outer.subject))
        .message_id(Some(fold_line(outer.message_id)))
        .date(SystemTime::from(outer.date))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Id"),
            fold_line(&outer.list.list_id),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Autocrypt"),
            outer.list.autocrypt.clone(),
        )))
}

/// The Autocrypt header value for the list key, computed once per list.
/// The key data is folded with spaces, which Autocrypt readers ignore, so
/// the header can be wrapped.
pub fn autocrypt(address: &Email, keydata: &[u8]) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(keydata);
    let folded: Vec<&str> = encoded
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap_or_default())
        .collect();
    format!(
        "addr={}; prefer-encrypt=mutual; keydata={}",
        address.normalized(),
        folded.join(" ")
    )
}

/// One member's message: RFC 3156 `multipart/encrypted` around
/// `ciphertext` (the armored encryption of a [`SignedEntity`]).
pub fn encrypted_message(outer: &Outer<'_>, ciphertext: &[u8]) -> Result<Vec<u8>, MailError> {
    // CRLF line ends made here, in one pass: given bare LFs, lettre
    // inserts each CR in place, which is quadratic in the body's size (a
    // 1 MiB ciphertext took seconds per copy).
    let armored = String::from_utf8(raw::crlf(ciphertext))
        .map_err(|err| MailError::Build(err.to_string()))?;
    let control = SinglePart::builder()
        .header(content_type("application/pgp-encrypted")?)
        .header(ContentDisposition::inline())
        .header(ContentTransferEncoding::SevenBit)
        .body("Version: 1\r\n".to_owned());
    let payload = SinglePart::builder()
        .header(content_type(
            "application/octet-stream; name=\"encrypted.asc\"",
        )?)
        .header(ContentDisposition::inline_with_name("encrypted.asc"))
        .header(ContentTransferEncoding::SevenBit)
        .body(armored.to_owned());
    let multipart = MultiPart::encrypted("application/pgp-encrypted".to_owned())
        .singlepart(control)
        .singlepart(payload);
    let message = outer_builder(outer)?
        .multipart(multipart)
        .map_err(|err| MailError::Build(err.to_string()))?;
    Ok(message.formatted())
}

/// A signed, unencrypted message (the public disclosure).
pub fn signed_message(outer: &Outer<'_>, entity: &SignedEntity) -> Result<Vec<u8>, MailError> {
    let multipart = entity.multipart.clone().ok_or_else(|| {
        MailError::Build("an entity signed from raw bytes is only ever sent encrypted".to_owned())
    })?;
    let message = outer_builder(outer)?
        .multipart(multipart)
        .map_err(|err| MailError::Build(err.to_string()))?;
    Ok(message.formatted())
}

#[cfg(test)]
mod tests;
