//! Verifying members' signed commands: who signed (by the full
//! fingerprint of the certificate the signing key belongs to), when, over
//! exactly which bytes. The same policy as import: sequoia's
//! StandardPolicy (no SHA-1 signatures, no revoked or expired key at the
//! signature's time).
//!
//! Verification is two-step, so the caller can find the signer's
//! certificate by the issuer the signature names: [`signature_issuers`]
//! (or a first pass over an encrypted message), then verification against
//! that one certificate.

use chrono::{DateTime, Utc};
use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::*;
use openpgp::packet::Signature;
use openpgp::parse::stream::{
    DecryptorBuilder, MessageLayer, MessageStructure, VerificationError, VerificationHelper,
    VerifierBuilder,
};
use openpgp::parse::{PacketParser, PacketParserResult, Parse};
use openpgp::types::SignatureType;
use openpgp::{KeyHandle, Packet, Result as PgpResult};

use super::stream::{Decrypting, Reading};
use super::{Bounds, CertError, ListKey, first_line};
use crate::config::Secret;

/// A good signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The primary fingerprint of the signer's certificate.
    pub signer: String,
    /// When the signature says it was made.
    pub signed_at: DateTime<Utc>,
    /// The signature is over canonical text (type 0x01, as cleartext
    /// signatures are): line endings and trailing white space are not
    /// part of what it covers.
    pub text: bool,
}

/// Who a signature (or a message's signatures) claims to be from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Issuers {
    /// Issuer fingerprints and key IDs, upper-case hex.
    pub handles: Vec<String>,
    /// When the signatures say they were made.
    pub created: Vec<DateTime<Utc>>,
}

impl Issuers {
    fn add(&mut self, sig: &Signature) {
        for handle in sig.get_issuers() {
            let hex = handle.to_hex();
            if !self.handles.contains(&hex) {
                self.handles.push(hex);
            }
        }
        if let Some(created) = sig.signature_creation_time() {
            self.created.push(created.into());
        }
    }
}

/// What a verified signature covers, in the form it covers it: the key a
/// replay is recognised by. A text signature (type 0x01, as cleartext
/// signatures are) covers the text with CRLF line ends, and a cleartext
/// signature also ignores trailing white space; so one signature verifies
/// over LF or CRLF, with or without trailing blanks, as a cleartext block
/// or moved into an encrypted message. Its canonical form is each line
/// without trailing white space, joined by CRLF, without trailing empty
/// lines. A binary signature covers exactly the bytes verified (a MIME
/// entity after the caller's CRLF normalisation).
pub fn canonical<'a>(verified: &Verified, covered: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
    if !verified.text {
        return std::borrow::Cow::Borrowed(covered);
    }
    let mut lines: Vec<&[u8]> = covered
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii_end)
        .collect();
    while lines.last().is_some_and(|line| line.is_empty()) {
        lines.pop();
    }
    std::borrow::Cow::Owned(lines.join(&b"\r\n"[..]))
}

/// The instant a signature is verified at. sequoia refuses a signature
/// made after that instant, with no tolerance once a time is given, so a
/// signature made a few seconds after `now` by a clock slightly ahead was
/// refused although `future_skew` allows it. A signature that claims to be
/// from the future is verified at its own creation time (so the key must
/// be valid then), anything else at `now`; the caller then judges the
/// claimed time against its own tolerances (`future_skew`,
/// `signature_max_age`), which say why in the log.
pub fn verification_time(now: DateTime<Utc>, issuers: &Issuers) -> DateTime<Utc> {
    issuers
        .created
        .iter()
        .copied()
        .filter(|&created| created > now)
        .max()
        .unwrap_or(now)
}

/// The issuers a detached signature names (nothing is verified).
fn signature_issuers_unguarded(signature: &[u8], bounds: &Bounds) -> Result<Issuers, CertError> {
    super::bounds::check(signature, &bounds.signatures_only(), &mut [])?;
    let mut issuers = Issuers::default();
    let mut ppr = PacketParser::from_bytes(signature)
        .map_err(|err| CertError::Unreadable(first_line(&err)))?;
    let mut packets = 0;
    while let PacketParserResult::Some(pp) = ppr {
        packets += 1;
        if packets > 16 {
            break;
        }
        if let Packet::Signature(sig) = &pp.packet {
            issuers.add(sig);
        }
        ppr = pp
            .recurse()
            .map_err(|err| CertError::Unreadable(first_line(&err)))?
            .1;
    }
    Ok(issuers)
}

