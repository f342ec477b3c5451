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

use std::io::Read;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::*;
use openpgp::crypto::{KeyPair, SessionKey};
use openpgp::packet::{PKESK, SKESK, Signature};
use openpgp::parse::stream::{
    DecryptionHelper, DecryptorBuilder, DetachedVerifierBuilder, MessageLayer, MessageStructure,
    VerificationError, VerificationHelper, VerifierBuilder,
};
use openpgp::parse::{PacketParser, PacketParserResult, Parse};
use openpgp::policy::StandardPolicy;
use openpgp::types::SymmetricAlgorithm;
use openpgp::{KeyHandle, Packet, Result as PgpResult};

use super::{CertError, ListKey, first_line};
use crate::config::Secret;

/// A good signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The primary fingerprint of the signer's certificate.
    pub signer: String,
    /// When the signature says it was made.
    pub signed_at: DateTime<Utc>,
}

/// Who a signature (or a message's signatures) claims to be from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Issuers {
    /// Issuer fingerprints and key IDs, upper-case hex.
    pub handles: Vec<String>,
}

fn issuers_of(sig: &Signature, into: &mut Vec<String>) {
    for handle in sig.get_issuers() {
        let hex = handle.to_hex();
        if !into.contains(&hex) {
            into.push(hex);
        }
    }
}

/// The issuers a detached signature names (nothing is verified).
fn signature_issuers_unguarded(signature: &[u8]) -> Result<Issuers, CertError> {
    let mut handles = Vec::new();
    let mut ppr = PacketParser::from_bytes(signature)
        .map_err(|err| CertError::Unreadable(first_line(&err)))?;
    let mut packets = 0;
    while let PacketParserResult::Some(pp) = ppr {
        packets += 1;
        if packets > 16 {
            break;
        }
        if let Packet::Signature(sig) = &pp.packet {
            issuers_of(sig, &mut handles);
        }
        ppr = pp
            .recurse()
            .map_err(|err| CertError::Unreadable(first_line(&err)))?
            .1;
    }
    Ok(Issuers { handles })
}

struct Helper {
    certs: Vec<Cert>,
    keys: Vec<KeyPair>,
    verified: Option<Verified>,
    issuers: Vec<String>,
    problem: Option<String>,
}

