//! Sealing: an announcement rendered once, signed once by the list key,
//! and encrypted separately to each member, on all cores.
//!
//! This is where the OpenPGP and mail modules meet: [`PgpSigner`] lets the
//! mail module's [`DetachedSigner`] sign with the list key, and
//! [`Sealer::seal`] hands each member's ciphertext to the mail module to
//! wrap. A member whose key cannot be used gets no message here, only the
//! reason: there is no clear-text path.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::compose::{Kind, Rendered};
use crate::config::Config;
use crate::mail::{self, DetachedSigner, ListIdentity, Outer, SignedEntity};
use crate::pgp::{self, CertPolicy, ListKey, ListSigner};
use crate::roster::Email;

/// Lets the mail module sign with the list key.
pub struct PgpSigner {
    signer: ListSigner,
    now: DateTime<Utc>,
}

impl DetachedSigner for PgpSigner {
    fn sign_detached(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        self.signer
            .sign_detached(data, self.now)
            .map_err(|err| err.to_string())
    }

    fn micalg(&self) -> &str {
        pgp::MICALG
    }
}

/// One member to seal for.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub email: Email,
    pub fingerprint: String,
    pub cert: Vec<u8>,
}

/// What sealing made for one member.
#[derive(Debug)]
pub enum Sealed {
    /// The complete RFC 5322 message, CRLF line ends.
    Message { message_id: String, bytes: Vec<u8> },
    /// The member's key cannot be used; they get the `missed` notice.
    Missed { reason: String },
}

/// Everything needed to sign and encrypt for this list.
pub struct Sealer {
    list: ListIdentity,
    signer: PgpSigner,
    policy: CertPolicy,
    outer_subject: String,
    /// The list's own certificate (public parts), for what the list
    /// keeps for itself (a report, as ciphertext).
    list_cert: Vec<u8>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").finish_non_exhaustive()
    }
}

impl Sealer {
    /// Loads and unlocks the list key named in `config`.
    pub fn from_config(config: &Config, now: DateTime<Utc>) -> Result<Self> {
        let path = &config.list_key.path;
        let bytes = std::fs::read(path)
            .with_context(|| format!("read list key file {}", path.display()))?;
        let passphrase = config
            .list_key
            .passphrase
            .load()
            .context("read the list key passphrase")?;
        // Unlocked once, by the signer: with a passphrase, unlocking is the
        // slow part (S2K), so `ListKey::import`'s full check is not repeated.
        let key = ListKey::read(&bytes).context("list key")?;
        let signer =
            ListSigner::new(&key, passphrase.as_ref(), now).context("unlock the list key")?;
        let list_cert = key.to_public_binary().context("list certificate")?;
        let address = config.list.address.clone();
        // Built once here, not per member.
        let list_id = format!(
            "{} <{}.{}>",
            config.list.name,
            address.local_part().to_ascii_lowercase(),
            address.domain()
        );
        Ok(Self {
            list: ListIdentity {
                name: config.list.name.clone(),
                address,
                list_id,
                autocrypt: mail::autocrypt(
                    &config.list.address,
                    &key.to_public_binary().context("list certificate")?,
                ),
            },
            signer: PgpSigner { signer, now },
            policy: CertPolicy {
                min_rsa_bits: config.members.min_rsa_bits,
            },
            outer_subject: config.mail.outer_subject.clone(),
            list_cert,
        })
    }

    /// Signs the rendered text once.
    pub fn sign(&self, rendered: &Rendered) -> Result<SignedEntity> {
        Ok(mail::sign_text(
            &self.list,
            &rendered.subject,
            &rendered.body,
            &self.signer,
        )?)
    }

    /// Encrypts `entity` to each recipient, in parallel, and wraps each in
    /// its own message. `message_key` and `label` (advisory, revision,
    /// kind) make each Message-ID stable without revealing anything.
    pub fn seal(
        &self,
        entity: &SignedEntity,
        recipients: &[Recipient],
        message_key: &str,
        label: &Label,
    ) -> Vec<Sealed> {
        self.seal_as(entity, recipients, None, &|recipient| {
            self.message_id(message_key, &label.0, &recipient.fingerprint)
        })
    }

    /// `data` encrypted to the list's own key alone: how the list keeps
    /// what it must not hold in clear (a report).
    pub fn encrypt_to_list(&self, data: &[u8]) -> Result<Vec<u8>> {
        Ok(pgp::encrypt_for(
            &self.list_cert,
            data,
            &self.policy,
            self.signer.now,
        )?)
    }

