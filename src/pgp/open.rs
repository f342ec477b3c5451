//! Reading what the list sends, as a member's software does: decrypt with
//! the member's secret key, verify the list's detached signature. The
//! demo uses it to show a copy opening; inbound mail will verify members'
//! signatures the same way.

use chrono::{DateTime, Utc};
use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::*;
use openpgp::parse::Parse;
use openpgp::parse::stream::{
    DecryptorBuilder, MessageLayer, MessageStructure, VerificationHelper,
};
use openpgp::policy::StandardPolicy;
use openpgp::{KeyHandle, Result as PgpResult};

use super::stream::{Decrypting, Reading};
use super::{CertError, first_line};

struct Helper {
    signer: Cert,
    verified: Option<String>,
}

impl VerificationHelper for Helper {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> PgpResult<Vec<Cert>> {
        Ok(vec![self.signer.clone()])
    }

    fn check(&mut self, structure: MessageStructure) -> PgpResult<()> {
        for layer in structure {
            if let MessageLayer::SignatureGroup { results } = layer {
                for result in results.into_iter().flatten() {
                    self.verified = Some(result.ka.cert().fingerprint().to_hex());
                }
            }
        }
        Ok(())
    }
}

/// Decrypts `ciphertext` with `secret_key` (an unencrypted secret key, as
/// `generate_member_key` makes).
pub fn decrypt(secret_key: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, CertError> {
    let secret =
        Cert::from_bytes(secret_key).map_err(|err| CertError::Unreadable(first_line(&err)))?;
    let policy = StandardPolicy::new();
    let keys = secret
        .keys()
        .with_policy(&policy, None)
        .secret()
        .for_transport_encryption()
        .for_storage_encryption()
        .filter_map(|key| key.key().clone().into_keypair().ok())
        .collect();
    let helper = Decrypting {
        helper: Helper {
            signer: secret.clone(),
            verified: None,
        },
        keys,
        owner: Some(secret),
        refusal: None,
    };
    let reading = Reading {
        what: "cannot decrypt",
        at: None,
        max_bytes: None,
    };
    let mut decryptor = reading.open::<DecryptorBuilder, _>(ciphertext, helper)?;
    reading.read_all(&mut decryptor)
}

/// Verifies a detached signature by `signer` over exactly `data`, as of
/// `now`; answers the signing certificate's fingerprint.
pub fn verify_detached(
    signer: &[u8],
    data: &[u8],
    signature: &[u8],
    now: DateTime<Utc>,
) -> Result<String, CertError> {
    let signer = Cert::from_bytes(signer).map_err(|err| CertError::Unreadable(first_line(&err)))?;
    let helper = Helper {
        signer,
        verified: None,
    };
    let reading = Reading {
        what: "bad signature",
        at: Some(now),
        max_bytes: None,
    };
    reading
        .verify_detached(signature, data, helper)?
        .verified
        .ok_or_else(|| CertError::Unreadable("no good signature by the expected key".to_owned()))
}