impl Helper {
    fn new(certs: Vec<Cert>, keys: Vec<KeyPair>) -> Self {
        Self {
            certs,
            keys,
            verified: None,
            issuers: Vec::new(),
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
                            });
                        }
                    }
                    Err(VerificationError::MissingKey { sig }) => {
                        issuers_of(sig, &mut self.issuers);
                    }
                    Err(err) => {
                        if let Some(sig) = signature_of(&err) {
                            issuers_of(sig, &mut self.issuers);
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

impl DecryptionHelper for Helper {
    fn decrypt(
        &mut self,
        pkesks: &[PKESK],
        _skesks: &[SKESK],
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> PgpResult<Option<Cert>> {
        for pair in &mut self.keys {
            for pkesk in pkesks {
                if let Some((algo, session_key)) = pkesk.decrypt(pair, sym_algo)
                    && decrypt(algo, &session_key)
                {
                    return Ok(None);
                }
            }
        }
        Err(anyhow::anyhow!("not encrypted to the list key"))
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
) -> Result<Verified, CertError> {
    let policy = StandardPolicy::new();
    let mut verifier = DetachedVerifierBuilder::from_bytes(signature)
        .and_then(|b| {
            b.with_policy(
                &policy,
                Some(SystemTime::from(now)),
                Helper::new(vec![parse_cert(cert)?], Vec::new()),
            )
        })
        .map_err(|err| CertError::Unreadable(format!("bad signature: {}", first_line(&err))))?;
    verifier
        .verify_bytes(data)
        .map_err(|err| CertError::Unreadable(format!("bad signature: {}", first_line(&err))))?;
    let helper = verifier.into_helper();
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
) -> Result<Opened, CertError> {
    let policy = StandardPolicy::new();
    let certs = cert.map(parse_cert).transpose()?.into_iter().collect();
    let mut verifier = VerifierBuilder::from_bytes(armored)
        .and_then(|b| {
            b.with_policy(
                &policy,
                Some(SystemTime::from(now)),
                Helper::new(certs, Vec::new()),
            )
        })
        .map_err(|err| CertError::Unreadable(format!("bad signed text: {}", first_line(&err))))?;
    let mut content = Vec::new();
    verifier
        .read_to_end(&mut content)
        .map_err(|err| CertError::Unreadable(format!("bad signed text: {err}")))?;
    let helper = verifier.into_helper();
    Ok(Opened {
        content,
        verified: helper.verified,
        issuers: Issuers {
            handles: helper.issuers,
        },
    })
}

/// Decrypts a message sent to the list; verifies its signature when
/// `cert` is given, else only says who it claims to be from.
fn open_encrypted_unguarded(
    list_key: &ListKey,
    passphrase: Option<&Secret>,
    ciphertext: &[u8],
    cert: Option<&[u8]>,
    now: DateTime<Utc>,
) -> Result<Opened, CertError> {
    let policy = StandardPolicy::new();
    let keys = list_key.unlocked_decryption_keys(passphrase)?;
    let certs = cert.map(parse_cert).transpose()?.into_iter().collect();
    let mut decryptor = DecryptorBuilder::from_bytes(ciphertext)
        .and_then(|b| {
            b.with_policy(
                &policy,
                Some(SystemTime::from(now)),
                Helper::new(certs, keys),
            )
        })
        .map_err(|err| CertError::Unreadable(format!("cannot decrypt: {}", first_line(&err))))?;
    let mut content = Vec::new();
    decryptor
        .read_to_end(&mut content)
        .map_err(|err| CertError::Unreadable(format!("cannot decrypt: {err}")))?;
    let helper = decryptor.into_helper();
    Ok(Opened {
        content,
        verified: helper.verified,
        issuers: Issuers {
            handles: helper.issuers,
        },
    })
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
pub fn signature_issuers(signature: &[u8]) -> Result<Issuers, CertError> {
    super::guarded("signature", || signature_issuers_unguarded(signature))
}

/// Verifies a detached signature by `cert` over exactly `data`, at `now`.
pub fn verify_signed(
    cert: &[u8],
    data: &[u8],
    signature: &[u8],
    now: DateTime<Utc>,
) -> Result<Verified, CertError> {
    super::guarded("signature", || {
        verify_signed_unguarded(cert, data, signature, now)
    })
}

/// Reads a cleartext-signed block; verifies it when `cert` is given, else
/// only says who it claims to be from.
pub fn open_cleartext(
    armored: &[u8],
    cert: Option<&[u8]>,
    now: DateTime<Utc>,
) -> Result<Opened, CertError> {
    super::guarded("cleartext signature", || {
        open_cleartext_unguarded(armored, cert, now)
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
) -> Result<Opened, CertError> {
    super::guarded("encrypted message", || {
        open_encrypted_unguarded(list_key, passphrase, ciphertext, cert, now)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inputs the fuzzer found that made sequoia 2.4.2 panic: a
    /// session key for the list key, then a SEIPDv1 packet shorter than
    /// its length says. They must be refused, not crash.
    #[test]
    fn truncated_encrypted_packets_are_refused_not_a_panic() {
        let key = ListKey::read(include_bytes!(
            "../../tests/data/fuzz-corpus/keys/list-secret.asc"
        ))
        .expect("the fuzz list key");
        let limits = crate::mail::Limits {
            max_bytes: 1 << 20,
            max_depth: 20,
            max_parts: 500,
        };
        for message in [
            &include_bytes!("../../tests/data/fuzz-corpus/crash-0dc060196d782a5f.eml")[..],
            &include_bytes!("../../tests/data/fuzz-corpus/crash-94657e33934c2ad8.eml")[..],
        ] {
            let crate::mail::Inbound::Encrypted { payload } =
                crate::mail::read_inbound(message, &limits).expect("reads")
            else {
                panic!("the crash input is multipart/encrypted");
            };
            let now = chrono::Utc::now();
            assert!(open_encrypted(&key, None, &payload, None, now).is_err());
        }
    }
}
