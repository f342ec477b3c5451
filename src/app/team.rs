//! The security team's own list: mail to `[team] address` (and to a
//! case's reply address, `LOCAL+case-…-TOKEN@DOMAIN`).
//!
//! A team member's signed post is authenticated exactly as inbound
//! commands are (the root signature by the member's current key, its age,
//! the replay guard) and re-sealed through the outbox: to the team, or,
//! sent to a case's address, to the case's participants (`app::case_mail`).
//! Each copy is signed by the list key and encrypted to one reader:
//! inside, the list's preface says who posted and that their signature is
//! good, and the post follows whole with its real headers as protected
//! headers; outside, a generic Subject and stand-ins for the thread's
//! Message-IDs (`inbound::thread`), so replies thread.
//!
//! Anything else is a report (`app::cases`) or a follow-up to a case
//! (`app::case_thread`). Mail encrypted to the list key is decrypted
//! first: the team reads it as it was written.

use anyhow::Result;

use super::App;
use super::inbound::{Authenticated, Ingested};
use super::member_mail::member_view;
use crate::audit::{Actor, Channel, Record};
use crate::cases::CaseState;
use crate::compose::{Kind, member_context};
use crate::inbound::case_address::{self, TeamRecipient};
use crate::mail::{self, Inbound};
use crate::pgp;
use crate::roster::{Email, Status};
use crate::store::{Addressee, RelayReaders, SignedKey};

/// One message on the team's pipe, read once.
pub(super) struct TeamMail<'a> {
    /// The bytes as they arrived.
    pub original: &'a [u8],
    /// What the team reads: the original, or with its encrypted body
    /// replaced by what it decrypts to.
    pub shown: std::borrow::Cow<'a, [u8]>,
    /// How the original is signed or encrypted.
    pub inbound: Inbound,
}

impl App {
    /// Whether mail to `recipient` is for this list's team address or one
    /// of its cases' reply addresses.
    pub fn is_team_address(&self, recipient: &Email) -> bool {
        self.config
            .team
            .address
            .as_ref()
            .is_some_and(|team| case_address::read(team, recipient.as_str(), None).is_some())
    }

    /// Takes one message sent to the team address or a case's reply
    /// address (`recipient`): a team member's signed post is re-sealed to
    /// the team (or the case's participants); a reply to a case joins it;
    /// anything else is a report and opens a case.
    pub async fn ingest_team(&self, bytes: &[u8], recipient: Option<&Email>) -> Result<Ingested> {
        let limits = self.limits();
        let inbound = match mail::read_inbound(bytes, &limits) {
            Ok(inbound) => inbound,
            Err(dropped) => return Ok(self.drop_message(&format!("dropped unread: {dropped}"))),
        };
        let shown = match &inbound {
            Inbound::Encrypted { payload } => self
                .decrypt_to_list(payload, None)?
                .and_then(|opened| mail::with_decrypted_body(bytes, &opened.content))
                .map_or(std::borrow::Cow::Borrowed(bytes), std::borrow::Cow::Owned),
            _ => std::borrow::Cow::Borrowed(bytes),
        };
        let message = TeamMail {
            original: bytes,
            shown,
            inbound,
        };
        let secret = self.thread_secret().await?;
        let target = match (recipient, &self.config.team.address) {
            (Some(recipient), Some(team)) => {
                case_address::read(team, recipient.as_str(), Some(&secret))
                    .unwrap_or(TeamRecipient::Team)
            }
            _ => TeamRecipient::Team,
        };
        let open_case = match target {
            TeamRecipient::Case(id) => self
                .store
                .case(id)
                .await?
                .filter(|c| c.state == CaseState::Open),
            _ => None,
        };
        let author = match &message.inbound {
            Inbound::Signed { .. } | Inbound::Encrypted { .. } | Inbound::Cleartext { .. } => {
                match self
                    .authenticate(message.inbound.clone(), &limits, 0)
                    .await?
                {
                    Ok(auth) => self.team_author(auth).await?,
                    Err(_) => None,
                }
            }
            _ => None,
        };
        match (author, open_case) {
            (Some((auth, author)), Some(case)) => {
                self.case_post(&case, auth, &author, &message, &secret)
                    .await
            }
            (Some((auth, author)), None) => self.team_post(auth, &author, &message.shown).await,
            (None, Some(case)) => self.follow_up(&case, &message, &secret).await,
            (None, None) => {
                // Not a team member's good post (unsigned, signed by
                // someone else, a team From without a valid signature)
                // and not to a case's address: a reply naming one of a
                // case's messages joins it; anything else is a report,
                // never relayed as a team post.
                if target == TeamRecipient::Team
                    && let Some(case) = self.case_replied_to(&message.shown, &secret).await?
                {
                    return self.follow_up(&case, &message, &secret).await;
                }
                self.open_report(&message, &secret).await
            }
        }
    }

