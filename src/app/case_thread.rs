//! A case's thread: mail to a case's reply address, or a reply naming
//! one of a case's messages.
//!
//! A team member's signed post to the case's address goes to all of the
//! case's participants: the team, those invited, and the reporter
//! (encrypted to their key; a reporter without one gets a content-free
//! "there is a new message" notice instead, nothing of the text). A post
//! with an `ACK` line acknowledges the case and stops its clock.
//!
//! Anything else that reaches a case (the reporter's reply, an invited
//! participant's) is a follow-up: kept as ciphertext to the list key and
//! re-sealed to the team alone. A follow-up from the reporter may carry
//! their key (kept, so what we send them from then on is encrypted) and
//! an `AGREE` line (their agreement to the proposed timeline of the
//! advisory made from the case, recorded as `signed` when their
//! signature verifies against the key we hold, else as `unsigned`).

use anyhow::Result;

use super::App;
use super::case_mail::keyed_reporter;
use super::inbound::{Authenticated, Ingested};
use super::team::TeamMail;
use crate::audit::{Actor, Channel, Record};
use crate::cases::CaseState;
use crate::compose::{Kind, report_context};
use crate::inbound::thread;
use crate::mail::{self, Inbound};
use crate::pgp;
use crate::roster::Email;
use crate::store::{Addressee, CaseRow, RelayReaders, SignedKey};

/// Whether the sender's own text in `text` (not a quote, not a copy of
/// earlier mail below it: `inbound::own_lines`, as for commands) holds
/// `word` alone on a line, in any case.
fn has_line(text: &str, word: &str) -> bool {
    crate::inbound::own_lines(text)
        .iter()
        .any(|(_, line)| line.eq_ignore_ascii_case(word))
}

impl App {
    /// The open case one of whose messages `shown` replies to (by its
    /// In-Reply-To or References).
    pub(super) async fn case_replied_to(
        &self,
        shown: &[u8],
        secret: &[u8; 32],
    ) -> Result<Option<CaseRow>> {
        let ids = mail::thread_headers(shown);
        let domain = self.config.list.address.domain();
        let named: Vec<String> = ids
            .in_reply_to
            .iter()
            .chain(ids.references.iter())
            .flat_map(|value| thread::ids(value))
            .map(|id| thread::stand_in(secret, id, domain))
            .collect();
        for reference in named.iter().rev() {
            if let Some(row) = self.store.case_of_message(reference).await?
                && let Some(case) = self.store.case_by_row(row).await?
                && case.state == CaseState::Open
            {
                return Ok(Some(case));
            }
        }
        Ok(None)
    }

