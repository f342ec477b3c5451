//! Reading what the list sends, as a member's software does: decrypt with
//! the member's secret key, verify the list's detached signature. The
//! demo uses it to show a copy opening; inbound mail will verify members'
//! signatures the same way.

use std::io::Read;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::*;
use openpgp::crypto::SessionKey;
use openpgp::packet::{PKESK, SKESK};
use openpgp::parse::Parse;
use openpgp::parse::stream::{
    DecryptionHelper, DecryptorBuilder, DetachedVerifierBuilder, MessageLayer, MessageStructure,
    VerificationHelper,
};
use openpgp::policy::StandardPolicy;
use openpgp::types::SymmetricAlgorithm;
use openpgp::{KeyHandle, Result as PgpResult};

use super::{CertError, first_line};

struct Helper {
    secret: Option<Cert>,
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

impl DecryptionHelper for Helper {
    fn decrypt(
        &mut self,
        pkesks: &[PKESK],
        _skesks: &[SKESK],
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> PgpResult<Option<Cert>> {
        let policy = StandardPolicy::new();
        let Some(secret) = &self.secret else {
            return Ok(None);
        };
        for key in secret
            .keys()
            .with_policy(&policy, None)
            .secret()
            .for_transport_encryption()
            .for_storage_encryption()
        {
            let Ok(mut pair) = key.key().clone().into_keypair() else {
                continue;
            };
            for pkesk in pkesks {
                if let Some((algo, session_key)) = pkesk.decrypt(&mut pair, sym_algo)
                    && decrypt(algo, &session_key)
                {
                    return Ok(Some(secret.clone()));
                }
            }
        }
        Ok(None)
    }
}

/// Decrypts `ciphertext` with `secret_key` (an unencrypted secret key, as
/// `generate_member_key` makes).
pub fn decrypt(secret_key: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, CertError> {
    let secret =
        Cert::from_bytes(secret_key).map_err(|err| CertError::Unreadable(first_line(&err)))?;
    let policy = StandardPolicy::new();
    let helper = Helper {
        secret: Some(secret.clone()),
        signer: secret,
        verified: None,
    };
    let mut decryptor = DecryptorBuilder::from_bytes(ciphertext)
        .and_then(|builder| builder.with_policy(&policy, None, helper))
        .map_err(|err| CertError::Unreadable(format!("cannot decrypt: {}", first_line(&err))))?;
    let mut plaintext = Vec::new();
    decryptor
        .read_to_end(&mut plaintext)
        .map_err(|err| CertError::Unreadable(format!("cannot decrypt: {err}")))?;
    Ok(plaintext)
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
    let policy = StandardPolicy::new();
    let helper = Helper {
        secret: None,
        signer,
        verified: None,
    };
    let mut verifier = DetachedVerifierBuilder::from_bytes(signature)
        .and_then(|builder| builder.with_policy(&policy, Some(SystemTime::from(now)), helper))
        .map_err(|err| CertError::Unreadable(format!("bad signature: {}", first_line(&err))))?;
    verifier
        .verify_bytes(data)
        .map_err(|err| CertError::Unreadable(format!("bad signature: {}", first_line(&err))))?;
    verifier
        .into_helper()
        .verified
        .ok_or_else(|| CertError::Unreadable("no good signature by the expected key".to_owned()))
}
