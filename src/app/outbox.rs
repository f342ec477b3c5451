//! Filling the outbox: what is due to be sealed, for whom, and the
//! advisory transitions that happen on their own (notified at the announce
//! time, disclosed at the end of the embargo).
//!
//! [`App::prepare`] is one pass of the scheduler. `embargo serve` runs it
//! every second and `embargo queue run` once; the CLI runs it right after
//! an announcement is scheduled so the copies are sealed then. Every step
//! reads the roster afresh and writes with `INSERT OR IGNORE` on (announcement,
//! recipient), so two passes racing (the CLI and the daemon) never queue a
//! copy twice; the advisory kinds are also claimed before they are sealed
//! (`app::sealing`), so they are not sealed twice either.

use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::App;
use super::seal::{Recipient, Sealed, Sealer, label};
use crate::advisory::{Advisory, AdvisoryId, Status};
use crate::audit::{Actor, Record};
use crate::compose::{
    Kind, MemberView, Rendered, advisory_context, member_context, report_context,
};
use crate::roster::{Email, MemberId, Role};
use crate::store::{Addressee, DeliveryState, NewDelivery, SealAudience, StoredAdvisory};

/// The kinds that carry an advisory's embargoed content to members.
const TOLD_KINDS: [&str; 3] = ["notice", "update", "reminder"];

/// What one pass did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Prepared {
    /// Copies sealed and queued.
    pub sealed: u64,
    /// Members whose key could not be used.
    pub missed: u64,
    /// Advisories that became public.
    pub disclosed: Vec<String>,
    /// Steps that failed, each with its error; the others went on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
}

impl Prepared {
    /// Adds what another pass did.
    pub fn add(&mut self, other: Prepared) {
        self.sealed += other.sealed;
        self.missed += other.missed;
        self.disclosed.extend(other.disclosed);
        self.failed.extend(other.failed);
    }

    /// Adds what one step did, or that it failed.
    fn step(&mut self, name: &str, result: Result<Prepared>) {
        match result {
            Ok(done) => self.add(done),
            Err(err) => self.failed.push(format!("{name}: {err:#}")),
        }
    }
}

/// The sealer for a pass, made on first use.
#[derive(Default)]
pub(crate) struct SealerSlot(Option<Arc<Sealer>>);

impl App {
    pub(crate) fn sealer(&self, slot: &mut SealerSlot, now: DateTime<Utc>) -> Result<Arc<Sealer>> {
        if let Some(sealer) = &slot.0 {
            return Ok(sealer.clone());
        }
        let sealer = Arc::new(Sealer::from_config(&self.config, now)?);
        slot.0 = Some(sealer.clone());
        Ok(sealer)
    }

    /// One pass of the scheduler at the clock's now: advisories that move
    /// on by themselves, copies to seal, maintainers' reports, recurring
    /// jobs, exports. Each advisory, announcement and job is its own step:
    /// one that fails is listed in [`Prepared::failed`] and the others go
    /// on (a broken one must not hold back independent mail).
    pub async fn prepare(&self) -> Result<Prepared> {
        let now = self.now();
        let mut slot = SealerSlot::default();
        let mut done = Prepared::default();
        for stored in self.store.open_advisories().await? {
            let name = format!("advisory {}", stored.advisory.id);
            let result = self.prepare_advisory(&mut slot, stored, now).await;
            done.step(&name, result);
        }
        for planned in self.store.planned_announcements(now).await? {
            let name = format!("{} announcement {}", planned.kind, planned.id);
            let result = self.seal_planned(&mut slot, &planned, now).await;
            done.step(&name, result);
        }
        let result = self.report(&mut slot, now).await;
        done.step("maintainers' report", result.map(|()| Prepared::default()));
        let result = self.run_jobs(&mut slot, now).await;
        done.step("key-expiry job", result.map(|()| Prepared::default()));
        let result = self.write_due_exports(now).await;
        done.step("exports", result.map(|_| Prepared::default()));
        Ok(done)
    }