    /// A team member's signed post to `case`'s address: to every
    /// participant; an `ACK` line acknowledges the case.
    pub(super) async fn case_post(
        &self,
        case: &CaseRow,
        auth: Authenticated,
        author: &Addressee,
        message: &TeamMail<'_>,
        secret: &[u8; 32],
    ) -> Result<Ingested> {
        let now = self.now();
        if self.seen_before(&auth).await? {
            return Ok(self.drop_message("this signed post was already relayed"));
        }
        let acknowledges = has_line(&auth.content.text, "ACK") && case.acknowledged_at.is_none();
        let team = self.team().await?;
        let participants = self.store.participants(case.row).await?;
        let reporter = keyed_reporter(case);
        let readers = team.len() + participants.len() + usize::from(reporter.is_some());
        let sealer = super::seal::Sealer::from_config(&self.config, now)?;
        let mut lines = vec![
            format!(
                "from {} ({}) of the security team; signed by {}, the signature is good",
                author.name, author.email, author.fingerprint
            ),
            "Reply to this message to answer on the case.".to_owned(),
        ];
        if acknowledges {
            lines.push(format!("This message acknowledges {}.", case.id));
        }
        let preface = self.templates()?.render(
            Kind::CaseMail,
            &report_context(
                &self.list_view(),
                &format!("{}: a message", case.id),
                &lines,
            ),
        )?;
        let own = self.reference_of(message.original, secret);
        let notice = match reporter {
            Some(_) => None,
            None => Some(self.mail_reporter(
                &sealer,
                case,
                &format!("{}: a new message from the security team", case.id),
                &[],
                &[
                    format!(
                        "The security team wrote to you about {}{}.",
                        case.id,
                        if acknowledges {
                            " and acknowledged your report"
                        } else {
                            ""
                        }
                    ),
                    "Reply with your OpenPGP public key attached to read it: we only ever send the text encrypted."
                        .to_owned(),
                ],
                secret,
            )?),
        };
        let kept = sealer.encrypt_to_list(&message.shown)?;
        // A reporter without a key is only told of it; the post is held
        // for them until they send one.
        let held = match reporter {
            Some(_) => None,
            None => Some(self.held_message(&sealer, &message.shown)?),
        };
        let key = SignedKey {
            signer: &auth.verified.signer,
            signed_at: auth.verified.signed_at,
            digest: &auth.digest,
        };
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
        tx.add_case_message(case.row, own.as_deref(), &kept).await?;
        self.queue_relay(
            &mut tx,
            &sealer,
            Kind::CaseMail,
            Some(case.row),
            RelayReaders::Participants,
            &preface.body,
            &message.shown,
        )
        .await?;
        if let Some(held) = &held {
            tx.withhold_for_reporter(case.row, held).await?;
        }
        if let Some(notice) = &notice {
            self.queue_case_copies(&mut tx, &sealer, case.row, Kind::CaseNotice, notice, secret)
                .await?;
        }
        let actor = Actor::Member(
            auth.member.email.clone(),
            Channel::Mail {
                fingerprint: auth.verified.signer.clone(),
            },
        );
        let acknowledged = acknowledges && tx.acknowledge_case(case.row).await?;
        if acknowledged {
            tx.append_audit(&Record::new(actor.clone(), "case.ack", case.id.to_string()))
                .await?;
        }
        let total = readers + notice.as_ref().map_or(0, |n| n.copies.len());
        tx.append_audit(
            &Record::new(actor, "case.post", case.id.to_string())
                .detail("readers", total.to_string()),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(case = %case.id, copies = total, acknowledged, "case post re-sealed");
        Ok(Ingested::CaseMail {
            case: case.id.to_string(),
            copies: total,
        })
    }

    /// Mail to `case` from anyone but a team member: kept, and re-sealed
    /// to the team.
    pub(super) async fn follow_up(
        &self,
        case: &CaseRow,
        message: &TeamMail<'_>,
        secret: &[u8; 32],
    ) -> Result<Ingested> {
        let now = self.now();
        let reference = self.reference_of(message.original, secret);
        if self.received_before(reference.as_deref()).await? {
            return Ok(self.drop_message("this message was already received"));
        }
        let sender = mail::sender_headers(message.original);
        let from = sender
            .from
            .as_deref()
            .and_then(|text| Email::parse(text).ok());
        let reporter = Email::parse(&case.reporter).ok();
        let by_reporter = match (&from, &reporter) {
            (Some(from), Some(reporter)) => from.normalized() == reporter.normalized(),
            _ => false,
        };
        let vouched = self.vouched(&sender, from.as_ref()).is_some();
        let new_key = match (&from, by_reporter, &case.reporter_cert) {
            (Some(from), true, None) => {
                self.reporter_key(&message.shown, sender.autocrypt_key.as_deref(), from)
            }
            _ => None,
        };
        let text = mail::signed_content(&message.shown, &self.limits())
            .map(|content| content.text)
            .unwrap_or_default();
        let agrees = by_reporter && case.advisory.is_some() && has_line(&text, "AGREE");
        // Signed by the reporter's key, and after the timeline it agrees
        // to was proposed (an older signed AGREE, replayed, agrees to an
        // earlier one): else it counts as an unsigned reply.
        let signed = agrees
            && self
                .reporter_signed(case, message)?
                .is_some_and(|at| case.timeline_at.is_none_or(|proposed| at >= proposed));
        let mut lines = vec![
            match &from {
                Some(from) if by_reporter => format!("from the reporter, {from}"),
                Some(from) => format!("from {from}, who is not the reporter"),
                None => "from an address that cannot be read".to_owned(),
            },
            if vouched {
                "sender verified by our mail server".to_owned()
            } else {
                "sender not verified: anyone could have written this From".to_owned()
            },
        ];
        if let Some((fingerprint, _)) = &new_key {
            lines.push(format!(
                "the reporter sent their key, {fingerprint}: what we send them from now on is encrypted to it, and what they were only told of is sent to them now"
            ));
        }
        if agrees {
            lines.push(format!(
                "the reporter agrees to the proposed timeline of {} ({})",
                case.advisory.as_deref().unwrap_or_default(),
                if signed {
                    "signed with their key"
                } else {
                    "by an unsigned reply"
                }
            ));
        }
        let preface = self.templates()?.render(
            Kind::CaseReport,
            &report_context(
                &self.list_view(),
                &format!("a follow-up to {}", case.id),
                &lines,
            ),
        )?;
        let readers = self.team().await?.len();
        let sealer = super::seal::Sealer::from_config(&self.config, now)?;
        let kept = sealer.encrypt_to_list(&message.shown)?;
        let mut tx = self.store.write(now).await?;
        tx.add_case_message(case.row, reference.as_deref(), &kept)
            .await?;
        let mut released = 0;
        if let Some((fingerprint, cert)) = &new_key
            && tx.set_reporter_cert(case.row, fingerprint, cert).await?
        {
            // What they were only told of goes to them now, encrypted.
            released = tx.release_withheld(case.row).await?;
        }
        if agrees {
            tx.record_agreement(case.row, if signed { "signed" } else { "unsigned" })
                .await?;
        }
        self.queue_relay(
            &mut tx,
            &sealer,
            Kind::CaseReport,
            Some(case.row),
            RelayReaders::Team,
            &preface.body,
            &message.shown,
        )
        .await?;
        tx.append_audit(
            &Record::new(Actor::System, "case.follow-up", case.id.to_string())
                .detail("from reporter", if by_reporter { "yes" } else { "no" })
                .detail("key", if new_key.is_some() { "yes" } else { "no" })
                .detail("released to the reporter", released.to_string())
                .detail(
                    "agree",
                    match (agrees, signed) {
                        (false, _) => "no",
                        (true, true) => "signed",
                        (true, false) => "unsigned",
                    },
                )
                .detail("readers", readers.to_string()),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(case = %case.id, readers, "a follow-up joined its case");
        Ok(Ingested::CaseMail {
            case: case.id.to_string(),
            copies: readers,
        })
    }

    /// When `message` was signed, if it carries a good signature by the
    /// key we hold for `case`'s reporter: PGP/MIME signed, signed then
    /// encrypted, or signed and encrypted in one pass.
    fn reporter_signed(
        &self,
        case: &CaseRow,
        message: &TeamMail<'_>,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        let Some(cert) = &case.reporter_cert else {
            return Ok(None);
        };
        let bounds = pgp::Bounds::for_mail(self.config.inbound.max_bytes);
        let now = self.now();
        let detached = |inbound: Inbound| match inbound {
            Inbound::Signed { signed, signature } => {
                pgp::verify_signed(cert, &signed, &signature, now, &bounds)
                    .ok()
                    .map(|verified| verified.signed_at)
            }
            _ => None,
        };
        Ok(match &message.inbound {
            Inbound::Signed { .. } => detached(message.inbound.clone()),
            Inbound::Encrypted { payload } => {
                match mail::read_inbound(&message.shown, &self.limits()) {
                    Ok(inner @ Inbound::Signed { .. }) => detached(inner),
                    _ => self
                        .decrypt_to_list(payload, Some(cert))?
                        .and_then(|opened| opened.verified)
                        .map(|verified| verified.signed_at),
                }
            }
            _ => None,
        })
    }
}