struct Helper {
    certs: Vec<Cert>,
    verified: Option<Verified>,
    issuers: Issuers,
    problem: Option<String>,
}

impl Helper {
    fn new(certs: Vec<Cert>) -> Self {
        Self {
            certs,
            verified: None,
            issuers: Issuers::default(),
            problem: None,
        }
    }
}

impl VerificationHelper for Helper {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> PgpResult<Vec<Cert>> {
        Ok(self.certs.clone())
    }

    fn check(&mut self, structure: MessageStructure) -> PgpResult<()> {
        for layer in structure {
            let MessageLayer::SignatureGroup { results } = layer else {
                continue;
            };
            for result in results {
                match result {
                    Ok(good) => {
                        if self.verified.is_none() {
                            self.verified = Some(Verified {
                                signer: good.ka.cert().fingerprint().to_hex(),
                                signed_at: good
                                    .sig
                                    .signature_creation_time()
                                    .map(DateTime::<Utc>::from)
                                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
                                text: good.sig.typ() == SignatureType::Text,
                            });
                        }
                    }
                    Err(VerificationError::MissingKey { sig }) => {
                        self.issuers.add(sig);
                    }
                    Err(err) => {
                        if let Some(sig) = signature_of(&err) {
                            self.issuers.add(sig);
                        }
                        self.problem.get_or_insert_with(|| err.to_string());
                    }
                }
            }
        }
        Ok(())
    }
}

fn signature_of<'a>(err: &'a VerificationError<'a>) -> Option<&'a Signature> {
    match err {
        VerificationError::MalformedSignature { sig, .. }
        | VerificationError::MissingKey { sig }
        | VerificationError::UnboundKey { sig, .. }
        | VerificationError::BadKey { sig, .. }
        | VerificationError::BadSignature { sig, .. } => Some(sig),
        _ => None,
    }
}

fn refused(helper: &Helper) -> CertError {
    CertError::Unreadable(format!(
        "no good signature by the expected key{}",
        helper
            .problem
            .as_deref()
            .map(|p| format!(": {p}"))
            .unwrap_or_default()
    ))
}

fn parse_cert(bytes: &[u8]) -> Result<Cert, CertError> {
    Cert::from_bytes(bytes).map_err(|err| CertError::Unreadable(first_line(&err)))
}

/// Verifies a detached signature by `cert` over exactly `data`, at `now`.
fn verify_signed_unguarded(
    cert: &[u8],
    data: &[u8],
    signature: &[u8],
    now: DateTime<Utc>,
    bounds: &Bounds,
) -> Result<Verified, CertError> {
    super::bounds::check(signature, &bounds.signatures_only(), &mut [])?;
    let reading = Reading {
        what: "bad signature",
        at: Some(now),
        max_bytes: None,
    };
    // The signer's certificate comes from the store; were it unreadable,
    // the refusal still says the signature was bad, as it always has.
    let signer = parse_cert(cert)
        .map_err(|err| CertError::Unreadable(format!("{}: {err}", reading.what)))?;
    let helper = reading.verify_detached(signature, data, Helper::new(vec![signer]))?;
    helper.verified.clone().ok_or_else(|| refused(&helper))
}

/// What a cleartext-signed block or an encrypted message held.
#[derive(Debug, Clone, Default)]
pub struct Opened {
    /// The signed (and decrypted) content.
    pub content: Vec<u8>,
    /// The good signature, when the signer's certificate was given.
    pub verified: Option<Verified>,
    /// The issuers the signatures name.
    pub issuers: Issuers,
}

