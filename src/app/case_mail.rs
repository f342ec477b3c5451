//! A case's mail: who reads it and how each copy is made.
//!
//! The team (active members holding a `[team] roles` role) reads
//! everything of a case. Those invited into one case read its thread,
//! encrypted to the key they were invited with. The reporter reads what
//! the team sends them, encrypted when we have their key; a reporter
//! without one gets only content-free notices (`Kind::CaseNotice`: the
//! case's name and "reply with your key to read it"), signed by the list
//! and nothing more. Every copy to a reporter or participant carries the
//! case's reply address as Reply-To, and its Message-ID is kept (as a
//! stand-in) so a reply naming it finds the case.

use anyhow::Result;

use super::App;
use super::member_mail::to_recipient;
use super::seal::{Recipient, Sealed, Sealer};
use crate::cases::CaseId;
use crate::compose::{Kind, Rendered, report_context};
use crate::inbound::{case_address, thread};
use crate::mail;
use crate::roster::Email;
use crate::store::{Addressee, CaseRow, NewDelivery, Participant};

/// One reader of a case's mail.
#[derive(Debug, Clone)]
pub(super) enum Reader {
    /// A member of the list (the team).
    Member(Addressee),
    /// Someone outside the roster with a key: the reporter, a participant.
    Outside(Recipient),
}

impl Reader {
    fn recipient(&self) -> Recipient {
        match self {
            Reader::Member(member) => to_recipient(member),
            Reader::Outside(recipient) => recipient.clone(),
        }
    }

    /// The queued copy of `sealed` for this reader.
    pub(super) fn delivery(&self, sealed: Sealed) -> NewDelivery {
        match self {
            Reader::Member(member) => super::sealing::delivery_of(member, sealed),
            Reader::Outside(recipient) => outside_delivery(&recipient.email, sealed),
        }
    }
}

fn outside_delivery(email: &Email, sealed: Sealed) -> NewDelivery {
    super::sealing::delivery_to(None, email, None, sealed)
}

/// The reporter as a reader, when we have their key.
pub(super) fn keyed_reporter(case: &CaseRow) -> Option<Reader> {
    let cert = case.reporter_cert.clone()?;
    let email = Email::parse(&case.reporter).ok()?;
    Some(Reader::Outside(Recipient {
        email,
        fingerprint: case.reporter_fingerprint.clone().unwrap_or_default(),
        cert,
    }))
}

/// Those invited into a case, as readers.
pub(super) fn participant_readers(participants: &[Participant]) -> Vec<Reader> {
    participants
        .iter()
        .filter_map(|p| {
            Some(Reader::Outside(Recipient {
                email: Email::parse(&p.email).ok()?,
                fingerprint: p.fingerprint.clone(),
                cert: p.cert.clone(),
            }))
        })
        .collect()
}

/// What one piece of case mail made: the copies, and the Message-IDs a
/// reply may name (kept as stand-ins on the case).
#[derive(Debug, Default)]
pub(super) struct CaseCopies {
    pub copies: Vec<NewDelivery>,
    pub message_ids: Vec<String>,
    /// What a reporter without a key was only told of, held for them
    /// (the preface and the text, encrypted to the list key).
    pub withheld: Option<Vec<u8>>,
}

impl App {
    /// The team: active members holding a `[team] roles` role.
    pub(super) async fn team(&self) -> Result<Vec<Addressee>> {
        Ok(self
            .store
            .members_with_roles(&self.config.team.roles)
            .await?)
    }

    /// The reply address of case `id`, when this list has a team.
    pub(super) fn case_reply_address(&self, secret: &[u8; 32], id: CaseId) -> Option<String> {
        let team = self.config.team.address.as_ref()?;
        Some(case_address::address(team, secret, id))
    }

    /// `title` and `lines`, written by us or the team, encrypted for each
    /// of `readers` (one message each), Reply-To the case's address.
    pub(super) fn case_mail_to(
        &self,
        sealer: &Sealer,
        readers: &[Reader],
        rendered: &Rendered,
        reply_to: Option<&str>,
    ) -> Result<CaseCopies> {
        if readers.is_empty() {
            return Ok(CaseCopies::default());
        }
        let entity = sealer.sign(rendered)?;
        let message_id = sealer.fresh_message_id()?;
        let recipients: Vec<Recipient> = readers.iter().map(Reader::recipient).collect();
        let sealed = sealer.seal_in_thread(
            &entity,
            &recipients,
            &message_id,
            mail::Thread {
                in_reply_to: None,
                references: None,
                reply_to,
            },
        );
        Ok(CaseCopies {
            copies: readers
                .iter()
                .zip(sealed)
                .map(|(reader, sealed)| reader.delivery(sealed))
                .collect(),
            message_ids: vec![message_id],
            withheld: None,
        })
    }

