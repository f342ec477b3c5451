//! Sealing an advisory kind (notice, update, reminder, cancellation) for
//! its audience: by one process at a time, in bounded batches.
//!
//! The CLI seals right after an announcement while the operator watches,
//! and the daemon's pass would seal the same announcement a second later.
//! So the work is claimed first, as a delivery is: a lease with a
//! generation and an expiry on the announcement row. A process that finds
//! the claim held leaves the announcement alone; one that was killed
//! mid-seal leaves work that another takes over when the lease expires.
//!
//! Copies are sealed, inserted and committed [`SEAL_BATCH`] at a time, so
//! a process holds one batch of ciphertext however large the roster, and
//! the daemon can send the first batch while the rest is sealed. Each
//! batch is taken from the audience query, which leaves out members who
//! already have a copy of the announcement: a seal that stopped between
//! batches resumes where it stopped. The announcement is marked sealed
//! when the last batch commits. Each committed batch is reported to the
//! app's progress hook (see [`super::progress`]).

use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::App;
use super::member_mail::to_recipient;
use super::progress::SealingReport;
use super::scheduler::{Prepared, SealerSlot};
use super::seal::{Label, Recipient, Sealed, Sealer, label};
use crate::compose::{Kind, advisory_context};
use crate::mail::SignedEntity;
use crate::roster::{Email, MemberId};
use crate::store::{
    Addressee, AnnouncementState, DeliveryState, NewDelivery, SealAudience, StoredAdvisory,
};

/// Copies sealed, written and committed together. The seal benchmark
/// hands copies on in batches of this size; it bounds what one process
/// holds (about 10 MB of ciphertext for a 4 KiB announcement).
pub const SEAL_BATCH: usize = 500;

/// How long a sealing claim lasts without a batch committed under it. A
/// batch takes well under a second on one core; a process killed mid-seal
/// delays the rest of the announcement by at most this much.
fn seal_lease() -> chrono::Duration {
    chrono::Duration::seconds(60)
}

/// One announcement being sealed under a claim.
struct Job<'a> {
    stored: &'a StoredAdvisory,
    kind: Kind,
    audience: SealAudience,
    due: DateTime<Utc>,
    announcement: i64,
    generation: i64,
}

impl App {
    /// Renders `kind` from the advisory's current revision, signs it once,
    /// and encrypts it to each member of `audience`, batch by batch, queued
    /// for `due`. Does nothing when another process holds the sealing.
    pub(crate) async fn seal_advisory(
        &self,
        slot: &mut SealerSlot,
        stored: &StoredAdvisory,
        kind: Kind,
        audience: SealAudience,
        due: DateTime<Utc>,
    ) -> Result<Prepared> {
        let advisory = &stored.advisory;
        let now = self.now();
        let mut tx = self.store.write(now).await?;
        let announcement = tx
            .advisory_announcement(
                kind,
                stored.row,
                advisory.revision,
                due,
                AnnouncementState::Planned,
            )
            .await?;
        let Some(generation) = tx.claim_sealing(announcement, now + seal_lease()).await? else {
            tracing::info!(
                announcement,
                kind = kind.name(),
                "another process is sealing this announcement; leaving it to that process"
            );
            return Ok(Prepared::default());
        };
        tx.commit().await?;
        let job = Job {
            stored,
            kind,
            audience,
            due,
            announcement,
            generation,
        };
        match self.seal_batches(slot, &job).await {
            Ok(done) => Ok(done),
            Err(err) => {
                // Let the next pass (this process's or another's) take the
                // work over at once instead of after the lease.
                if let Ok(mut tx) = self.store.write(self.now()).await
                    && tx
                        .end_sealing(announcement, generation, false)
                        .await
                        .is_ok()
                {
                    let _ = tx.commit().await;
                }
                Err(err)
            }
        }
    }

