//! Reports become cases: mail to the team address that is not a team
//! member's good post (nor a reply to a case) opens a case
//! `CASE-YYYY-NNNN`.
//!
//! In one transaction: the case's metadata (the reporter's address and
//! key, whether our MTA's `Authentication-Results` vouched for their From
//! domain), the report itself as ciphertext to the list key alone (the
//! database never holds it in clear), one copy for each active team
//! member (the list's preface naming the case and whether the sender was
//! verified, then the report whole, decrypted when it came encrypted to
//! the list key), and, only when our MTA vouched for the sender, one
//! content-free receipt to the From address (encrypted when the report
//! carried their key). Per-sender and global hourly limits drop the
//! excess before any of that work, and maintainers are told once an
//! hour. The same message delivered twice (an MTA retry) opens one case.
//!
//! The clock's steps run from the scheduler (below).

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::App;
use super::case_mail::CaseCopies;
use super::inbound::Ingested;
use super::team::TeamMail;
use crate::audit::{Actor, Record};
use crate::cases::{CaseId, Clock, Step};
use crate::compose::{Kind, report_context};
use crate::inbound::{auth_results, thread};
use crate::mail;
use crate::pgp::{self, CertPolicy};
use crate::roster::{Email, Role};
use crate::store::{CaseFilter, CaseRow, NewCase, RelayReaders, WriteTx};

/// The job whose last run says when maintainers were last told that
/// reports are being dropped over the limits.
const OVER_LIMIT_JOB: &str = "cases-over-limit";