    async fn prepare_advisory(
        &self,
        slot: &mut SealerSlot,
        stored: StoredAdvisory,
        now: DateTime<Utc>,
    ) -> Result<Prepared> {
        let mut done = Prepared::default();
        let advisory = &stored.advisory;
        let disclose_at = effective_disclosure(&stored);
        if now >= disclose_at {
            self.publish(&stored, Actor::System, None).await?;
            done.disclosed.push(advisory.id.to_string());
            return Ok(done);
        }
        let Some(announce_at) = advisory.announce_at else {
            return Ok(done);
        };
        // The notice, for everyone active who has not had it (all of them
        // at first; later, members who joined since).
        let notice = self
            .store
            .find_announcement(Kind::Notice.name(), stored.row, advisory.revision)
            .await?;
        let untold = self
            .store
            .audience_batch(stored.row, SealAudience::Untold, notice, 0, 1)
            .await?;
        if !untold.is_empty() {
            done.add(
                self.seal_advisory(
                    slot,
                    &stored,
                    Kind::Notice,
                    SealAudience::Untold,
                    announce_at,
                )
                .await?,
            );
        }
        if advisory.status == Status::Scheduled && announce_at <= now {
            let mut tx = self.store.write(now).await?;
            tx.set_advisory_status(&advisory.id, Status::Notified, None)
                .await?;
            tx.append_audit(
                &Record::new(Actor::System, "advisory.notified", subject(&advisory.id))
                    .detail("revision", advisory.revision.to_string()),
            )
            .await?;
            tx.commit().await?;
        }
        // The reminder, sealed a little ahead of its time, to everyone who
        // has (or is about to have) the advisory.
        let before = self.config.delivery.reminder_before;
        if before > chrono::Duration::zero() {
            let remind_at = disclose_at - before;
            if remind_at > announce_at
                && remind_at - self.config.delivery.seal_ahead <= now
                && !self
                    .store
                    .has_sealed_announcement(stored.row, "reminder")
                    .await?
            {
                done.add(
                    self.seal_advisory(
                        slot,
                        &stored,
                        Kind::Reminder,
                        SealAudience::Informed,
                        remind_at,
                    )
                    .await?,
                );
            }
        }
        Ok(done)
    }

    /// Makes an advisory public now: it is disclosed, copies of its
    /// embargoed kinds that have not gone out stop, the public disclosure
    /// is planned, and the OSV and CSAF documents are written (or, when
    /// they cannot be, retried and reported).
    pub(crate) async fn publish(
        &self,
        stored: &StoredAdvisory,
        actor: Actor,
        early: Option<&str>,
    ) -> Result<Advisory> {
        let now = self.now();
        let advisory = &stored.advisory;
        let mut tx = self.store.write(now).await?;
        let current = tx
            .advisory(&advisory.id)
            .await?
            .context("advisory vanished")?;
        // A hold may have landed since this pass read the advisory: only
        // an early disclosure (which says so) publishes before its time.
        if early.is_none() && now < effective_disclosure(&current) {
            anyhow::bail!(
                "advisory {} is not due until {}; not disclosed",
                advisory.id,
                crate::advisory::time::format_utc(effective_disclosure(&current))
            );
        }
        if !matches!(
            current.advisory.status,
            Status::Scheduled | Status::Notified
        ) {
            anyhow::bail!(
                "advisory {} is {}; only a scheduled or notified advisory can be disclosed",
                advisory.id,
                current.advisory.status
            );
        }
        tx.set_advisory_status(&advisory.id, Status::Disclosed, None)
            .await?;
        let stopped = tx
            .drop_pending(stored.row, &TOLD_KINDS, "the advisory was disclosed")
            .await?;
        tx.plan_announcement("disclosure", stored.row, current.advisory.revision, now)
            .await?;
        let action = if early.is_some() {
            "advisory.disclose-early"
        } else {
            "advisory.disclose"
        };
        tx.append_audit(
            &Record::new(actor, action, subject(&advisory.id))
                .reason(early)
                .detail("revision", current.advisory.revision.to_string())
                .detail("unsent_copies_stopped", stopped.to_string()),
        )
        .await?;
        // The documents are written after the commit, on their own
        // ladder: the embargo ends at its instant even when the export
        // folder cannot be written (see `app::export`).
        tx.plan_export(stored.row).await?;
        tx.commit().await?;
        let mut published = current.advisory.clone();
        published.status = Status::Disclosed;
        if let Err(err) = self.write_due_exports(now).await {
            tracing::error!(
                error = %format!("{err:#}"),
                "could not record the state of the OSV and CSAF exports; the next pass tries again"
            );
        }
        Ok(published)
    }

