//! The commands of one authenticated message, each carried out through the
//! same use case the CLI uses (so `roster::gate` decides), each bound to
//! exactly the attached certificate it names, and each recorded once.
//!
//! A command's record (message, index, the reply's line about it) commits
//! with its effect through [`App::write`]; a refusal is recorded in its own
//! small transaction with an audit entry that names the reason for
//! maintainers. A message retried after a fault (the MTA retries on exit
//! 75) therefore skips what is recorded, reusing the stored lines, and
//! carries out the rest: nothing twice, nothing dropped.
//!
//! Replies to members never reveal who else is on the roster: a refusal
//! because an address or certificate is taken reads the same whoever holds
//! it (see [`member_text`](super::replies::member_text)).

use anyhow::{Context, Result};

use super::binding::Binding;
use super::input::{self, Field};
use super::replies;
use super::roster::Caller;
use super::{App, Replay};
use crate::audit::{Actor, Channel, Record};
use crate::inbound::Command;
use crate::roster::gate::{self, Transition};
use crate::roster::{Member, Status};
use crate::store::{CommandRecord, SignedKey, StoreError};
use crate::text::Reason;

/// A command whose record another attempt of the same message wrote first.
#[derive(Debug, thiserror::Error)]
#[error("this command was already carried out by another attempt of the same message")]
pub(crate) struct AlreadyRecorded;

/// What the commands of a message did, for the reply.
pub(crate) struct Outcome {
    pub lines: Vec<String>,
    pub done: usize,
    pub refused: usize,
}

impl App {
    /// Carries out the commands of a message, skipping those an earlier
    /// attempt recorded. Only trouble on our side (a busy database) is an
    /// `Err`: the MTA tries again and the message finishes then.
    pub(crate) async fn carry_out_all(
        &self,
        key: &SignedKey<'_>,
        signer: &Member,
        commands: &[Command],
        bindings: &[Binding],
    ) -> Result<Outcome> {
        let mut recorded = self.store.commands_recorded(key).await?;
        let mut records: Vec<Option<CommandRecord>> = vec![None; commands.len()];
        // SET-KEY goes last: once it commits, the key that signed this
        // message is retired, and the other commands should not depend on
        // a retry being authenticated by a retired key.
        let mut order: Vec<usize> = (0..commands.len()).collect();
        order.sort_by_key(|&index| matches!(commands[index], Command::SetKey { .. }));
        for index in order {
            let record = match take_record(&mut recorded, index) {
                Some(record) => record,
                None => {
                    let binding = bindings.get(index).cloned().flatten();
                    // Read again: an earlier command (UNSUBSCRIBE) may
                    // have changed what the signer may do.
                    let signer = self
                        .store
                        .member(&signer.email)
                        .await?
                        .context("the signer left the roster")?;
                    match self
                        .carry_out_once(key, index, &commands[index], &signer, binding)
                        .await
                    {
                        Ok(record) => record,
                        Err(err) if is_already_recorded(&err) => {
                            let mut again = self.store.commands_recorded(key).await?;
                            take_record(&mut again, index)
                                .context("a command recorded by another attempt")?
                        }
                        Err(err) => return Err(err),
                    }
                }
            };
            records[index] = Some(record);
        }
        let mut outcome = Outcome {
            lines: Vec::new(),
            done: 0,
            refused: 0,
        };
        for record in records.into_iter().flatten() {
            if record.refused {
                outcome.refused += 1;
            } else {
                outcome.done += 1;
            }
            outcome.lines.push(record.line);
        }
        Ok(outcome)
    }

    /// One command, recorded with its effect, or its refusal recorded.
    async fn carry_out_once(
        &self,
        key: &SignedKey<'_>,
        index: usize,
        command: &Command,
        signer: &Member,
        binding: Binding,
    ) -> Result<CommandRecord> {
        let result = self.carry_out(key, index, command, signer, binding).await;
        // A use case that refused before its transaction leaves the slot
        // armed; the next command must not inherit it.
        let armed = self.replay.lock().ok().and_then(|mut slot| slot.take());
        match result {
            Ok(line) => {
                let state = armed.map(|replay| (replay.recorded, replay.line == line));
                match state {
                    None | Some((false, _)) => {
                        // Done without a write of its own: record it now.
                        let mut tx = self.store.write(self.now()).await?;
                        record_or_conflict(&mut tx, key, index, false, &line).await?;
                        tx.commit().await?;
                    }
                    Some((true, false)) => {
                        // The record holds the line said before the use
                        // case ran; the exact one is only a nicety.
                        if let Err(err) = self.set_line(key, index, &line).await {
                            tracing::warn!(error = %format!("{err:#}"), "could not refine a command's reply line");
                        }
                    }
                    Some((true, true)) => {}
                }
                Ok(CommandRecord {
                    index,
                    refused: false,
                    line,
                })
            }
            Err(err) if is_our_trouble(&err) || is_already_recorded(&err) => Err(err),
            Err(err) => {
                let line = format!(
                    "{} refused: {}",
                    command.name(),
                    replies::member_text(command, &err)
                );
                let mut tx = self.store.write(self.now()).await?;
                record_or_conflict(&mut tx, key, index, true, &line).await?;
                tx.append_audit(
                    &Record::new(
                        Actor::Member(signer.email.clone(), via(key)),
                        "inbound.refuse",
                        format!("member:{}", signer.email.normalized()),
                    )
                    .detail("command", command.name())
                    .detail("index", index.to_string())
                    .detail("reason", format!("{err:#}")),
                )
                .await?;
                tx.commit().await?;
                tracing::info!(command = command.name(), "a signed command was refused");
                Ok(CommandRecord {
                    index,
                    refused: true,
                    line,
                })
            }
        }
    }

