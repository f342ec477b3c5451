//! OpenPGP: the only module that names sequoia.
//!
//! It turns bytes that people hand us (a member's certificate, a list key to
//! import) into checked values, and makes the list's own key. Everything it
//! returns is plain data (fingerprints as hex, algorithms as text, times as
//! `chrono` instants) so no other module depends on sequoia's types.
//!
//! The certificate policy is sequoia's `StandardPolicy` (which refuses SHA-1
//! bindings and weak algorithms) plus ours: a live, non-revoked,
//! encryption-capable subkey; RSA keys of at least 2048 bits; third-party
//! certifications stripped; identity is the full primary fingerprint.

mod attached;
mod bounds;
mod cert;
mod listkey;
mod seal;
#[cfg(any(test, feature = "test-hooks"))]
pub mod testing;

use chrono::{DateTime, Utc};
use serde::Serialize;
use thiserror::Error;

pub use attached::{AttachedCert, MAX_ATTACHED_CERTS, split_attached};
pub use cert::{
    check_member_cert, fingerprint_of, generate_member_key, summarize_member_cert,
    update_member_cert,
};
mod open;
mod stream;
mod verify;
pub use bounds::{Bounds, check_bounds};
pub use listkey::{ListKey, public_cert_armored};
pub use open::{decrypt, verify_detached};
pub use seal::{ListSigner, MICALG, check_encryptable, encrypt_for, encryptable_until};
pub use verify::{
    Issuers, Opened, Verified, canonical, open_cleartext, open_encrypted, signature_issuers,
    signing_keys, verification_time, verify_signed,
};

/// Our additions to sequoia's standard policy.
#[derive(Debug, Clone, Copy)]
pub struct CertPolicy {
    /// The shortest RSA key accepted, in bits (never below 2048).
    pub min_rsa_bits: usize,
}

impl Default for CertPolicy {
    fn default() -> Self {
        Self { min_rsa_bits: 2048 }
    }
}

/// A member certificate that passed the policy, ready to store.
#[derive(Debug, Clone)]
pub struct CheckedCert {
    /// The primary key's fingerprint, upper-case hex without spaces.
    pub fingerprint: String,
    /// The certificate in binary form: public parts only, third-party
    /// certifications removed.
    pub bytes: Vec<u8>,
    /// What `member show` prints about it.
    pub summary: CertSummary,
    /// Things worth telling the operator that do not refuse the cert.
    pub warnings: Vec<String>,
}

/// A description of a certificate for people and for `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct CertSummary {
    pub fingerprint: String,
    pub primary_algorithm: String,
    pub created: DateTime<Utc>,
    pub expires: Option<DateTime<Utc>>,
    pub user_ids: Vec<String>,
    /// The subkeys mail will be encrypted to.
    pub encryption_keys: Vec<SubkeySummary>,
    /// Set when the certificate no longer passes the policy at the time it
    /// was looked at (a subkey expired or was revoked since import).
    pub problem: Option<String>,
}

impl CertSummary {
    /// Whether one of the certificate's user IDs names `email` (the
    /// address in `Name <address>`, or the whole ID), in any case.
    pub fn names(&self, email: &crate::roster::Email) -> bool {
        self.user_ids.iter().any(|uid| {
            let address = match (uid.rfind('<'), uid.rfind('>')) {
                (Some(open), Some(close)) if open < close => &uid[open + 1..close],
                _ => uid.as_str(),
            };
            address.trim().eq_ignore_ascii_case(email.normalized())
        })
    }
}

/// One encryption subkey.
#[derive(Debug, Clone, Serialize)]
pub struct SubkeySummary {
    pub fingerprint: String,
    pub algorithm: String,
    pub created: DateTime<Utc>,
    pub expires: Option<DateTime<Utc>>,
}

/// Why a certificate or key was refused. Each message is one line that
/// names the rule.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CertError {
    #[error("not an OpenPGP certificate: {0}")]
    Unreadable(String),
    #[error("the file holds {0} certificates; give exactly one")]
    Keyring(usize),
    #[error("the certificate has no valid self-signature: {0}")]
    NoValidBinding(String),
    #[error("the certificate's self-signature uses SHA-1, which is refused")]
    Sha1Binding,
    #[error("the certificate is revoked")]
    Revoked,
    #[error("the certificate expired on {0}")]
    Expired(String),
    #[error("the {which} key is RSA-{bits}; at least {min} bits are required")]
    WeakRsa {
        which: &'static str,
        bits: usize,
        min: usize,
    },
    #[error("the certificate has no encryption-capable subkey")]
    NoEncryptionKey,
    #[error("no usable encryption subkey: {0}")]
    NoUsableEncryptionKey(String),
    #[error("the list key must include its secret signing key")]
    NoSecretSigningKey,
    #[error("the list key's secret key could not be unlocked: {0}")]
    Locked(String),
    #[error("could not make the key: {0}")]
    Generate(String),
}

/// Keeps only the first line of a sequoia error chain, for one-line
/// refusals.
fn first_line(err: &anyhow::Error) -> String {
    let text = format!("{err:#}");
    text.lines().next().unwrap_or_default().to_owned()
}

/// Runs sequoia on untrusted bytes, turning a panic inside it into a
/// refusal. sequoia 2.4.2 panics on some truncated encrypted packets
/// (found by `examples/fuzz_ingest.rs`; the inputs are in
/// `tests/data/fuzz-corpus/crash-*.eml`): a stranger must not be able to
/// crash `embargo ingest` with one.
pub(crate) fn guarded<T>(
    what: &str,
    run: impl FnOnce() -> Result<T, CertError>,
) -> Result<T, CertError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or_else(|_| {
        tracing::warn!(
            what,
            "malformed OpenPGP data made the parser panic; refused"
        );
        Err(CertError::Unreadable(format!(
            "malformed OpenPGP data ({what})"
        )))
    })
}
