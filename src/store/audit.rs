//! The audit log table: append inside a write transaction, read in order.

use sqlx::Row;

use super::{Store, StoreError, WriteTx};
use crate::audit::{Entry, GENESIS, Record};

impl WriteTx {
    /// Appends `record` to the hash chain, stamped with the transaction's
    /// instant. It becomes durable only with the change it records.
    pub async fn append_audit(&mut self, record: &Record) -> Result<Entry, StoreError> {
        let last: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *self.tx)
                .await?;
        let (seq, prev_hash) = match last {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, GENESIS.to_owned()),
        };
        let entry = Entry::chain(seq, self.now, &prev_hash, record);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, action, subject, reason, detail, prev_hash, hash) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(entry.seq)
        .bind(&entry.at)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.subject)
        .bind(&entry.reason)
        .bind(&entry.detail)
        .bind(&entry.prev_hash)
        .bind(&entry.hash)
        .execute(&mut *self.tx)
        .await?;
        Ok(entry)
    }
}

impl Store {
    /// Every audit entry in stored order (by sequence number).
    pub async fn audit_entries(&self) -> Result<Vec<Entry>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, subject, reason, detail, prev_hash, hash FROM audit_log ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Entry {
                    seq: row.try_get("seq")?,
                    at: row.try_get("at")?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    subject: row.try_get("subject")?,
                    reason: row.try_get("reason")?,
                    detail: row.try_get("detail")?,
                    prev_hash: row.try_get("prev_hash")?,
                    hash: row.try_get("hash")?,
                })
            })
            .collect()
    }
}