    /// Mail to the case's reporter: `full` encrypted to their key when we
    /// have one; otherwise only the content-free `notice` lines, signed,
    /// and `full` (when it says more) held for them until they send a key.
    pub(super) fn mail_reporter(
        &self,
        sealer: &Sealer,
        case: &CaseRow,
        title: &str,
        full: &[String],
        notice: &[String],
        secret: &[u8; 32],
    ) -> Result<CaseCopies> {
        let reply_to = self.case_reply_address(secret, case.id);
        if let Some(reader) = keyed_reporter(case) {
            let rendered = self.templates()?.render(
                Kind::CaseMail,
                &report_context(&self.list_view(), title, full),
            )?;
            return self.case_mail_to(sealer, &[reader], &rendered, reply_to.as_deref());
        }
        let Ok(to) = Email::parse(&case.reporter) else {
            return Ok(CaseCopies::default());
        };
        let rendered = self.templates()?.render(
            Kind::CaseNotice,
            &report_context(&self.list_view(), title, notice),
        )?;
        let message_id = sealer.fresh_message_id()?;
        let bytes = sealer.signed_in_thread(
            &rendered,
            &to,
            &message_id,
            mail::Thread {
                in_reply_to: None,
                references: None,
                reply_to: reply_to.as_deref(),
            },
        )?;
        let withheld = if full.is_empty() || full == notice {
            None
        } else {
            Some(self.held_for_reporter(sealer, title, &full.join("\n"))?)
        };
        Ok(CaseCopies {
            copies: vec![outside_delivery(
                &to,
                Sealed::Message {
                    message_id: message_id.clone(),
                    bytes,
                },
            )],
            message_ids: vec![message_id],
            withheld,
        })
    }

    /// `text` under `title`, held for a reporter without a key: the
    /// preface and the message, encrypted to the list key.
    pub(super) fn held_for_reporter(
        &self,
        sealer: &Sealer,
        title: &str,
        text: &str,
    ) -> Result<Vec<u8>> {
        self.held_message(sealer, &mail::plain_message(title, text))
    }

    /// `message` held for a reporter without a key (see `app::relay`).
    pub(super) fn held_message(&self, sealer: &Sealer, message: &[u8]) -> Result<Vec<u8>> {
        let preface = format!(
            "The security team sent you this on {} while we had no key of yours; you were told there was a message. Here it is, encrypted to the key you sent.",
            crate::advisory::time::format_utc(self.now())
        );
        sealer.encrypt_to_list(&super::relay::frame(&preface, message)?)
    }

    /// `message` whole behind `preface`, signed once by the list, with
    /// outer thread headers as stand-ins (the same on every copy): ready
    /// to be encrypted to each reader, a batch at a time, so a large
    /// message is never held once per reader.
    pub(super) fn prepare_reseal(
        &self,
        sealer: &Sealer,
        preface: &str,
        message: &[u8],
        secret: &[u8; 32],
        reply_to: Option<&str>,
    ) -> Result<Resealed> {
        let inner = loop {
            let mut random = [0u8; 16];
            getrandom::fill(&mut random)
                .map_err(|err| anyhow::anyhow!("read random bytes: {err}"))?;
            match mail::repost_entity(preface, message, random) {
                Ok(inner) => break inner,
                // The boundary drawn happens to stand in the message: draw again.
                Err(mail::MailError::BoundaryTaken) => {}
                Err(err) => return Err(err.into()),
            }
        };
        let entity = sealer.sign_raw(&inner)?;
        drop(inner);
        let ids = mail::thread_headers(message);
        let secret = secret.as_slice();
        let domain = self.config.list.address.domain();
        let own = match &ids.message_id {
            Some(id) => thread::stand_in(secret, id, domain),
            // A message without a Message-ID threads on nothing of its own.
            None => thread::stand_in(secret, &super::member_mail::random_key()?, domain),
        };
        let (in_reply_to, references) = thread::outer_thread(
            secret,
            domain,
            ids.in_reply_to.as_deref(),
            ids.references.as_deref(),
        );
        Ok(Resealed {
            entity,
            own,
            in_reply_to,
            references,
            reply_to: reply_to.map(str::to_owned),
        })
    }
}

/// A message signed once for re-sealing (see [`App::prepare_reseal`]).
pub(super) struct Resealed {
    entity: mail::SignedEntity,
    /// The stand-in of the message's own Message-ID, which every copy
    /// carries as its Message-ID.
    pub own: String,
    in_reply_to: Option<String>,
    references: Option<String>,
    reply_to: Option<String>,
}

impl Resealed {
    /// One copy for each of `readers`, encrypted to that reader alone.
    pub(super) fn seal(&self, sealer: &Sealer, readers: &[Reader]) -> Vec<NewDelivery> {
        let recipients: Vec<Recipient> = readers.iter().map(Reader::recipient).collect();
        let sealed = sealer.seal_in_thread(
            &self.entity,
            &recipients,
            &self.own,
            mail::Thread {
                in_reply_to: self.in_reply_to.as_deref(),
                references: self.references.as_deref(),
                reply_to: self.reply_to.as_deref(),
            },
        );
        readers
            .iter()
            .zip(sealed)
            .map(|(reader, sealed)| reader.delivery(sealed))
            .collect()
    }
}
