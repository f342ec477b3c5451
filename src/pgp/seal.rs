//! Signing with the list key and encrypting to one member.
//!
//! An announcement is signed once (a detached signature over the exact
//! bytes of the MIME part) and encrypted once per member, to that member's
//! encryption subkeys only, as SEIPDv1 so GnuPG 2.2 can read it. The
//! recipient is named by key ID, as GnuPG expects.

use std::io::Write;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use sequoia_openpgp as openpgp;

use openpgp::armor;
use openpgp::cert::prelude::*;
use openpgp::crypto::KeyPair;
use openpgp::parse::Parse;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::stream::{Armorer, Encryptor, LiteralWriter, Message, Recipient, Signer};
use openpgp::types::{Features, HashAlgorithm, KeyFlags};

use super::{CertError, CertPolicy, ListKey, first_line};
use crate::config::Secret;

/// The `micalg` parameter that matches the signatures [`ListSigner`] makes.
pub const MICALG: &str = "pgp-sha512";

/// The list key's signing key, unlocked, ready to sign.
pub struct ListSigner {
    keypair: KeyPair,
}

impl std::fmt::Debug for ListSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListSigner").finish_non_exhaustive()
    }
}

impl ListSigner {
    /// Unlocks the list key's signing key (with `passphrase` if it is
    /// encrypted) as it is valid at `now`.
    pub fn new(
        key: &ListKey,
        passphrase: Option<&Secret>,
        now: DateTime<Utc>,
    ) -> Result<Self, CertError> {
        let keypair = key
            .unlocked_signing_key(passphrase, now)?
            .into_keypair()
            .map_err(|err| CertError::Locked(first_line(&err)))?;
        Ok(Self { keypair })
    }

    /// An armored detached signature (SHA-512) over exactly `data`, made at
    /// `now`.
    pub fn sign_detached(&self, data: &[u8], now: DateTime<Utc>) -> Result<Vec<u8>, CertError> {
        let sign = |err: anyhow::Error| CertError::Generate(first_line(&err));
        let mut sink = Vec::new();
        {
            let message = Message::new(&mut sink);
            let message = Armorer::new(message)
                .kind(armor::Kind::Signature)
                .build()
                .map_err(sign)?;
            let mut signer = Signer::new(message, self.keypair.clone())
                .map_err(sign)?
                .detached()
                .hash_algo(HashAlgorithm::SHA512)
                .map_err(sign)?
                .creation_time(SystemTime::from(now))
                .build()
                .map_err(sign)?;
            signer
                .write_all(data)
                .map_err(|err| CertError::Generate(err.to_string()))?;
            signer.finalize().map_err(sign)?;
        }
        Ok(sink)
    }
}

/// Encrypts `plaintext` to the usable encryption subkeys of one member's
/// certificate as valid at `now`, armored. Fails, naming why, when the
/// certificate has no usable encryption subkey: there is no other path.
pub fn encrypt_for(
    cert: &[u8],
    plaintext: &[u8],
    policy: &CertPolicy,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, CertError> {
    let cert = Cert::from_bytes(cert).map_err(|err| CertError::Unreadable(first_line(&err)))?;
    let standard = StandardPolicy::new();
    let valid = cert
        .with_policy(&standard, SystemTime::from(now))
        .map_err(|err| CertError::NoValidBinding(first_line(&err)))?;
    let keys: Vec<_> = valid
        .keys()
        .key_flags(
            KeyFlags::empty()
                .set_transport_encryption()
                .set_storage_encryption(),
        )
        .supported()
        .alive()
        .revoked(false)
        .filter(|ka| super::cert::rsa_bits(ka.key()).is_none_or(|bits| bits >= policy.min_rsa_bits))
        .collect();
    if keys.is_empty() {
        return Err(CertError::NoUsableEncryptionKey(format!(
            "no encryption subkey of {} is valid at {}",
            cert.fingerprint().to_hex(),
            crate::clock::format_instant(now)
        )));
    }
    let recipients = keys.iter().map(|ka| {
        Recipient::new(
            Features::empty().set_seipdv1(),
            Some(openpgp::KeyHandle::from(ka.key().keyid())),
            ka.key(),
        )
    });
    let seal = |err: anyhow::Error| CertError::Generate(first_line(&err));
    let mut sink = Vec::with_capacity(plaintext.len() * 4 / 3 + 1024);
    {
        let message = Message::new(&mut sink);
        let message = Armorer::new(message).build().map_err(seal)?;
        let message = Encryptor::for_recipients(message, recipients)
            .build()
            .map_err(seal)?;
        let mut literal = LiteralWriter::new(message).build().map_err(seal)?;
        literal
            .write_all(plaintext)
            .map_err(|err| CertError::Generate(err.to_string()))?;
        literal.finalize().map_err(seal)?;
    }
    Ok(sink)
}

/// Until when mail can be encrypted to `cert`, as of `now`: `Ok(None)`
/// when its usable encryption keys do not expire, `Ok(Some(instant))` for
/// the last one's expiry, or why no mail can be encrypted to it now.
pub fn encryptable_until(
    cert: &[u8],
    policy: &CertPolicy,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, String> {
    let summary = super::summarize_member_cert(cert, policy, now).map_err(|err| err.to_string())?;
    if let Some(problem) = summary.problem {
        return Err(problem);
    }
    if summary.encryption_keys.is_empty() {
        return Err("no usable encryption key".to_owned());
    }
    if summary
        .encryption_keys
        .iter()
        .any(|key| key.expires.is_none())
    {
        return Ok(None);
    }
    Ok(summary
        .encryption_keys
        .iter()
        .filter_map(|key| key.expires)
        .max())
}

/// Checks that mail can be encrypted to `cert` now and until `until`
/// (the disclosure time): answers why not, if it cannot.
pub fn check_encryptable(
    cert: &[u8],
    policy: &CertPolicy,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<(), String> {
    match encryptable_until(cert, policy, now)? {
        Some(expires) if expires <= until => Err(format!(
            "the encryption subkey expires on {}, before the disclosure time",
            crate::clock::format_instant(expires)
        )),
        _ => Ok(()),
    }
}