/// Reads a cleartext-signed block; verifies it when `cert` is given, else
/// only says who it claims to be from.
fn open_cleartext_unguarded(
    armored: &[u8],
    cert: Option<&[u8]>,
    now: DateTime<Utc>,
    bounds: &Bounds,
) -> Result<Opened, CertError> {
    super::bounds::check_cleartext(armored, bounds)?;
    let certs = cert.map(parse_cert).transpose()?.into_iter().collect();
    let reading = Reading {
        what: "bad signed text",
        at: Some(now),
        max_bytes: Some(bounds.max_bytes),
    };
    let helper = Helper::new(certs);
    let mut verifier = reading.open::<VerifierBuilder, _>(armored, helper)?;
    let content = reading.read_all(&mut verifier)?;
    Ok(opened(content, verifier.into_helper()))
}

/// Decrypts a message sent to the list; verifies its signature when
/// `cert` is given, else only says who it claims to be from.
fn open_encrypted_unguarded(
    list_key: &ListKey,
    passphrase: Option<&Secret>,
    ciphertext: &[u8],
    cert: Option<&[u8]>,
    now: DateTime<Utc>,
    bounds: &Bounds,
) -> Result<Opened, CertError> {
    let mut keys = list_key.unlocked_decryption_keys(passphrase)?;
    super::bounds::check(ciphertext, bounds, &mut keys)?;
    let certs = cert.map(parse_cert).transpose()?.into_iter().collect();
    let reading = Reading {
        what: "cannot decrypt",
        at: Some(now),
        max_bytes: Some(bounds.max_bytes),
    };
    let decrypting = Decrypting {
        helper: Helper::new(certs),
        keys,
        owner: None,
        refusal: Some("not encrypted to the list key"),
    };
    let mut decryptor = reading.open::<DecryptorBuilder, _>(ciphertext, decrypting)?;
    let content = reading.read_all(&mut decryptor)?;
    Ok(opened(content, decryptor.into_helper().helper))
}

/// What a reader's output and its helper found, as [`Opened`].
fn opened(content: Vec<u8>, helper: Helper) -> Opened {
    Opened {
        content,
        verified: helper.verified,
        issuers: helper.issuers,
    }
}

/// The fingerprints of a certificate's keys that can sign (the primary
/// and signing subkeys), valid or not: a signature's issuer is looked up
/// among them.
pub fn signing_keys(cert: &[u8]) -> Result<Vec<String>, CertError> {
    let cert = parse_cert(cert)?;
    let mut keys = vec![cert.fingerprint().to_hex()];
    for key in cert.keys().subkeys() {
        let signs = key
            .self_signatures()
            .any(|sig| sig.key_flags().is_some_and(|flags| flags.for_signing()));
        if signs {
            keys.push(key.key().fingerprint().to_hex());
        }
    }
    Ok(keys)
}

/// The issuers a detached signature names (nothing is verified).
pub fn signature_issuers(signature: &[u8], bounds: &Bounds) -> Result<Issuers, CertError> {
    super::guarded("signature", || {
        signature_issuers_unguarded(signature, bounds)
    })
}

/// Verifies a detached signature by `cert` over exactly `data`, at `now`.
pub fn verify_signed(
    cert: &[u8],
    data: &[u8],
    signature: &[u8],
    now: DateTime<Utc>,
    bounds: &Bounds,
) -> Result<Verified, CertError> {
    super::guarded("signature", || {
        verify_signed_unguarded(cert, data, signature, now, bounds)
    })
}

/// Reads a cleartext-signed block; verifies it when `cert` is given, else
/// only says who it claims to be from.
pub fn open_cleartext(
    armored: &[u8],
    cert: Option<&[u8]>,
    now: DateTime<Utc>,
    bounds: &Bounds,
) -> Result<Opened, CertError> {
    super::guarded("cleartext signature", || {
        open_cleartext_unguarded(armored, cert, now, bounds)
    })
}

/// Decrypts a message sent to the list; verifies its signature when
/// `cert` is given, else only says who it claims to be from.
pub fn open_encrypted(
    list_key: &ListKey,
    passphrase: Option<&Secret>,
    ciphertext: &[u8],
    cert: Option<&[u8]>,
    now: DateTime<Utc>,
    bounds: &Bounds,
) -> Result<Opened, CertError> {
    super::guarded("encrypted message", || {
        open_encrypted_unguarded(list_key, passphrase, ciphertext, cert, now, bounds)
    })
}

#[cfg(test)]
mod tests;
