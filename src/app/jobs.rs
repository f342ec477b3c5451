//! Recurring jobs on a cron schedule: the key-expiry check.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::App;
use super::scheduler::{SealerSlot, effective_disclosure};
use crate::compose::Kind;

/// The name the key-expiry job's runs are recorded under.
const KEY_EXPIRY_JOB: &str = "key-expiry";

impl App {
    /// Runs recurring jobs whose cron time has come since they last ran.
    /// The first pass only starts the schedule.
    pub(super) async fn run_jobs(&self, slot: &mut SealerSlot, now: DateTime<Utc>) -> Result<()> {
        let Some(last) = self.store.job_last_run(KEY_EXPIRY_JOB).await? else {
            let mut tx = self.store.write(now).await?;
            tx.set_job_run(KEY_EXPIRY_JOB, now).await?;
            tx.commit().await?;
            return Ok(());
        };
        let due = self
            .config
            .schedule
            .key_expiry_check
            .next_after(last)
            .is_some_and(|next| next <= now);
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
                let announcement = tx.other_announcement(Kind::Report, now).await?;
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
