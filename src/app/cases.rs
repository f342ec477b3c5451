//! Reports become cases (issue 12, in progress): mail to the team address
//! that is not a team member's good post opens a case `CASE-YYYY-NNNN`.
//!
//! In one transaction: the case's metadata (the reporter's address,
//! whether our MTA's `Authentication-Results` vouched for their From
//! domain), the report itself as ciphertext to the list key alone (the
//! database never holds it in clear), and one copy for each active team
//! member (the list's preface naming the case and whether the sender was
//! verified, then the report whole). Per-sender and global hourly limits
//! (`[cases]`) drop the excess before any of that work. The same message
//! delivered twice (an MTA retry) opens one case.
//!
//! Not built yet: receipts to the reporter, follow-ups joining their case,
//! reports encrypted to the list key (relayed as they came, so the team
//! cannot read them yet), the clock's steps.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::App;
use super::inbound::Ingested;
use crate::audit::{Actor, Record};
use crate::cases::{Clock, Step};
use crate::compose::{Kind, report_context};
use crate::inbound::{auth_results, thread};
use crate::mail;
use crate::roster::{Email, Role};
use crate::store::NewCase;

impl App {
    /// Opens a case for `bytes`, a report to the team address.
    pub(super) async fn open_report(&self, bytes: &[u8]) -> Result<Ingested> {
        let now = self.now();
        let sender = mail::sender_headers(bytes);
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
            return Ok(self.drop_message("a report over the hourly limits of [cases]; dropped"));
        }
        let secret = self.thread_secret().await?;
        let domain = self.config.list.address.domain();
        let reference = mail::thread_headers(bytes)
            .message_id
            .map(|id| thread::stand_in(&secret, &id, domain));
        if let Some(reference) = &reference
            && self.store.case_of_message(reference).await?.is_some()
        {
            return Ok(self.drop_message("this report was already received"));
        }
        let vouch = match (&cases.authserv_id, &from) {
            (Some(authserv_id), Some(from)) => {
                let values: Vec<&str> = sender
                    .authentication_results
                    .iter()
                    .map(String::as_str)
                    .collect();
                auth_results::vouched_for(&values, authserv_id, from.domain())
            }
            _ => None,
        };
        let sealer = super::seal::Sealer::from_config(&self.config, now)?;
        let kept = sealer.encrypt_to_list(bytes)?;
        let team = self
            .store
            .members_with_roles(&self.config.team.roles)
            .await?;

        let mut tx = self.store.write(now).await?;
        let id = tx
            .open_case(&NewCase {
                reporter: &reporter,
                reporter_norm: &reporter_norm,
                reporter_fingerprint: None,
                reporter_verified: vouch.is_some(),
            })
            .await?;
        let row = tx
            .case_row_id(id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the case just opened is not there"))?;
        tx.add_case_message(row, reference.as_deref(), &kept)
            .await?;
        let lines = vec![
            match &from {
                Some(from) => format!("from {from}"),
                None => "from an address that cannot be read".to_owned(),
            },
            match vouch {
                Some(check) => format!(
                    "sender verified: our mail server's {} check passed for their domain",
                    check.as_str().to_uppercase()
                ),
                None => "sender not verified: anyone could have written this From".to_owned(),
            },
        ];
        let preface = self.templates()?.render(
            Kind::CaseReport,
            &report_context(&self.list_view(), &format!("a new report: {id}"), &lines),
        )?;
        let (copies, _) = self.reseal_to_team(&sealer, &team, &preface.body, bytes, &secret)?;
        let announcement = tx.other_announcement(Kind::CaseReport, now).await?;
        tx.insert_deliveries(announcement, now, &copies).await?;
        tx.append_audit(
            &Record::new(Actor::System, "case.open", id.to_string())
                .detail("verified", if vouch.is_some() { "yes" } else { "no" })
                .detail("copies", copies.len().to_string()),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(case = %id, copies = copies.len(), "a report opened a case");
        Ok(Ingested::Report {
            case: id.to_string(),
            copies: copies.len(),
        })
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
        for case in self.store.cases(true).await? {
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