    async fn seal_planned(
        &self,
        slot: &mut SealerSlot,
        planned: &crate::store::PlannedAnnouncement,
        now: DateTime<Utc>,
    ) -> Result<Prepared> {
        let Some(row) = planned.advisory_row else {
            return Ok(Prepared::default());
        };
        let stored = self.store.advisory_by_row(row).await?;
        let kind: Kind = planned
            .kind
            .parse()
            .map_err(|err| anyhow::anyhow!("planned announcement {}: {err}", planned.id))?;
        match kind {
            Kind::Disclosure => self.seal_disclosure(slot, &stored, planned, now).await,
            Kind::Update | Kind::Cancellation => {
                self.seal_advisory(slot, &stored, kind, SealAudience::Told, planned.due_at)
                    .await
            }
            _ => Ok(Prepared::default()),
        }
    }

    async fn seal_disclosure(
        &self,
        slot: &mut SealerSlot,
        stored: &StoredAdvisory,
        planned: &crate::store::PlannedAnnouncement,
        now: DateTime<Utc>,
    ) -> Result<Prepared> {
        let advisory = &stored.advisory;
        let rendered = self.templates()?.render(
            Kind::Disclosure,
            &advisory_context(&self.list_view(), advisory, &[], 0),
        )?;
        let sealer = self.sealer(slot, now)?;
        let entity = sealer.sign(&rendered)?;
        let label = label(advisory.id.as_str(), advisory.revision, Kind::Disclosure);
        let mut targets: Vec<(Option<MemberId>, Email)> = self
            .config
            .mail
            .public_addresses
            .iter()
            .map(|email| (None, email.clone()))
            .collect();
        for member in self.store.active_addressees().await? {
            targets.push((Some(member.member_id), member.email));
        }
        // Public copies cost no encryption, but thousands of them held at
        // once cost memory: build, insert and commit them a batch at a
        // time. A copy committed before the announcement is marked sealed
        // may go out at once (it is public now); a pass that stops half way
        // is finished by the next one, and insert-or-ignore keeps one copy
        // per recipient with its stable Message-ID.
        let mut written = 0;
        for batch in targets.chunks(super::sealing::SEAL_BATCH) {
            let mut copies = Vec::with_capacity(batch.len());
            for (member_id, to) in batch {
                let (message_id, bytes) =
                    sealer.public(&entity, &rendered, to, &stored.message_key, &label)?;
                copies.push(NewDelivery {
                    member_id: *member_id,
                    recipient: to.to_string(),
                    message_id,
                    message: Some(bytes),
                    cert_version: None,
                    state: DeliveryState::Queued,
                    reply: None,
                });
            }
            let mut tx = self.store.write(now).await?;
            written += tx
                .insert_deliveries(planned.id, planned.due_at, &copies)
                .await?;
            tx.commit().await?;
        }
        let mut tx = self.store.write(now).await?;
        if !tx.mark_sealed(planned.id).await? {
            return Ok(Prepared::default());
        }
        tx.commit().await?;
        Ok(Prepared {
            sealed: written,
            ..Prepared::default()
        })
    }

    /// Seals one piece of member mail (confirm, welcome, key-expiry) for
    /// `member`, encrypted to their key. A key that cannot be used gives
    /// `None`: member mail is never sent in clear text either.
    pub(crate) fn seal_member_mail(
        &self,
        sealer: &Sealer,
        kind: Kind,
        member: &Addressee,
        sponsor: &str,
        extra: &[(&str, String)],
    ) -> Result<Option<NewDelivery>> {
        let view = member_view(member, sponsor);
        let rendered = self
            .templates()?
            .render(kind, &member_context(&self.list_view(), &view, extra))?;
        self.seal_one(sealer, &rendered, kind, member)
    }

    pub(crate) fn seal_one(
        &self,
        sealer: &Sealer,
        rendered: &Rendered,
        kind: Kind,
        member: &Addressee,
    ) -> Result<Option<NewDelivery>> {
        let entity = sealer.sign(rendered)?;
        let key = random_key()?;
        let recipient = to_recipient(member);
        match sealer.seal(&entity, &[recipient], &key, kind.name()).pop() {
            Some(sealed @ Sealed::Message { .. }) => {
                Ok(Some(super::sealing::delivery_of(member, sealed)))
            }
            _ => Ok(None),
        }
    }

    /// Queues member mail made by [`App::seal_member_mail`] inside `tx`.
    pub(crate) async fn queue_member_mail(
        tx: &mut crate::store::WriteTx,
        kind: Kind,
        copy: NewDelivery,
    ) -> Result<()> {
        let now = tx.now();
        let announcement = tx.other_announcement(kind.name(), now).await?;
        tx.insert_deliveries(announcement, now, &[copy]).await?;
        Ok(())
    }

