//! The OSV and CSAF documents a disclosure owes, and their retries.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError, WriteTx, parse_time};
use crate::clock::format_instant;

/// An export whose next attempt is due.
#[derive(Debug, Clone)]
pub struct DueExport {
    pub advisory_row: i64,
    pub published_at: DateTime<Utc>,
    /// Attempts made so far.
    pub attempts: i64,
    /// Whether maintainers were already told that it fails.
    pub reported: bool,
}

impl Store {
    /// Exports still to write whose next attempt is due by `now`.
    pub async fn due_exports(&self, now: DateTime<Utc>) -> Result<Vec<DueExport>, StoreError> {
        let rows = sqlx::query(
            "SELECT advisory_id, published_at, attempts, reported FROM exports \
             WHERE state = 'pending' AND next_attempt_at <= $1 \
             AND advisory_id IN (SELECT id FROM advisories WHERE list_id = $2) \
             ORDER BY next_attempt_at, advisory_id",
        )
        .bind(format_instant(now))
        .bind(self.list)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let published: String = row.try_get("published_at")?;
                Ok(DueExport {
                    advisory_row: row.try_get("advisory_id")?,
                    published_at: parse_time("exports.published_at", &published)?,
                    attempts: row.try_get("attempts")?,
                    reported: row.try_get::<i64, _>("reported")? != 0,
                })
            })
            .collect()
    }
}

impl WriteTx {
    /// Records that the advisory's documents are owed, due now. Stamped
    /// with the transaction's instant, which the documents carry as their
    /// publication time.
    pub async fn plan_export(&mut self, advisory_row: i64) -> Result<(), StoreError> {
        let now = format_instant(self.now);
        sqlx::query(
            "INSERT INTO exports (advisory_id, state, published_at, next_attempt_at) \
             VALUES ($1, 'pending', $2, $3) ON CONFLICT (advisory_id) DO NOTHING",
        )
        .bind(advisory_row)
        .bind(&now)
        .bind(&now)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// The documents were written. Answers whether this call marked them
    /// (false: another pass already had).
    pub async fn export_written(&mut self, advisory_row: i64) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE exports SET state = 'written', attempts = attempts + 1, written_at = $1, \
               last_error = NULL WHERE advisory_id = $2 AND state = 'pending'",
        )
        .bind(format_instant(self.now))
        .bind(advisory_row)
        .execute(&mut *self.tx)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Writing failed with `error`: try again at `next`; `reported` once
    /// maintainers have been told.
    pub async fn export_failed(
        &mut self,
        advisory_row: i64,
        error: &str,
        next: DateTime<Utc>,
        reported: bool,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE exports SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2, \
               reported = CASE WHEN $3 > reported THEN $3 ELSE reported END WHERE advisory_id = $4 AND state = 'pending'",
        )
        .bind(error)
        .bind(format_instant(next))
        .bind(i64::from(reported))
        .bind(advisory_row)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