    async fn seal_batches(&self, slot: &mut SealerSlot, job: &Job<'_>) -> Result<Prepared> {
        let advisory = &job.stored.advisory;
        let changes = if job.kind == Kind::Update {
            self.store
                .advisory_revision(job.stored.row, advisory.revision)
                .await?
                .1
        } else {
            Vec::new()
        };
        // Members read the disclosure time in force: a hold's, if any.
        let mut shown = advisory.clone();
        shown.content.disclose_at = super::scheduler::effective_disclosure(job.stored);
        let hours = (shown.content.disclose_at - job.due).num_hours().max(0);
        let rendered = self.templates()?.render(
            job.kind,
            &advisory_context(&self.list_view(), &shown, &changes, hours),
        )?;
        let sealer = self.sealer(slot, self.now())?;
        let entity = Arc::new(sealer.sign(&rendered)?);
        let label = label(advisory.id.as_str(), advisory.revision, job.kind);
        let crash = super::crash::CrashPoints::from_env();
        let mut done = Prepared::default();
        let mut after = 0;
        // Started at the first copy, so a pass with nothing to seal draws
        // nothing; ended when dropped, however the loop ends.
        let mut report: Option<SealingReport<'_>> = None;
        loop {
            let batch = self
                .store
                .audience_batch(
                    job.stored.row,
                    job.audience,
                    Some(job.announcement),
                    after,
                    SEAL_BATCH,
                )
                .await?;
            let last = batch.len() < SEAL_BATCH;
            if let Some(member) = batch.last() {
                after = member.member_id.0;
            }
            let copies = seal_copies(
                sealer.clone(),
                entity.clone(),
                batch,
                job.stored.message_key.clone(),
                label.clone(),
            )
            .await?;
            if !copies.is_empty() {
                tracing::info!(
                    announcement = job.announcement,
                    kind = job.kind.name(),
                    copies = copies.len(),
                    "sealed a batch"
                );
            }
            let Some(written) = self.commit_batch(job, &copies, last).await? else {
                return Ok(done);
            };
            done.add(written);
            if !copies.is_empty() {
                if report.is_none() {
                    // Only the bar's length: not worth failing a seal for.
                    let total = self.store.count_active_members().await.unwrap_or_default();
                    report = Some(SealingReport::start(
                        self.progress.as_ref(),
                        job.kind,
                        total,
                    ));
                }
                if let Some(report) = report.as_mut() {
                    report.add(copies.len() as u64);
                }
            }
            crash.reach(super::crash::CRASH_AFTER_SEAL_BATCH, 1);
            if last {
                return Ok(done);
            }
        }
    }

    /// Writes one batch under the claim, and with `last` marks the
    /// announcement sealed. Answers `None` when the batch was thrown away:
    /// the claim was taken over, or the advisory moved on while we sealed
    /// (a new revision, a cancellation), and the next pass seals anew.
    async fn commit_batch(
        &self,
        job: &Job<'_>,
        copies: &[NewDelivery],
        last: bool,
    ) -> Result<Option<Prepared>> {
        let advisory = &job.stored.advisory;
        let now = self.now();
        let mut tx = self.store.write(now).await?;
        if !tx
            .renew_sealing(job.announcement, job.generation, now + seal_lease())
            .await?
        {
            tracing::warn!(
                announcement = job.announcement,
                copies = copies.len(),
                "another process took over this sealing; the batch is thrown away"
            );
            return Ok(None);
        }
        let current = tx
            .advisory(&advisory.id)
            .await?
            .context("advisory vanished")?;
        if current.advisory.revision != advisory.revision
            || !(current.advisory.status.is_open() || job.kind == Kind::Cancellation)
        {
            tx.end_sealing(job.announcement, job.generation, false)
                .await?;
            tx.commit().await?;
            return Ok(None);
        }
        let missed = copies
            .iter()
            .filter(|c| c.state == DeliveryState::Missed)
            .count() as u64;
        let written = tx
            .insert_deliveries(job.announcement, job.due, copies)
            .await?;
        tx.count_sealed(job.announcement, copies.len() as u64)
            .await?;
        if last {
            tx.end_sealing(job.announcement, job.generation, true)
                .await?;
        }
        tx.commit().await?;
        Ok(Some(Prepared {
            sealed: written.saturating_sub(missed),
            missed,
            ..Prepared::default()
        }))
    }
}

/// Encrypts the signed entity to every member of one batch on all cores,
/// off the async runtime.
async fn seal_copies(
    sealer: Arc<Sealer>,
    entity: Arc<SignedEntity>,
    audience: Vec<Addressee>,
    message_key: String,
    label: Label,
) -> Result<Vec<NewDelivery>> {
    if audience.is_empty() {
        return Ok(Vec::new());
    }
    tokio::task::spawn_blocking(move || -> Vec<NewDelivery> {
        let recipients: Vec<Recipient> = audience.iter().map(to_recipient).collect();
        let sealed = sealer.seal(&entity, &recipients, &message_key, &label);
        audience
            .into_iter()
            .zip(sealed)
            .map(|(member, sealed)| delivery_of(&member, sealed))
            .collect()
    })
    .await
    .context("sealing stopped")
}

/// The outbox row for one member's sealed copy: queued, or `missed` with
/// the reason its key could not be used.
pub(super) fn delivery_of(member: &Addressee, sealed: Sealed) -> NewDelivery {
    delivery_to(
        Some(member.member_id),
        &member.email,
        Some(member.cert_version),
        sealed,
    )
}

/// The queued copy of `sealed` for `recipient` (a member's with their id
/// and certificate version, or someone outside the roster's without):
/// `missed`, with the reason, when their key could not be used.
pub(super) fn delivery_to(
    member_id: Option<MemberId>,
    recipient: &Email,
    cert_version: Option<i64>,
    sealed: Sealed,
) -> NewDelivery {
    let (message_id, message, state, reply) = match sealed {
        Sealed::Message { message_id, bytes } => {
            (message_id, Some(bytes), DeliveryState::Queued, None)
        }
        Sealed::Missed { reason } => (
            String::new(),
            None,
            DeliveryState::Missed,
            Some(format!("key unusable: {reason}")),
        ),
    };
    NewDelivery {
        member_id,
        recipient: recipient.to_string(),
        message_id,
        message,
        cert_version,
        state,
        reply,
    }
}