    /// Tells members whose copy was missed (signed, content-free) and
    /// maintainers about every copy that failed, is uncertain or was
    /// missed, once.
    async fn report(&self, slot: &mut SealerSlot, now: DateTime<Utc>) -> Result<()> {
        let unreported = self.store.unreported().await?;
        if unreported.is_empty() {
            return Ok(());
        }
        let sealer = self.sealer(slot, now)?;
        let templates = self.templates()?;
        let mut member_mail = Vec::new();
        let mut told = std::collections::HashSet::new();
        for copy in &unreported {
            if copy.state != DeliveryState::Missed || copy.kind == "missed" {
                continue;
            }
            let Some(member_id) = copy.member_id else {
                continue;
            };
            if !told.insert(member_id.0) {
                continue;
            }
            let Some(member) = self.store.addressee(member_id).await? else {
                continue;
            };
            let view = member_view(&member, "");
            let rendered =
                templates.render(Kind::Missed, &member_context(&self.list_view(), &view, &[]))?;
            // Content-free, so signed but not encrypted: the key is what
            // cannot be used.
            let entity = sealer.sign(&rendered)?;
            let (message_id, bytes) =
                sealer.public(&entity, &rendered, &member.email, &random_key()?, "missed")?;
            member_mail.push(NewDelivery {
                member_id: Some(member.member_id),
                recipient: member.email.to_string(),
                message_id,
                message: Some(bytes),
                cert_version: None,
                state: DeliveryState::Queued,
                reply: None,
            });
        }
        let lines: Vec<String> = unreported
            .iter()
            .map(|copy| {
                format!(
                    "{}{} to {}: {}{}",
                    copy.advisory
                        .as_deref()
                        .map(|id| format!("{id} "))
                        .unwrap_or_default(),
                    copy.kind,
                    copy.recipient,
                    copy.state,
                    copy.reply
                        .as_deref()
                        .map(|reply| format!(" ({reply})"))
                        .unwrap_or_default()
                )
            })
            .collect();
        let reports = self
            .maintainer_report(&sealer, "copies that did not arrive", &lines)
            .await?;
        let mut tx = self.store.write(now).await?;
        for copy in member_mail {
            Self::queue_member_mail(&mut tx, Kind::Missed, copy).await?;
        }
        if !reports.is_empty() {
            let announcement = tx.other_announcement("report", now).await?;
            tx.insert_deliveries(announcement, now, &reports).await?;
        }
        let ids: Vec<i64> = unreported.iter().map(|copy| copy.id).collect();
        tx.mark_reported(&ids).await?;
        tx.commit().await?;
        tracing::warn!(
            copies = unreported.len(),
            "copies failed, are uncertain or were missed; maintainers are told"
        );
        Ok(())
    }

    /// A report to every active maintainer and admin, encrypted to each.
    pub(crate) async fn maintainer_report(
        &self,
        sealer: &Sealer,
        title: &str,
        lines: &[String],
    ) -> Result<Vec<NewDelivery>> {
        let rendered = self.templates()?.render(
            Kind::Report,
            &report_context(&self.list_view(), title, lines),
        )?;
        let maintainers = self
            .store
            .members_with_roles(&[Role::Maintainer, Role::Admin])
            .await?;
        let mut copies = Vec::new();
        for maintainer in &maintainers {
            if let Some(copy) = self.seal_one(sealer, &rendered, Kind::Report, maintainer)? {
                copies.push(copy);
            }
        }
        Ok(copies)
    }

    /// Queues a report to maintainers now (a clock that jumped).
    pub async fn alert_maintainers(&self, title: &str, lines: &[String]) -> Result<()> {
        let now = self.now();
        let sealer = Sealer::from_config(&self.config, now)?;
        let copies = self.maintainer_report(&sealer, title, lines).await?;
        let mut tx = self.store.write(now).await?;
        let announcement = tx.other_announcement("report", now).await?;
        tx.insert_deliveries(announcement, now, &copies).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// When the advisory becomes public: its disclosure time, or the time a
/// maintainer's hold moved it to.
pub fn effective_disclosure(stored: &StoredAdvisory) -> DateTime<Utc> {
    match &stored.hold {
        Some((until, _)) => *until,
        None => stored.advisory.content.disclose_at,
    }
}

/// A member as member mail shows them.
pub(crate) fn member_view(member: &Addressee, sponsor: &str) -> MemberView {
    MemberView {
        name: member.name.clone(),
        email: member.email.to_string(),
        org: member.org.clone(),
        fingerprint: member.fingerprint.clone(),
        sponsor: sponsor.to_owned(),
    }
}

pub(crate) fn to_recipient(member: &Addressee) -> Recipient {
    Recipient {
        email: member.email.clone(),
        fingerprint: member.fingerprint.clone(),
        cert: member.cert.clone(),
    }
}

fn subject(id: &AdvisoryId) -> String {
    format!("advisory:{}", id.normalized())
}

/// A fresh random key (hex) for Message-IDs of one-off mail.
pub(crate) fn random_key() -> Result<String> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|err| anyhow::anyhow!("read random bytes: {err}"))?;
    Ok(hex::encode(random))
}

