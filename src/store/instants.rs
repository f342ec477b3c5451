//! The newest instant the database has recorded: the start-up check of
//! the daemon's wall clock compares against it.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, parse_time};

/// Every column that stamps the writer's own "now" (never a time in the
/// future such as `due_at`, nor a time someone else chose such as a
/// signature's). Timestamps are stored in one fixed-width UTC format, so
/// the text maximum is the newest instant.
const STAMPS: [(&str, &str); 22] = [
    ("lists", "created_at"),
    ("members", "updated_at"),
    ("members", "confirmed_at"),
    ("advisories", "updated_at"),
    ("advisory_revisions", "created_at"),
    ("audit_log", "at"),
    ("announcements", "sealed_at"),
    ("announcements", "created_at"),
    ("deliveries", "updated_at"),
    ("deliveries", "sent_at"),
    ("jobs", "last_run_at"),
    ("inbound_signatures", "received_at"),
    ("acks", "at"),
    ("cases", "opened_at"),
    ("cases", "acknowledged_at"),
    ("cases", "closed_at"),
    ("cases", "agreed_at"),
    ("case_clock", "fired_at"),
    ("case_messages", "received_at"),
    ("case_participants", "invited_at"),
    ("relays", "created_at"),
    ("relays", "relayed_at"),
];

impl Store {
    /// The newest instant any write has stamped, or `None` for an empty
    /// database. Time recorded cannot have been in the future when it was
    /// written, so a wall clock behind it went backwards.
    pub async fn newest_instant(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let parts: Vec<String> = STAMPS
            .iter()
            .map(|(table, column)| format!("SELECT MAX({column}) AS t FROM {table}"))
            .collect();
        let sql = format!(
            "SELECT MAX(t) FROM ({}) AS stamps",
            parts.join(" UNION ALL ")
        );
        let newest: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&self.pool)
            .await?;
        newest
            .map(|text| parse_time("newest recorded instant", &text))
            .transpose()
    }
}
