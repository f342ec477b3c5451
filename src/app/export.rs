//! Writing the public OSV and CSAF documents of disclosed advisories.
//!
//! The disclosure itself (status, the public mail, the audit entry) commits
//! first and plans the export in the same transaction; the documents are
//! written afterwards. When the export folder cannot be written, the
//! embargo still ends at its instant and every other mail still flows: the
//! export is retried on its own ladder (`[delivery] retry_first` doubling up
//! to `retry_max`, never given up), maintainers are told once, and the
//! documents are written once the folder works again.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::App;
use super::seal::Sealer;
use crate::advisory::Advisory;
use crate::compose::Kind;
use crate::config::DeliverySettings;
use crate::export;
use crate::store::DueExport;

/// When to try an export again after `attempts` failed tries.
pub fn next_export_attempt(
    settings: &DeliverySettings,
    attempts: i64,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let delay = settings
        .retry_first
        .checked_mul(1_i32 << exponent)
        .unwrap_or(settings.retry_max)
        .min(settings.retry_max);
    now + delay
}

impl App {
    /// Writes every export that is due; a failure is recorded with its
    /// next attempt and reported to maintainers the first time. Answers
    /// how many were written. Errors only when the database fails.
    pub(crate) async fn write_due_exports(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut written = 0;
        for due in self.store.due_exports(now).await? {
            let stored = self.store.advisory_by_row(due.advisory_row).await?;
            let credits = self.finder_credits(&stored.advisory.id).await?;
            match self.write_exports(&stored.advisory, due.published_at, &credits) {
                Ok(()) => {
                    let mut tx = self.store.write(now).await?;
                    let marked = tx.export_written(due.advisory_row).await?;
                    tx.commit().await?;
                    if marked {
                        written += 1;
                        tracing::info!(
                            advisory = %stored.advisory.id,
                            attempts = due.attempts + 1,
                            "wrote the OSV and CSAF exports"
                        );
                    }
                }
                Err(err) => {
                    self.export_failed(&stored.advisory, &due, &err, now)
                        .await?;
                }
            }
        }
        Ok(written)
    }

    /// Records a failed export, and the first time tells maintainers (the
    /// report and the mark commit together, so they hear of it once).
    async fn export_failed(
        &self,
        advisory: &Advisory,
        due: &DueExport,
        err: &anyhow::Error,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let error = format!("{err:#}");
        let next = next_export_attempt(&self.config.delivery, due.attempts + 1, now);
        let reports = if due.reported {
            Vec::new()
        } else {
            tracing::error!(
                advisory = %advisory.id,
                error = %error,
                "could not write the OSV and CSAF exports; the disclosure went ahead, the export is retried with backoff and maintainers are told"
            );
            let lines = [
                format!(
                    "the OSV and CSAF documents of {} could not be written: {error}",
                    advisory.id
                ),
                "the advisory is disclosed and its public disclosure mail goes out as planned"
                    .to_owned(),
                format!(
                    "embargo tries again with backoff (next at {}) and writes them once the export folder ({}) can be written",
                    crate::advisory::time::format_utc(next),
                    self.config.export.dir.display()
                ),
            ];
            let sealer = Sealer::from_config(&self.config, now)?;
            self.maintainer_report(&sealer, "an export could not be written", &lines)
                .await?
        };
        let mut tx = self.store.write(now).await?;
        if !reports.is_empty() {
            let announcement = tx.other_announcement(Kind::Report, now).await?;
            tx.insert_deliveries(announcement, now, &reports).await?;
        }
        tx.export_failed(due.advisory_row, &error, next, true)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes the advisory's OSV and CSAF documents (crediting
    /// `finders`), each through a temporary file and a rename, so a
    /// reader never sees half of one.
    pub(crate) fn write_exports(
        &self,
        advisory: &Advisory,
        published: DateTime<Utc>,
        finders: &[String],
    ) -> Result<()> {
        let dir = &self.config.export.dir;
        std::fs::DirBuilder::new()
            .recursive(true)
            .create(dir)
            .with_context(|| format!("create the export folder {}", dir.display()))?;
        let publisher = export::Publisher {
            name: self.config.list.name.clone(),
            namespace: self.config.export.publisher_namespace.clone(),
            contact: self.config.list.address.to_string(),
        };
        let mut osv = export::osv(advisory, published);
        let mut csaf = export::csaf(advisory, &publisher, published);
        export::credit_finders(&mut osv, &mut csaf, finders);
        let documents = [
            (export::osv_file_name(advisory), osv),
            (export::csaf_file_name(advisory), csaf),
        ];
        for (name, document) in documents {
            let text = serde_json::to_vec_pretty(&document).context("serialise an export")?;
            write_atomically(&dir.join(&name), &text)
                .with_context(|| format!("write {}", dir.join(&name).display()))?;
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|err| err.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn export_retries_double_from_retry_first_up_to_retry_max_and_never_stop() {
        let settings = crate::config::Config::parse(
            "[list]\naddress = \"a@example.org\"\n",
            std::path::Path::new("/x/embargo.toml"),
        )
        .expect("config")
        .delivery;
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        let minutes: Vec<i64> = [1, 2, 3, 7, 8, 500]
            .into_iter()
            .map(|attempts| (next_export_attempt(&settings, attempts, now) - now).num_minutes())
            .collect();
        assert_eq!(minutes, vec![1, 2, 4, 60, 60, 60]);
    }
}