    async fn set_line(&self, key: &SignedKey<'_>, index: usize, line: &str) -> Result<()> {
        let mut tx = self.store.write(self.now()).await?;
        tx.set_command_line(key, index, line).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Arms [`App::write`] so the use case's first transaction records
    /// this command as done, with what the reply will say.
    fn arm(&self, key: &SignedKey<'_>, index: usize, line: String) {
        if let Ok(mut slot) = self.replay.lock() {
            *slot = Some(Replay {
                signer: key.signer.to_owned(),
                signed_at: key.signed_at,
                digest: key.digest.to_owned(),
                index,
                line,
                recorded: false,
            });
        }
    }

    async fn carry_out(
        &self,
        key: &SignedKey<'_>,
        index: usize,
        command: &Command,
        signer: &Member,
        binding: Binding,
    ) -> Result<String> {
        let by = signer.email.as_str();
        let caller = Caller::mail(&signer.email, key.signer);
        if signer.status == Status::Pending && !matches!(command, Command::Confirm { .. }) {
            anyhow::bail!("your membership is not confirmed yet; only CONFIRM works until it is");
        }
        if !matches!(signer.status, Status::Active | Status::Pending) {
            anyhow::bail!("your membership is {}; no command works", signer.status);
        }
        let cert = match binding {
            Some(Ok(cert)) => Some(cert),
            Some(Err(problem)) => anyhow::bail!("{problem}"),
            None => None,
        };
        match command {
            Command::Sponsor {
                email,
                name,
                org,
                kind,
                statement,
                ..
            } => {
                let cert = cert.context("attach the new member's certificate")?;
                let kind = kind
                    .as_deref()
                    .context("a Kind: line is needed (vendor, distribution, user or individual)")?
                    .parse()?;
                let said = |confirm: &str| {
                    format!(
                        "SPONSOR {email}: added as pending with certificate {}; {confirm}",
                        cert.fingerprint
                    )
                };
                self.arm(key, index, said("they were sent an encrypted confirmation"));
                let added = self
                    .add_member_via(
                        super::roster::AddMember {
                            email: email.clone(),
                            name: name.clone().context("a Name: line is needed")?,
                            org: org.clone().context("an Org: line is needed")?,
                            kind,
                            cert: cert.bytes.clone(),
                            sponsor: by.to_owned(),
                            statement: statement.clone(),
                            roles: Vec::new(),
                            by: None,
                        },
                        caller.via.clone(),
                    )
                    .await?;
                Ok(
                    if added
                        .warnings
                        .iter()
                        .any(|w| w.contains("could not be sealed"))
                    {
                        said(
                            "their confirmation could not be sealed; a maintainer must give them the token",
                        )
                    } else {
                        said("they were sent an encrypted confirmation")
                    },
                )
            }
            Command::Confirm { token } => {
                self.arm(key, index, format!("CONFIRM: {by} is now an active member"));
                self.confirm_member_via(by, token, caller.via.clone())
                    .await?;
                Ok(format!("CONFIRM: {by} is now an active member"))
            }
            Command::SetKey { .. } => {
                let cert = cert.context("attach the new certificate")?;
                let line = format!(
                    "SET-KEY: the certificate of {by} is now {}",
                    cert.fingerprint
                );
                self.arm(key, index, line);
                let (member, _) = self.set_member_key(by, &cert.bytes, &caller).await?;
                Ok(format!(
                    "SET-KEY: the certificate of {by} is now {}",
                    member.fingerprint
                ))
            }
            Command::Unsubscribe => {
                self.arm(key, index, format!("UNSUBSCRIBE: {by} has left the list"));
                let reason = Reason::parse("unsubscribed by signed mail")?;
                self.change_status(by, Transition::Remove, Some(&reason), &caller)
                    .await?;
                let line = format!(
                    "{} ({}) unsubscribed by signed mail",
                    signer.email, signer.fingerprint
                );
                if let Err(err) = self
                    .alert_maintainers("a member left the list", &[line])
                    .await
                {
                    tracing::warn!(error = %format!("{err:#}"), "could not tell maintainers");
                }
                Ok(format!("UNSUBSCRIBE: {by} has left the list"))
            }
            Command::Ack {
                advisory,
                status,
                note,
            } => {
                self.ack(key, index, signer, advisory, *status, note.as_deref())
                    .await
            }
            Command::Approve { email } => {
                gate::check_maintainer(signer, "APPROVE")?;
                self.arm(key, index, format!("APPROVE {email}: active again"));
                self.change_status(email, Transition::Resume, None, &caller)
                    .await?;
                Ok(format!("APPROVE {email}: active again"))
            }
            Command::Suspend { email } => {
                gate::check_maintainer(signer, "SUSPEND")?;
                self.arm(key, index, format!("SUSPEND {email}: suspended"));
                let reason = Reason::parse("suspended by a maintainer's signed mail")?;
                self.change_status(email, Transition::Suspend, Some(&reason), &caller)
                    .await?;
                Ok(format!("SUSPEND {email}: suspended"))
            }
            Command::Hold {
                advisory,
                until,
                reason,
            } => {
                gate::check_maintainer(signer, "HOLD")?;
                let reason = input::reason(reason)?;
                self.arm(key, index, format!("HOLD {advisory}: held until {until}"));
                let actor = Actor::Member(signer.email.clone(), caller.via.clone());
                let said = self.hold_as(advisory, until, &reason, actor).await?;
                Ok(format!("HOLD: {said}"))
            }
        }
    }

    /// Records a member's answer about an advisory that reached them. An
    /// advisory they never got a copy of is answered exactly as an unknown
    /// id, and nothing is recorded, so ACK cannot probe which advisories
    /// exist.
    async fn ack(
        &self,
        key: &SignedKey<'_>,
        index: usize,
        signer: &Member,
        advisory: &str,
        status: crate::inbound::AckStatus,
        note: Option<&str>,
    ) -> Result<String> {
        let id = crate::advisory::AdvisoryId::parse(advisory)
            .map_err(|err| input::InputError::refused(Field::Advisory, err))?;
        let unknown = || anyhow::anyhow!("no advisory {id} was sent to you");
        let note = note.map(|n| input::line(Field::Note, n, 500)).transpose()?;
        let stored = self.store.advisory(&id).await?.ok_or_else(unknown)?;
        let line = format!("ACK {id} {}: recorded", status.as_str());
        self.arm(key, index, line.clone());
        let mut tx = self.write(self.now()).await?;
        if !tx.advisory_reached(stored.row, signer.id).await? {
            return Err(unknown());
        }
        tx.upsert_ack(stored.row, signer.id, status, note.as_deref())
            .await?;
        tx.append_audit(
            &Record::new(
                Actor::Member(signer.email.clone(), via(key)),
                "advisory.ack",
                format!("advisory:{}", id.normalized()),
            )
            .detail("status", status.as_str()),
        )
        .await?;
        tx.commit().await?;
        Ok(line)
    }
}

/// The channel of a message's commands: signed mail, with the key that
/// signed it.
fn via(key: &SignedKey<'_>) -> Channel {
    Channel::Mail {
        fingerprint: key.signer.to_owned(),
    }
}

fn take_record(recorded: &mut Vec<CommandRecord>, index: usize) -> Option<CommandRecord> {
    let at = recorded.iter().position(|r| r.index == index)?;
    Some(recorded.remove(at))
}

/// Records a command's outcome; another attempt's record of it first is
/// [`AlreadyRecorded`].
pub(crate) async fn record_or_conflict(
    tx: &mut crate::store::WriteTx,
    key: &SignedKey<'_>,
    index: usize,
    refused: bool,
    line: &str,
) -> Result<()> {
    match tx.record_command(key, index, refused, line).await {
        Err(StoreError::Conflict(_)) => Err(AlreadyRecorded.into()),
        other => Ok(other?),
    }
}

/// Whether the failure is on our side (the database busy, full or
/// broken), not the command's: the message is then tried again later
/// instead of refused. A unique-key conflict is the command's (a
/// certificate someone else holds).
pub(crate) fn is_our_trouble(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<StoreError>()
            .is_some_and(|store| !matches!(store, StoreError::Conflict(_)))
    })
}

/// Whether another attempt of the same message recorded the command.
fn is_already_recorded(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|cause| cause.downcast_ref::<AlreadyRecorded>().is_some())
}