impl App {
    /// Opens a case for `message`, a report to the team address.
    pub(super) async fn open_report(
        &self,
        message: &TeamMail<'_>,
        secret: &[u8; 32],
    ) -> Result<Ingested> {
        let now = self.now();
        let sender = mail::sender_headers(message.original);
        let from = sender
            .from
            .as_deref()
            .and_then(|text| Email::parse(text).ok());
        let (reporter, reporter_norm) = match &from {
            Some(from) => (from.to_string(), from.normalized().to_owned()),
            None => (String::new(), String::new()),
        };
        let cases = &self.config.cases;
        let (mine, all) = self
            .store
            .cases_opened_since(&reporter_norm, now - chrono::Duration::hours(1))
            .await?;
        if mine >= u64::from(cases.per_sender_per_hour) || all >= u64::from(cases.per_hour) {
            self.tell_over_limit(now).await?;
            return Ok(self.drop_message("a report over the hourly limits of [cases]; dropped"));
        }
        let reference = self.reference_of(message.original, secret);
        if self.received_before(reference.as_deref()).await? {
            return Ok(self.drop_message("this report was already received"));
        }
        let vouch = self.vouched(&sender, from.as_ref());
        let key = match &from {
            Some(from) => self.reporter_key(&message.shown, sender.autocrypt_key.as_deref(), from),
            None => None,
        };
        let sealer = super::seal::Sealer::from_config(&self.config, now)?;
        let kept = sealer.encrypt_to_list(&message.shown)?;
        let team = self.team().await?;

        let mut tx = self.store.write(now).await?;
        let (id, row) = tx
            .open_case(&NewCase {
                reporter: &reporter,
                reporter_norm: &reporter_norm,
                reporter_fingerprint: key.as_ref().map(|k| k.0.as_str()),
                reporter_cert: key.as_ref().map(|k| k.1.as_slice()),
                reporter_verified: vouch.is_some(),
            })
            .await?;
        tx.add_case_message(row, reference.as_deref(), &kept)
            .await?;
        let mut lines = vec![
            match &from {
                Some(from) => format!("from {from}"),
                None => "from an address that cannot be read".to_owned(),
            },
            match vouch {
                Some(check) => format!(
                    "sender verified: our mail server's {} check passed for their domain",
                    check.as_str().to_uppercase()
                ),
                None => "sender not verified: anyone could have written this From; no receipt was sent"
                    .to_owned(),
            },
            match &key {
                Some((fingerprint, _)) => format!(
                    "the reporter's key: {fingerprint} (what we send them is encrypted to it)"
                ),
                None => "no key of the reporter's: they get only content-free notices until they send one"
                    .to_owned(),
            },
        ];
        if let Some(address) = self.case_reply_address(secret, id) {
            lines.push(format!(
                "to write to the reporter, send a signed post to {address} (an ACK line in it acknowledges the report)"
            ));
        }
        let preface = self.templates()?.render(
            Kind::CaseReport,
            &report_context(&self.list_view(), &format!("a new report: {id}"), &lines),
        )?;
        self.queue_relay(
            &mut tx,
            &sealer,
            Kind::CaseReport,
            Some(row),
            RelayReaders::Team,
            &preface.body,
            &message.shown,
        )
        .await?;
        let copies = team.len();
        let receipt = match (vouch, &from) {
            (Some(_), Some(_)) => {
                let case = CaseRow::opened(row, id, &reporter, key.clone(), true, now);
                let receipt = self.receipt(&sealer, &case, secret)?;
                self.queue_case_copies(&mut tx, &sealer, row, Kind::CaseNotice, &receipt, secret)
                    .await?;
                receipt.copies.len()
            }
            _ => 0,
        };
        tx.append_audit(
            &Record::new(Actor::System, "case.open", id.to_string())
                .detail("verified", if vouch.is_some() { "yes" } else { "no" })
                .detail("reporter key", if key.is_some() { "yes" } else { "no" })
                .detail("readers", copies.to_string())
                .detail("receipts", receipt.to_string()),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(case = %id, copies, receipt, "a report opened a case");
        Ok(Ingested::Report {
            case: id.to_string(),
            copies,
        })
    }

    /// The stand-in of `message`'s own Message-ID (see `inbound::thread`),
    /// when it has one: what a case keeps to know a message again.
    pub(super) fn reference_of(&self, message: &[u8], secret: &[u8; 32]) -> Option<String> {
        let domain = self.config.list.address.domain();
        mail::thread_headers(message)
            .message_id
            .map(|id| thread::stand_in(secret, &id, domain))
    }

    /// Whether a case already holds the message `reference` stands for
    /// (an MTA's retry of mail already taken).
    pub(super) async fn received_before(&self, reference: Option<&str>) -> Result<bool> {
        Ok(match reference {
            Some(reference) => self.store.case_of_message(reference).await?.is_some(),
            None => false,
        })
    }

    /// Which of our MTA's checks (`[cases] authserv_id`) vouched for the
    /// From domain of a message with these headers, if any did.
    pub(super) fn vouched(
        &self,
        sender: &mail::SenderHeaders,
        from: Option<&Email>,
    ) -> Option<auth_results::Vouch> {
        let (authserv_id, from) = (self.config.cases.authserv_id.as_ref()?, from?);
        let values: Vec<&str> = sender
            .authentication_results
            .iter()
            .map(String::as_str)
            .collect();
        auth_results::vouched_for(&values, authserv_id, from.domain())
    }

    /// The reporter's key: the first certificate attached to the report
    /// (or in its Autocrypt header) that names `from` and passes the
    /// policy, as `(fingerprint, binary)`.
    pub(super) fn reporter_key(
        &self,
        shown: &[u8],
        autocrypt: Option<&[u8]>,
        from: &Email,
    ) -> Option<(String, Vec<u8>)> {
        let policy = CertPolicy {
            min_rsa_bits: self.config.members.min_rsa_bits,
        };
        let attached = mail::signed_content(shown, &self.limits())
            .map(|content| content.keys)
            .unwrap_or_default();
        let bounds = pgp::Bounds::for_mail(self.config.inbound.max_bytes);
        attached
            .iter()
            .map(Vec::as_slice)
            .chain(autocrypt)
            .filter(|bytes| pgp::check_bounds(bytes, &bounds).is_ok())
            .filter_map(|bytes| pgp::check_member_cert(bytes, from, &policy, self.now()).ok())
            .find(|checked| checked.summary.names(from))
            .map(|checked| (checked.fingerprint, checked.bytes))
    }

    /// The receipt of case `case`: content-free, whether or not it is
    /// encrypted.
    fn receipt(
        &self,
        sealer: &super::seal::Sealer,
        case: &CaseRow,
        secret: &[u8; 32],
    ) -> Result<CaseCopies> {
        let hours = self.config.cases.breach_after.num_hours();
        let mut lines = vec![
            format!(
                "Thank you. Your report reached the security team of {} and is tracked as {}.",
                self.config.list.name, case.id
            ),
            format!(
                "You can expect a response within {hours} hours acknowledging that we received it; if you do not hear from us by then, reach out to any committer."
            ),
            "Reply to this message to add to your report.".to_owned(),
        ];
        if case.reporter_cert.is_none() {
            lines.push(
                "Attach your OpenPGP public key to a reply and everything we write to you will be encrypted to it; until then we only tell you that there is news."
                    .to_owned(),
            );
        }
        let title = format!("{}: we received your report", case.id);
        self.mail_reporter(sealer, case, &title, &lines, &lines, secret)
    }

    /// Queues case mail under an announcement of `kind`, and keeps a
    /// stand-in of each Message-ID on the case (with the mail's record,
    /// ciphertext to the list key), so a reply naming it finds the case.
    pub(super) async fn queue_case_copies(
        &self,
        tx: &mut WriteTx,
        sealer: &super::seal::Sealer,
        case_row: i64,
        kind: Kind,
        made: &CaseCopies,
        secret: &[u8; 32],
    ) -> Result<()> {
        if let Some(held) = &made.withheld {
            tx.withhold_for_reporter(case_row, held).await?;
        }
        if made.copies.is_empty() {
            return Ok(());
        }
        let now = tx.now();
        let announcement = tx.other_announcement(kind, now).await?;
        tx.insert_deliveries(announcement, now, &made.copies)
            .await?;
        let domain = self.config.list.address.domain();
        for message_id in &made.message_ids {
            let record = sealer
                .encrypt_to_list(format!("sent {} as {message_id}", kind.name()).as_bytes())?;
            tx.add_case_message(
                case_row,
                Some(&thread::stand_in(secret, message_id, domain)),
                &record,
            )
            .await?;
        }
        Ok(())
    }

    /// Queues what the team sent on `case`: the reporter's copy (case mail
    /// when encrypted to them, a notice when content-free) and the copies
    /// for the team and participants. Answers how many.
    pub(super) async fn queue_reporter_and_team(
        &self,
        tx: &mut WriteTx,
        sealer: &super::seal::Sealer,
        case: &CaseRow,
        to_reporter: &CaseCopies,
        to_team: &CaseCopies,
        secret: &[u8; 32],
    ) -> Result<usize> {
        let kind = if case.reporter_cert.is_some() {
            Kind::CaseMail
        } else {
            Kind::CaseNotice
        };
        self.queue_case_copies(tx, sealer, case.row, kind, to_reporter, secret)
            .await?;
        self.queue_case_copies(tx, sealer, case.row, Kind::CaseMail, to_team, secret)
            .await?;
        Ok(to_reporter.copies.len() + to_team.copies.len())
    }

    /// Tells maintainers, once an hour at most, that reports are being
    /// dropped over the limits of `[cases]`.
    async fn tell_over_limit(&self, now: DateTime<Utc>) -> Result<()> {
        if let Some(last) = self.store.job_last_run(OVER_LIMIT_JOB).await?
            && now - last < chrono::Duration::hours(1)
        {
            return Ok(());
        }
        let cases = &self.config.cases;
        let rendered = self.templates()?.render(
            Kind::Report,
            &report_context(
                &self.list_view(),
                "reports to the team address are being dropped",
                &[format!(
                    "more than {} reports from one sender, or {} in all, arrived within an hour; the rest are dropped (limits in [cases]). You are told at most once an hour.",
                    cases.per_sender_per_hour, cases.per_hour
                )],
            ),
        )?;
        let sealer = super::seal::Sealer::from_config(&self.config, now)?;
        let mut copies = Vec::new();
        for member in self
            .store
            .members_with_roles(&[Role::Maintainer, Role::Admin])
            .await?
        {
            if let Some(copy) = self.seal_one(&sealer, &rendered, Kind::Report, &member)? {
                copies.push(copy);
            }
        }
        let mut tx = self.store.write(now).await?;
        tx.set_job_run(OVER_LIMIT_JOB, now).await?;
        let announcement = tx.other_announcement(Kind::Report, now).await?;
        tx.insert_deliveries(announcement, now, &copies).await?;
        tx.append_audit(
            &Record::new(Actor::System, "case.over-limit", "reports")
                .detail("copies", copies.len().to_string()),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The case named `text`, or a clear error.
    pub(super) async fn require_case(&self, text: &str) -> Result<CaseRow> {
        let Some(id) = CaseId::parse(text) else {
            anyhow::bail!("{text:?} is not a case id (CASE-YYYY-NNNN)");
        };
        match self.store.case(id).await? {
            Some(case) => Ok(case),
            None => anyhow::bail!("no case {id} on this list"),
        }
    }
}

impl App {
    /// The scheduler's step for cases: each unacknowledged case's
    /// reminder (to maintainers), escalation (to every committer) and
    /// breach (recorded, and maintainers told), each once, at its offset
    /// from the report and not a second before. A step's record and its
    /// mail commit together, so a pass that fails repeats nothing done.
    pub(super) async fn run_case_clock(&self, now: DateTime<Utc>) -> Result<()> {
        if self.config.team.address.is_none() {
            return Ok(());
        }
        let cases = &self.config.cases;
        let clock = Clock {
            remind_after: cases.remind_after,
            escalate_after: cases.escalate_after,
            breach_after: cases.breach_after,
        };
        for case in self.store.cases(CaseFilter::Unacknowledged).await? {
            for step in clock.due(
                case.opened_at,
                case.acknowledged_at.is_some(),
                &case.fired,
                now,
            ) {
                self.fire(&clock, &case, step, now).await?;
            }
        }
        Ok(())
    }

    async fn fire(
        &self,
        clock: &Clock,
        case: &crate::store::CaseRow,
        step: Step,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let hours = |step| (clock.due_at(case.opened_at, step) - case.opened_at).num_hours();
        let promise = hours(Step::Breach);
        let (roles, title, line): (&[Role], String, String) = match step {
            Step::Remind => (
                &[Role::Maintainer, Role::Admin],
                format!(
                    "{} is not acknowledged after {} hours",
                    case.id,
                    hours(step)
                ),
                format!(
                    "the reporter was promised an answer within {promise} hours; `embargo case ack {}` sends it",
                    case.id
                ),
            ),
            Step::Escalate => (
                &[Role::Committer],
                format!(
                    "{} is still not acknowledged after {} hours",
                    case.id,
                    hours(step)
                ),
                format!(
                    "the security policy says: if not acknowledged within {promise} hours, reach out to any committer — please see that someone acknowledges it"
                ),
            ),
            Step::Breach => (
                &[Role::Maintainer, Role::Admin],
                format!(
                    "{} breached the {promise}-hour acknowledgement promise",
                    case.id
                ),
                "the breach is recorded in the audit log and shown by `embargo case list`"
                    .to_owned(),
            ),
        };
        let rendered = self.templates()?.render(
            Kind::Report,
            &report_context(&self.list_view(), &title, &[line]),
        )?;
        let sealer = super::seal::Sealer::from_config(&self.config, now)?;
        let mut copies = Vec::new();
        for member in self.store.members_with_roles(roles).await? {
            if let Some(copy) = self.seal_one(&sealer, &rendered, Kind::Report, &member)? {
                copies.push(copy);
            }
        }
        let mut tx = self.store.write(now).await?;
        if !tx.fire_step(case.row, step).await? {
            // Another pass fired it first: nothing more to do.
            return Ok(());
        }
        let announcement = tx.other_announcement(Kind::Report, now).await?;
        tx.insert_deliveries(announcement, now, &copies).await?;
        tx.append_audit(
            &Record::new(
                Actor::System,
                match step {
                    Step::Remind => "case.remind",
                    Step::Escalate => "case.escalate",
                    Step::Breach => "case.breach",
                },
                case.id.to_string(),
            )
            .detail("copies", copies.len().to_string()),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(case = %case.id, step = step.as_str(), "acknowledgement clock");
        Ok(())
    }
}