    /// Signs an entity built elsewhere (a re-sealed post) once.
    pub fn sign_raw(&self, entity: &[u8]) -> Result<SignedEntity> {
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|err| anyhow::anyhow!("read random bytes: {err}"))?;
        Ok(mail::sign_entity(entity, &self.signer, random)?)
    }

    /// [`Sealer::seal`] for copies that thread: every copy carries
    /// `message_id` (the same for all) and the outer `thread` headers.
    pub fn seal_in_thread(
        &self,
        entity: &SignedEntity,
        recipients: &[Recipient],
        message_id: &str,
        thread: mail::Thread<'_>,
    ) -> Vec<Sealed> {
        self.seal_as(entity, recipients, Some(thread), &|_| message_id.to_owned())
    }

    fn seal_as(
        &self,
        entity: &SignedEntity,
        recipients: &[Recipient],
        thread: Option<mail::Thread<'_>>,
        message_id: &(dyn Fn(&Recipient) -> String + Sync),
    ) -> Vec<Sealed> {
        let now = self.signer.now;
        recipients
            .par_iter()
            .map(|recipient| {
                let ciphertext =
                    match pgp::encrypt_for(&recipient.cert, entity.as_bytes(), &self.policy, now) {
                        Ok(ciphertext) => ciphertext,
                        Err(err) => {
                            return Sealed::Missed {
                                reason: err.to_string(),
                            };
                        }
                    };
                let message_id = message_id(recipient);
                let outer = Outer {
                    list: &self.list,
                    to: &recipient.email,
                    subject: &self.outer_subject,
                    message_id: &message_id,
                    date: now,
                    thread,
                };
                match mail::encrypted_message(&outer, &ciphertext) {
                    Ok(bytes) => Sealed::Message { message_id, bytes },
                    Err(err) => Sealed::Missed {
                        reason: err.to_string(),
                    },
                }
            })
            .collect()
    }

    /// The public disclosure to `to`: signed, not encrypted, the real
    /// subject outside.
    pub fn public(
        &self,
        entity: &SignedEntity,
        rendered: &Rendered,
        to: &Email,
        message_key: &str,
        label: &Label,
    ) -> Result<(String, Vec<u8>)> {
        let message_id = self.message_id(message_key, &label.0, to.normalized());
        let outer = Outer {
            list: &self.list,
            to,
            subject: &rendered.subject,
            message_id: &message_id,
            date: self.signer.now,
            thread: None,
        };
        let bytes = mail::signed_message(&outer, entity)?;
        Ok((message_id, bytes))
    }

    /// Content-free mail to someone without a key (a reporter): signed by
    /// the list, not encrypted, threaded. Only text that says nothing of
    /// a case but its name ever goes this way (`Kind::CaseNotice`).
    pub fn signed_in_thread(
        &self,
        rendered: &Rendered,
        to: &Email,
        message_id: &str,
        thread: mail::Thread<'_>,
    ) -> Result<Vec<u8>> {
        let entity = self.sign(rendered)?;
        let outer = Outer {
            list: &self.list,
            to,
            subject: &rendered.subject,
            message_id,
            date: self.signer.now,
            thread: Some(thread),
        };
        Ok(mail::signed_message(&outer, &entity)?)
    }

    /// A fresh Message-ID at the list's domain.
    pub fn fresh_message_id(&self) -> Result<String> {
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|err| anyhow::anyhow!("read random bytes: {err}"))?;
        Ok(format!(
            "<{}@{}>",
            hex::encode(random),
            self.list.address.domain()
        ))
    }

    /// The list's address, which the envelope sender is built from.
    pub fn list_address(&self) -> &Email {
        &self.list.address
    }

    fn message_id(&self, message_key: &str, label: &str, recipient: &str) -> String {
        let mut hasher = Sha256::new();
        for part in [message_key, label, recipient] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        let digest = hex::encode(hasher.finalize());
        format!("<{}@{}>", &digest[..32], self.list.address.domain())
    }
}

/// What names one announcement in Message-IDs: an advisory's id, revision
/// and kind, or the kind alone for one-off mail. It is made only from a
/// [`Kind`], so no caller spells a kind's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label(String);

impl Label {
    /// The label of one-off mail (member mail, reports) of `kind`.
    pub fn mail(kind: Kind) -> Self {
        Label(kind.name().to_owned())
    }
}

/// The label that names one advisory announcement in Message-IDs.
pub fn label(advisory: &str, revision: u32, kind: Kind) -> Label {
    Label(format!("{advisory}/{revision}/{}", kind.name()))
}
