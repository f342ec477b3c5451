//! The list itself, as the CLI shows it: its public certificate and its
//! audit log; and, for `embargo demo`, a member's side of the list (a key
//! made for a stand-in member, a copy opened as that member would).

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::App;
use crate::audit::Entry;
use crate::roster::Email;

/// A copy as a member reads it: who signed it and what it says inside.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The fingerprint of the key that signed it.
    pub signer: String,
    /// The protected Subject inside the encryption.
    pub subject: Option<String>,
    pub text: String,
}

impl App {
    /// The list's public certificate, armored, to publish.
    pub fn list_certificate(&self) -> Result<Vec<u8>> {
        let path = &self.config.list_key.path;
        let bytes = std::fs::read(path)
            .with_context(|| format!("read list key file {}", path.display()))?;
        crate::pgp::public_cert_armored(&bytes).context("list key file")
    }

    /// Every audit entry, oldest first.
    pub async fn audit_entries(&self) -> Result<Vec<Entry>> {
        Ok(self.store.audit_entries().await?)
    }

    /// Decrypts a sealed copy with a member's secret key and checks the
    /// list's signature inside, as the member's mail program would.
    pub fn open_as_member(&self, secret: &[u8], copy: &[u8]) -> Result<Opened> {
        let payload = crate::mail::encrypted_payload(copy)?;
        let entity = crate::pgp::decrypt(secret, &payload)?;
        let parts = crate::mail::signed_parts(&entity)?;
        let list_key = std::fs::read(&self.config.list_key.path).context("read the list key")?;
        let list_public = crate::pgp::ListKey::read(&list_key)?.to_public_binary()?;
        let signer =
            crate::pgp::verify_detached(&list_public, &parts.signed, &parts.signature, self.now())?;
        Ok(Opened {
            signer,
            subject: parts.subject,
            text: parts.text,
        })
    }
}

/// A new key pair (public, secret) for a stand-in member, as `embargo
/// demo` makes them; real members bring their own.
pub fn stand_in_key(name: &str, email: &Email, now: DateTime<Utc>) -> Result<(Vec<u8>, Vec<u8>)> {
    Ok(crate::pgp::generate_member_key(name, email, now)?)
}
