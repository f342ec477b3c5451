//! Member certificates made in-process for tests, so they need no GnuPG.
//!
//! Compiled only for tests and the `test-hooks` feature: a release build
//! never contains a way to mint keys with chosen lifetimes.

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::*;
use openpgp::packet::UserID;
use openpgp::serialize::SerializeInto;
use openpgp::types::KeyFlags;

use super::{CertError, first_line};

/// A v4 certificate for `name <email>` made at `now`, with an Ed25519
/// primary key and a Cv25519 encryption subkey valid until
/// `encryption_until` (or forever): the armored public certificate.
/// Unlike `generate_member_key`, the subkey's lifetime is chosen, which the
/// key-expiry check needs.
pub fn member_cert(
    name: &str,
    email: &str,
    now: DateTime<Utc>,
    encryption_until: Option<DateTime<Utc>>,
) -> Result<Vec<u8>, CertError> {
    let fail = |err: anyhow::Error| CertError::Generate(first_line(&err));
    let lifetime = encryption_until
        .map(|until| (until - now).to_std().map_err(|err| fail(err.into())))
        .transpose()?;
    let (cert, _revocation) = CertBuilder::new()
        .set_cipher_suite(CipherSuite::Cv25519)
        .set_creation_time(SystemTime::from(now))
        .set_primary_key_flags(KeyFlags::empty().set_certification().set_signing())
        .add_subkey(
            KeyFlags::empty()
                .set_transport_encryption()
                .set_storage_encryption(),
            lifetime,
            None,
        )
        .add_userid(UserID::from(format!("{name} <{email}>")))
        .generate()
        .map_err(fail)?;
    cert.armored().to_vec().map_err(fail)
}