    /// What `payload` (encrypted to the list key) decrypts to, with its
    /// signature verified by `cert` when given; `None` when it cannot be
    /// decrypted (it is then relayed as it came).
    pub(super) fn decrypt_to_list(
        &self,
        payload: &[u8],
        cert: Option<&[u8]>,
    ) -> Result<Option<pgp::Opened>> {
        let (list_key, passphrase) = self.list_key_for_decryption()?;
        let bounds = pgp::Bounds::for_mail(self.config.inbound.max_bytes);
        Ok(pgp::open_encrypted(
            &list_key,
            passphrase.as_ref(),
            payload,
            cert,
            self.now(),
            &bounds,
        )
        .ok())
    }

    /// The author of `auth`'s post when they are an active team member
    /// and their signature is current; `None` otherwise (the mail is then
    /// not theirs as far as the team is concerned).
    async fn team_author(&self, auth: Authenticated) -> Result<Option<(Authenticated, Addressee)>> {
        let now = self.now();
        let sender = &auth.member;
        if sender.fingerprint != auth.verified.signer || sender.status != Status::Active {
            return Ok(None);
        }
        let signed_at = auth.verified.signed_at;
        if signed_at < now - self.config.inbound.signature_max_age
            || signed_at > now + self.config.inbound.future_skew
        {
            return Ok(None);
        }
        let team = self.team().await?;
        Ok(team
            .into_iter()
            .find(|m| m.member_id == sender.id)
            .map(|author| (auth, author)))
    }

    /// Whether `auth`'s signed post was taken before (the replay guard).
    pub(super) async fn seen_before(&self, auth: &Authenticated) -> Result<bool> {
        Ok(self
            .store
            .signature_seen(&auth.verified.signer, auth.verified.signed_at, &auth.digest)
            .await?)
    }

    /// Keeps `auth`'s post for re-sealing to the team.
    async fn team_post(
        &self,
        auth: Authenticated,
        author: &Addressee,
        shown: &[u8],
    ) -> Result<Ingested> {
        let now = self.now();
        if self.seen_before(&auth).await? {
            return Ok(self.drop_message("this signed post was already relayed"));
        }
        let key = SignedKey {
            signer: &auth.verified.signer,
            signed_at: auth.verified.signed_at,
            digest: &auth.digest,
        };
        let team = self.team().await?;
        let sealer = super::seal::Sealer::from_config(&self.config, now)?;
        let preface = self.templates()?.render(
            Kind::TeamPost,
            &member_context(&self.list_view(), &member_view(author, ""), &[]),
        )?;
        let mut tx = self.store.write(now).await?;
        match tx
            .record_signature(key.signer, key.signed_at, key.digest)
            .await
        {
            Err(crate::store::StoreError::Conflict(_)) => {
                return Ok(self.drop_message("this signed post was already relayed"));
            }
            other => other?,
        }
        self.queue_relay(
            &mut tx,
            &sealer,
            Kind::TeamPost,
            None,
            RelayReaders::Team,
            &preface.body,
            shown,
        )
        .await?;
        tx.append_audit(
            &Record::new(
                Actor::Member(
                    auth.member.email.clone(),
                    Channel::Mail {
                        fingerprint: auth.verified.signer.clone(),
                    },
                ),
                "team.post",
                format!("member:{}", auth.member.email),
            )
            .detail("readers", team.len().to_string()),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(readers = team.len(), "team post kept for re-sealing");
        Ok(Ingested::TeamPost { copies: team.len() })
    }

    /// The key of the thread stand-ins: derived from the list's secret.
    pub(super) async fn thread_secret(&self) -> Result<[u8; 32]> {
        Ok(crate::inbound::verp::hmac(
            &self.bounce_secret().await?,
            b"thread ids",
        ))
    }
}
