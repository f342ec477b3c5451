//! The security team's own list (issue 12, in progress): a team member's
//! signed post to `[team] address` is re-sealed to each active member of
//! the team, through the outbox.
//!
//! The post is authenticated exactly as inbound commands are (the root
//! signature by the member's current key, its age, the replay guard).
//! Each copy is signed by the list key and encrypted to one member: inside,
//! the list's preface says who posted and that their signature is good,
//! and the post follows whole with its real headers as protected headers;
//! outside, a generic Subject and stand-ins for the thread's Message-IDs
//! (`inbound::thread`), the same on every copy, so replies thread.
//!
//! Not built yet: posts encrypted to the list key, and mail to the team
//! address from anyone else (a report that opens a case). Both are
//! dropped here for now, never relayed as a team post.

use anyhow::Result;

use super::App;
use super::inbound::Ingested;
use super::member_mail::{member_view, random_key, to_recipient};
use crate::audit::{Actor, Channel, Record};
use crate::compose::{Kind, member_context};
use crate::inbound::thread;
use crate::mail::{self, Inbound};
use crate::roster::Status;
use crate::store::{Addressee, SignedKey};

impl App {
    /// Whether mail to `recipient` is for this list's team address.
    pub fn is_team_address(&self, recipient: &crate::roster::Email) -> bool {
        self.config
            .team
            .address
            .as_ref()
            .is_some_and(|team| team.normalized() == recipient.normalized())
    }

    /// Takes one message sent to the team address: a team member's
    /// signed post is re-sealed to the team; anything else is a report
    /// and opens a case.
    pub async fn ingest_team(&self, bytes: &[u8]) -> Result<Ingested> {
        let limits = self.limits();
        let inbound = match mail::read_inbound(bytes, &limits) {
            Ok(inbound) => inbound,
            Err(dropped) => return Ok(self.drop_message(&format!("dropped unread: {dropped}"))),
        };
        if matches!(inbound, Inbound::Signed { .. })
            && let Ok(auth) = self.authenticate(inbound, &limits, 0).await?
            && let Some(done) = self.team_post(auth, bytes).await?
        {
            return Ok(done);
        }
        // Not a team member's good post (unsigned, signed by someone else,
        // a team From without a valid signature): a report, from a sender
        // nobody has verified — never relayed as a team post.
        self.open_report(bytes).await
    }

    /// Re-seals `auth`'s post to the team when its signer is an active
    /// team member; `None` when they are not (the mail is a report then).
    async fn team_post(
        &self,
        auth: super::inbound::Authenticated,
        bytes: &[u8],
    ) -> Result<Option<Ingested>> {
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
        let team = self
            .store
            .members_with_roles(&self.config.team.roles)
            .await?;
        let Some(author) = team.iter().find(|m| m.member_id == sender.id).cloned() else {
            return Ok(None);
        };
        let key = SignedKey {
            signer: &auth.verified.signer,
            signed_at,
            digest: &auth.digest,
        };
        if self
            .store
            .signature_seen(key.signer, signed_at, key.digest)
            .await?
        {
            return Ok(Some(
                self.drop_message("this signed post was already relayed"),
            ));
        }

        let sealer = super::seal::Sealer::from_config(&self.config, now)?;
        let preface = self.templates()?.render(
            Kind::TeamPost,
            &member_context(&self.list_view(), &member_view(&author, ""), &[]),
        )?;
        let secret = self.thread_secret().await?;
        let (copies, _) = self.reseal_to_team(&sealer, &team, &preface.body, bytes, &secret)?;
        let mut tx = self.store.write(now).await?;
        match tx
            .record_signature(key.signer, key.signed_at, key.digest)
            .await
        {
            Err(crate::store::StoreError::Conflict(_)) => {
                return Ok(Some(
                    self.drop_message("this signed post was already relayed"),
                ));
            }
            other => other?,
        }
        let announcement = tx.other_announcement(Kind::TeamPost, now).await?;
        tx.insert_deliveries(announcement, now, &copies).await?;
        tx.append_audit(
            &Record::new(
                Actor::Member(
                    sender.email.clone(),
                    Channel::Mail {
                        fingerprint: auth.verified.signer.clone(),
                    },
                ),
                "team.post",
                format!("member:{}", sender.email),
            )
            .detail("copies", copies.len().to_string()),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(copies = copies.len(), "team post re-sealed");
        Ok(Some(Ingested::TeamPost {
            copies: copies.len(),
        }))
    }

    /// Seals `message` whole behind `preface` for each of `team`: signed
    /// by the list, each copy encrypted to one member, outer headers
    /// generic but for the thread's stand-ins (the same on every copy).
    /// Answers the copies and the stand-in of the message's own id.
    /// `secret` is [`App::thread_secret`], read before any transaction
    /// (a command line process has one database connection).
    pub(super) fn reseal_to_team(
        &self,
        sealer: &super::seal::Sealer,
        team: &[Addressee],
        preface: &str,
        message: &[u8],
        secret: &[u8; 32],
    ) -> Result<(Vec<crate::store::NewDelivery>, String)> {
        let inner = loop {
            let mut random = [0u8; 16];
            getrandom::fill(&mut random)
                .map_err(|err| anyhow::anyhow!("read random bytes: {err}"))?;
            match mail::repost_entity(preface, message, random) {
                Ok(inner) => break inner,
                // The boundary drawn happens to stand in the message: draw again.
                Err(err) if err.to_string().contains("boundary") => {}
                Err(err) => return Err(err.into()),
            }
        };
        let entity = sealer.sign_raw(&inner)?;
        let ids = mail::thread_headers(message);
        let secret = secret.as_slice();
        let domain = self.config.list.address.domain();
        let own = match &ids.message_id {
            Some(id) => thread::stand_in(secret, id, domain),
            // A message without a Message-ID threads on nothing of its own.
            None => thread::stand_in(secret, &random_key()?, domain),
        };
        let (in_reply_to, references) = thread::outer_thread(
            secret,
            domain,
            ids.in_reply_to.as_deref(),
            ids.references.as_deref(),
        );
        let recipients: Vec<_> = team.iter().map(to_recipient).collect();
        let sealed = sealer.seal_in_thread(
            &entity,
            &recipients,
            &own,
            mail::Thread {
                in_reply_to: in_reply_to.as_deref(),
                references: references.as_deref(),
            },
        );
        let copies = team
            .iter()
            .zip(sealed)
            .map(|(member, sealed)| super::sealing::delivery_of(member, sealed))
            .collect();
        Ok((copies, own))
    }

    /// The key of the thread stand-ins: derived from the list's secret.
    pub(super) async fn thread_secret(&self) -> Result<[u8; 32]> {
        Ok(crate::inbound::verp::hmac(
            &self.bounce_secret().await?,
            b"thread ids",
        ))
    }
}
