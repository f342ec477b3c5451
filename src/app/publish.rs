//! Publishing: the advisory becomes public (at its disclosure time, or
//! early with a reason), copies of its embargoed kinds stop, and the public
//! disclosure is sealed once and its copies committed in batches.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::App;
use super::scheduler::{Prepared, SealerSlot, effective_disclosure};
use super::seal::label;
use crate::advisory::{Advisory, AdvisoryId, Status};
use crate::audit::{Actor, Record};
use crate::compose::{Kind, advisory_context};
use crate::roster::{Email, MemberId};
use crate::store::{DeliveryState, NewDelivery, StoredAdvisory};
use crate::text::Reason;

impl App {
    /// Makes an advisory public now: it is disclosed, copies of its
    /// embargoed kinds that have not gone out stop, the public disclosure
    /// is planned, and the OSV and CSAF documents are written (or, when
    /// they cannot be, retried and reported).
    pub(crate) async fn publish(
        &self,
        stored: &StoredAdvisory,
        actor: Actor,
        early: Option<&Reason>,
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
            .drop_pending(stored.row, &Kind::TOLD, "the advisory was disclosed")
            .await?;
        tx.plan_announcement(Kind::Disclosure, stored.row, current.advisory.revision, now)
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
        // The case the advisory was made from closes with it; its
        // reporter gets the public disclosure (`seal_disclosure`).
        if let Some(case) = tx.close_case_of_advisory(&advisory.id.normalized()).await? {
            tx.append_audit(
                &Record::new(Actor::System, "case.close", case.to_string())
                    .detail("advisory", advisory.id.as_str())
                    .detail("reason", "the advisory was disclosed"),
            )
            .await?;
        }
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

    pub(super) async fn seal_disclosure(
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
        // The reporter of the case it was made from hears it when the
        // public does.
        if let Some(reporter) = self.reporter_of(&advisory.id).await? {
            targets.push((None, reporter));
        }
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
}

pub(super) fn subject(id: &AdvisoryId) -> String {
    format!("advisory:{}", id.normalized())
}
