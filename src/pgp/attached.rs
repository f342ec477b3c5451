//! Certificates attached to a signed command: one attachment may hold
//! several (a keyring), and each command must bind to exactly one of them,
//! so they are split here into single certificates with what a command can
//! be matched by (the primary fingerprint and the addresses its user IDs
//! name). Nothing is checked against the policy here; the use case that
//! stores a certificate does that.

use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::*;
use openpgp::parse::Parse;
use openpgp::serialize::SerializeInto;

use super::{CertError, first_line};

/// Most certificates one attachment may hold; more is a flood, refused.
pub const MAX_ATTACHED_CERTS: usize = 16;

/// One certificate out of an attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedCert {
    /// The primary fingerprint, upper-case hex.
    pub fingerprint: String,
    /// This certificate alone, binary (public parts as attached).
    pub bytes: Vec<u8>,
    /// The addresses its user IDs name, lower case.
    pub emails: Vec<String>,
}

/// Splits one attachment into its certificates.
pub fn split_attached(bytes: &[u8]) -> Result<Vec<AttachedCert>, CertError> {
    super::guarded("attached certificate", || split_unguarded(bytes))
}

fn split_unguarded(bytes: &[u8]) -> Result<Vec<AttachedCert>, CertError> {
    let parser =
        CertParser::from_bytes(bytes).map_err(|err| CertError::Unreadable(first_line(&err)))?;
    let mut certs = Vec::new();
    for cert in parser {
        let cert = cert
            .map_err(|err| CertError::Unreadable(first_line(&err)))?
            .strip_secret_key_material();
        if certs.len() == MAX_ATTACHED_CERTS {
            return Err(CertError::Keyring(MAX_ATTACHED_CERTS + 1));
        }
        let emails = cert
            .userids()
            .filter_map(|ua| ua.userid().email_normalized().ok().flatten())
            .collect();
        certs.push(AttachedCert {
            fingerprint: cert.fingerprint().to_hex(),
            bytes: cert
                .to_vec()
                .map_err(|err| CertError::Unreadable(first_line(&err)))?,
            emails,
        });
    }
    if certs.is_empty() {
        return Err(CertError::Unreadable("no certificate found".to_owned()));
    }
    Ok(certs)
}
