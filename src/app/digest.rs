//! The observers' digest: the instance report, signed by the home list's
//! key and encrypted to each observer's key alone, queued in the home
//! list's outbox on the `[instance] digest` schedule.
//!
//! Only the home list's loop runs it (one instance, one digest), and its
//! `jobs` row is moved inside the transaction that queues the copies, so
//! two daemons serving the home list queue it once per instant.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::App;
use super::member_mail::random_key;
use super::scheduler::SealerSlot;
use super::seal::{Label, Recipient};
use crate::compose::{Kind, report_context};
use crate::store::{NewDelivery, ObserverRow};

/// The name the digest's runs are recorded under in the home list's
/// `jobs` rows.
const DIGEST_JOB: &str = "observer-digest";

impl App {
    /// Queues the digest for every observer when its cron time has come
    /// since it last ran. The first pass only starts the schedule, as for
    /// every job, so a new instance does not send one at once.
    pub(super) async fn run_digest(&self, slot: &mut SealerSlot, now: DateTime<Utc>) -> Result<()> {
        if !self.config.instance.is_home(&self.config.list.address) {
            return Ok(());
        }
        let Some(last) = self.store.job_last_run(DIGEST_JOB).await? else {
            let mut tx = self.store.write(now).await?;
            tx.set_job_run(DIGEST_JOB, now).await?;
            tx.commit().await?;
            return Ok(());
        };
        let due = self
            .config
            .instance
            .digest
            .next_after(last)
            .is_some_and(|next| next <= now);
        if !due {
            return Ok(());
        }
        let observers = self.store.observers().await?;
        let copies = if observers.is_empty() {
            Vec::new()
        } else {
            self.seal_digest(slot, &observers, now).await?
        };
        let mut tx = self.store.write(now).await?;
        if !tx.claim_job(DIGEST_JOB, last, now).await? {
            // Another daemon queued this one since we read the schedule.
            return Ok(());
        }
        if !copies.is_empty() {
            let announcement = tx.other_announcement(Kind::Digest, now).await?;
            tx.insert_deliveries(announcement, now, &copies).await?;
        }
        tx.commit().await?;
        tracing::info!(observers = copies.len(), "queued the observers' digest");
        Ok(())
    }

    /// The digest at `now`, sealed once per observer (one recipient per
    /// message). An observer whose key cannot be used gets no copy: the
    /// row is recorded missed, and maintainers' reports name it.
    async fn seal_digest(
        &self,
        slot: &mut SealerSlot,
        observers: &[ObserverRow],
        now: DateTime<Utc>,
    ) -> Result<Vec<NewDelivery>> {
        let report = super::instance_report::build(&self.store, &self.config, now).await?;
        let title = format!(
            "observers' digest of {}",
            crate::advisory::time::format_utc(now)
        );
        let rendered = self.templates()?.render(
            Kind::Digest,
            &report_context(&self.list_view(), &title, &report.lines()),
        )?;
        let sealer = self.sealer(slot, now)?;
        let entity = sealer.sign(&rendered)?;
        let key = random_key()?;
        let recipients: Vec<Recipient> = observers
            .iter()
            .map(|observer| Recipient {
                email: observer.email.clone(),
                fingerprint: observer.fingerprint.clone(),
                cert: observer.cert.clone(),
            })
            .collect();
        let sealed = sealer.seal(&entity, &recipients, &key, &Label::mail(Kind::Digest));
        Ok(observers
            .iter()
            .zip(sealed)
            .map(|(observer, sealed)| {
                super::sealing::delivery_to(None, &observer.email, None, sealed)
            })
            .collect())
    }
}
