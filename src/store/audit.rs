//! The audit log table: append inside a write transaction, read in order.

use super::{Store, StoreError, WriteTx};
use crate::audit::{Entry, GENESIS, Record};

impl WriteTx {
    /// Appends `record` to the hash chain, stamped with the transaction's
    /// instant. It becomes durable only with the change it records.
    pub async fn append_audit(&mut self, record: &Record) -> Result<Entry, StoreError> {
        // Every entry names its channel, the one its actor carries unless
        // the use case named it (a consequence of a member's change).
        let mut record = record.clone();
        if !record.detail.contains_key("via") {
            record
                .detail
                .insert("via", record.actor.channel().to_string());
        }
        let record = &record;
        let last: Option<(i64, String)> = sqlx::query_as(
            "SELECT seq, hash FROM audit_log WHERE list_id = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(self.list)
        .fetch_optional(&mut *self.tx)
        .await?;
        let (seq, prev_hash) = match last {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, GENESIS.to_owned()),
        };
        let entry = Entry::chain(seq, self.now, &prev_hash, record);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, action, subject, reason, detail, prev_hash, hash, \
             list_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
        .bind(self.list)
        .execute(&mut *self.tx)
        .await?;
        Ok(entry)
    }
}

impl Store {
    /// Every audit entry of the list in stored order (by sequence number). SQLite
    /// builds one JSON document, for the same reason as the member list.
    pub async fn audit_entries(&self) -> Result<Vec<Entry>, StoreError> {
        let json: String = sqlx::query_scalar(self.dialect.pick(
            "SELECT json_group_array(json_array(seq, at, actor, action, subject, reason, detail, \
             prev_hash, hash) ORDER BY seq) FROM audit_log WHERE list_id = $1",
            "SELECT COALESCE(json_agg(json_build_array(seq, at, actor, action, subject, reason, \
             detail, prev_hash, hash) ORDER BY seq)::text, '[]') FROM audit_log WHERE list_id = $1",
        ))
        .bind(self.list)
        .fetch_one(&self.pool)
        .await?;
        type Row = (
            i64,
            String,
            String,
            String,
            String,
            Option<String>,
            String,
            String,
            String,
        );
        let rows: Vec<Row> = serde_json::from_str(&json)
            .map_err(|err| StoreError::Corrupt(format!("audit rows: {err}")))?;
        Ok(rows
            .into_iter()
            .map(
                |(seq, at, actor, action, subject, reason, detail, prev_hash, hash)| Entry {
                    seq,
                    at,
                    actor,
                    action,
                    subject,
                    reason,
                    detail,
                    prev_hash,
                    hash,
                },
            )
            .collect())
    }
}