/// The name the key-expiry job's runs are recorded under.
const KEY_EXPIRY_JOB: &str = "key-expiry";

impl App {
    /// Runs recurring jobs whose cron time has come since they last ran.
    /// The first pass only starts the schedule.
    async fn run_jobs(&self, slot: &mut SealerSlot, now: DateTime<Utc>) -> Result<()> {
        let schedule = crate::config::cron_schedule(
            "[schedule] key_expiry_check",
            &self.config.schedule.key_expiry_check,
        )?;
        let Some(last) = self.store.job_last_run(KEY_EXPIRY_JOB).await? else {
            let mut tx = self.store.write(now).await?;
            tx.set_job_run(KEY_EXPIRY_JOB, now).await?;
            tx.commit().await?;
            return Ok(());
        };
        let due = schedule.after(&last).next().is_some_and(|next| next <= now);
        if due {
            self.check_key_expiry(slot, now).await?;
        }
        Ok(())
    }

    /// Warns members whose encryption subkeys expire within the warning
    /// window or before an open embargo ends, and tells maintainers.
    pub(crate) async fn check_key_expiry(
        &self,
        slot: &mut SealerSlot,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let policy = self.cert_policy();
        let last_embargo = self
            .store
            .open_advisories()
            .await?
            .iter()
            .map(effective_disclosure)
            .max();
        let horizon = (now + self.config.schedule.key_expiry_warn).max(last_embargo.unwrap_or(now));
        let mut warned = Vec::new();
        for member in self.store.active_addressees().await? {
            let Ok(summary) = crate::pgp::summarize_member_cert(&member.cert, &policy, now) else {
                continue;
            };
            if summary.problem.is_some() || summary.encryption_keys.is_empty() {
                continue;
            }
            // The key lasts as long as its longest-lived encryption subkey.
            let lasts = summary
                .encryption_keys
                .iter()
                .map(|key| key.expires)
                .max_by(|a, b| match (a, b) {
                    (None, None) => std::cmp::Ordering::Equal,
                    (None, _) => std::cmp::Ordering::Greater,
                    (_, None) => std::cmp::Ordering::Less,
                    (Some(a), Some(b)) => a.cmp(b),
                })
                .flatten();
            if let Some(expires) = lasts
                && expires <= horizon
            {
                warned.push((member, expires));
            }
        }
        let mut tx_copies = Vec::new();
        let mut lines = Vec::new();
        if !warned.is_empty() {
            let sealer = self.sealer(slot, now)?;
            for (member, expires) in &warned {
                let when = crate::advisory::time::format_utc(*expires);
                lines.push(format!(
                    "{}: encryption subkey of {} expires {when}",
                    member.email, member.fingerprint
                ));
                if let Some(copy) = self.seal_member_mail(
                    &sealer,
                    Kind::KeyExpiry,
                    member,
                    "",
                    &[("key_expires", when.clone())],
                )? {
                    tx_copies.push(copy);
                }
            }
            let reports = self
                .maintainer_report(&sealer, "member keys that expire soon", &lines)
                .await?;
            let mut tx = self.store.write(now).await?;
            for copy in tx_copies {
                Self::queue_member_mail(&mut tx, Kind::KeyExpiry, copy).await?;
            }
            if !reports.is_empty() {
                let announcement = tx.other_announcement("report", now).await?;
                tx.insert_deliveries(announcement, now, &reports).await?;
            }
            tx.set_job_run(KEY_EXPIRY_JOB, now).await?;
            tx.commit().await?;
        } else {
            let mut tx = self.store.write(now).await?;
            tx.set_job_run(KEY_EXPIRY_JOB, now).await?;
            tx.commit().await?;
        }
        tracing::info!(members = warned.len(), "key-expiry check done");
        Ok(warned.len() as u64)
    }
}
