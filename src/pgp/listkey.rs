//! The list's own key: made by `init` or imported, stored armored in a
//! file of mode 0600, and exported as a public certificate.

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use sequoia_openpgp as openpgp;

use openpgp::Profile;
use openpgp::cert::prelude::*;
use openpgp::crypto::Password;
use openpgp::packet::{Key, UserID, key};
use openpgp::policy::StandardPolicy;
use openpgp::serialize::SerializeInto;
use openpgp::types::{Features, KeyFlags};

use super::cert::parse_one;
use super::{CertError, first_line};
use crate::config::Secret;
use crate::roster::Email;

/// The list's secret key, as a certificate with secret key material.
#[derive(Clone)]
pub struct ListKey {
    cert: Cert,
}

impl std::fmt::Debug for ListKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListKey")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl ListKey {
    /// Makes a new v4 list key: an Ed25519 primary key for certification and
    /// signing, a Cv25519 encryption subkey, and user IDs for the list
    /// address and its `-request` address. It advertises SEIPDv1 only, so
    /// that GnuPG 2.2 can read what members encrypt to it. With a
    /// passphrase, the secret key material is encrypted with it.
    pub fn generate(
        name: &str,
        address: &Email,
        request_address: &Email,
        passphrase: Option<&Secret>,
        now: DateTime<Utc>,
    ) -> Result<Self, CertError> {
        let generate = |err: anyhow::Error| CertError::Generate(first_line(&err));
        let (cert, _revocation) = CertBuilder::new()
            .set_profile(Profile::RFC4880)
            .map_err(generate)?
            .set_features(Features::empty().set_seipdv1())
            .map_err(generate)?
            .set_cipher_suite(CipherSuite::Cv25519)
            .set_creation_time(SystemTime::from(now))
            .set_validity_period(None)
            .set_primary_key_flags(KeyFlags::empty().set_certification().set_signing())
            .add_subkey(
                KeyFlags::empty()
                    .set_transport_encryption()
                    .set_storage_encryption(),
                None,
                None,
            )
            .add_userid(UserID::from(format!("{name} <{address}>")))
            .add_userid(UserID::from(format!("<{request_address}>")))
            .set_password(passphrase.map(|secret| Password::from(secret.expose())))
            .generate()
            .map_err(generate)?;
        Ok(Self { cert })
    }

    /// Reads the list's own key file as `init` wrote it, without unlocking
    /// it: [`super::ListSigner::new`] unlocks it once, where it is used.
    pub fn read(bytes: &[u8]) -> Result<Self, CertError> {
        Ok(Self {
            cert: parse_one(bytes)?,
        })
    }

    /// Reads a list key (armored or binary) that must hold the secret
    /// signing key and an encryption subkey valid at `now`. When the secret
    /// is encrypted, `passphrase` must unlock it.
    pub fn import(
        bytes: &[u8],
        passphrase: Option<&Secret>,
        now: DateTime<Utc>,
    ) -> Result<Self, CertError> {
        let cert = parse_one(bytes)?;
        let key = Self { cert };
        key.check(passphrase, now)?;
        Ok(key)
    }

    /// Checks that the key can sign at `now` (unlocking it with `passphrase`
    /// if it is encrypted) and has an encryption subkey.
    pub fn check(&self, passphrase: Option<&Secret>, now: DateTime<Utc>) -> Result<(), CertError> {
        self.unlocked_signing_key(passphrase, now)?;
        let policy = StandardPolicy::new();
        let valid = self
            .cert
            .with_policy(&policy, SystemTime::from(now))
            .map_err(|err| CertError::NoValidBinding(first_line(&err)))?;
        if valid
            .keys()
            .for_transport_encryption()
            .alive()
            .revoked(false)
            .next()
            .is_none()
        {
            return Err(CertError::NoEncryptionKey);
        }
        Ok(())
    }

    /// The signing key valid at `now`, its secret decrypted with
    /// `passphrase` when it is protected.
    /// The list's encryption keys, unlocked, for reading what members
    /// encrypt to the list.
    pub(super) fn unlocked_decryption_keys(
        &self,
        passphrase: Option<&Secret>,
    ) -> Result<Vec<openpgp::crypto::KeyPair>, CertError> {
        let policy = StandardPolicy::new();
        let valid = self
            .cert
            .with_policy(&policy, None)
            .map_err(|err| CertError::NoValidBinding(first_line(&err)))?;
        let mut pairs = Vec::new();
        for key in valid
            .keys()
            .for_transport_encryption()
            .for_storage_encryption()
            .secret()
        {
            let mut secret = key.key().clone().role_into_unspecified();
            if !secret.has_unencrypted_secret() {
                let Some(passphrase) = passphrase else {
                    return Err(CertError::Locked(
                        "it is protected by a passphrase and none is configured ([list_key] passphrase)"
                            .to_owned(),
                    ));
                };
                secret = secret
                    .decrypt_secret(&Password::from(passphrase.expose()))
                    .map_err(|_| CertError::Locked("wrong passphrase".to_owned()))?;
            }
            pairs.push(
                secret
                    .into_keypair()
                    .map_err(|err| CertError::Locked(first_line(&err)))?,
            );
        }
        Ok(pairs)
    }

    pub(super) fn unlocked_signing_key(
        &self,
        passphrase: Option<&Secret>,
        now: DateTime<Utc>,
    ) -> Result<Key<key::SecretParts, key::UnspecifiedRole>, CertError> {
        let policy = StandardPolicy::new();
        let valid = self
            .cert
            .with_policy(&policy, SystemTime::from(now))
            .map_err(|err| CertError::NoValidBinding(first_line(&err)))?;
        let signing = valid
            .keys()
            .for_signing()
            .alive()
            .revoked(false)
            .secret()
            .next()
            .ok_or(CertError::NoSecretSigningKey)?;
        let secret = signing.key().clone().role_into_unspecified();
        if secret.has_unencrypted_secret() {
            return Ok(secret);
        }
        let Some(passphrase) = passphrase else {
            return Err(CertError::Locked(
                "it is protected by a passphrase and none is configured ([list_key] passphrase)"
                    .to_owned(),
            ));
        };
        secret
            .decrypt_secret(&Password::from(passphrase.expose()))
            .map_err(|_| {
                CertError::Locked("the configured passphrase does not unlock it".to_owned())
            })
    }

    /// The primary key's fingerprint, upper-case hex.
    pub fn fingerprint(&self) -> String {
        self.cert.fingerprint().to_hex()
    }

    /// The whole key with its secret parts, armored, for the key file.
    pub fn to_secret_armored(&self) -> Result<Vec<u8>, CertError> {
        self.cert
            .as_tsk()
            .armored()
            .to_vec()
            .map_err(|err| CertError::Generate(first_line(&err)))
    }

    /// The public certificate, binary (for the Autocrypt header).
    pub fn to_public_binary(&self) -> Result<Vec<u8>, CertError> {
        self.cert
            .to_vec()
            .map_err(|err| CertError::Generate(first_line(&err)))
    }

    /// The public certificate, armored, as `embargo key export` prints it.
    pub fn to_public_armored(&self) -> Result<Vec<u8>, CertError> {
        self.cert
            .armored()
            .to_vec()
            .map_err(|err| CertError::Generate(first_line(&err)))
    }
}

/// Reads a key file and returns its public certificate, armored, without
/// touching the secret parts.
pub fn public_cert_armored(bytes: &[u8]) -> Result<Vec<u8>, CertError> {
    let cert = parse_one(bytes)?;
    cert.armored()
        .to_vec()
        .map_err(|err| CertError::Generate(first_line(&err)))
}
