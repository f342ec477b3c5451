//! The outbox's deliveries: one copy per recipient of an announcement,
//! its state, its lease and its attempts.
//!
//! A delivery is claimed by one `UPDATE … RETURNING` that sets its state to
//! `sending`, a lease deadline and a new lease generation; a completion
//! names the generation it was claimed under, so a worker whose lease was
//! swept back (and perhaps claimed again) changes nothing.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::announcements::{kind_word, parse_kind};
use super::{Dialect, Store, StoreError, WriteTx, parse_time};
use crate::clock::format_instant;
use crate::compose::Kind;
use crate::roster::{MemberId, Status};

/// Where a copy stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Waiting for its time (or its next attempt).
    Queued,
    /// Claimed by a worker under a lease.
    Sending,
    Sent,
    /// The server went silent after the end of DATA.
    Uncertain,
    /// Refused for good, or given up.
    Failed,
    /// The member's key could not be used; they get `missed` instead.
    Missed,
    /// Not sent, on purpose: superseded, or the member left.
    Dropped,
}

crate::names::named_enum! {
    /// The state as stored in the `state` column and shown.
    pub fn as_str for DeliveryState, "delivery state" {
        Queued => "queued",
        Sending => "sending",
        Sent => "sent",
        Uncertain => "uncertain",
        Failed => "failed",
        Missed => "missed",
        Dropped => "dropped",
    }
}

impl DeliveryState {
    /// Reads the `state` column; anything else there is a corrupt row.
    fn parse(text: &str) -> Result<Self, StoreError> {
        text.parse()
            .map_err(|_| StoreError::Corrupt(format!("delivery state {text:?}")))
    }
}

/// A copy to write into the outbox.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub member_id: Option<MemberId>,
    pub recipient: String,
    pub message_id: String,
    /// The sealed message; `None` for a missed copy.
    pub message: Option<Vec<u8>>,
    pub cert_version: Option<i64>,
    /// `Queued`, or `Missed` with the reason in `reply`.
    pub state: DeliveryState,
    pub reply: Option<String>,
}

/// A copy a worker now holds under a lease.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub lease_gen: i64,
    pub recipient: String,
    pub message_id: String,
    pub message: Vec<u8>,
    pub attempts: i64,
    pub due_at: DateTime<Utc>,
    pub member_id: Option<MemberId>,
    /// The member's status now (`None` for a public address).
    pub member_status: Option<Status>,
    pub cert_version_sealed: Option<i64>,
    pub cert_version_now: Option<i64>,
}

/// How a claimed copy ended this attempt.
#[derive(Debug, Clone)]
pub struct Completion {
    pub id: i64,
    pub lease_gen: i64,
    pub state: DeliveryState,
    /// When to try again (`Queued`/`Uncertain`); `None` waits for an
    /// operator.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub reply: String,
    /// Whether this attempt counts (a copy dropped at the last moment
    /// was not attempted).
    pub attempted: bool,
}

/// One row of `embargo queue list`.
#[derive(Debug, Clone, Serialize)]
pub struct QueueRow {
    pub id: i64,
    pub kind: Kind,
    pub advisory: Option<String>,
    pub revision: Option<u32>,
    pub recipient: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub due_at: String,
    pub next_attempt_at: Option<String>,
    pub last_reply: Option<String>,
    pub message_id: String,
}

/// A failed, uncertain or missed copy maintainers have not been told of.
#[derive(Debug, Clone)]
pub struct Unreported {
    pub id: i64,
    pub kind: Kind,
    pub advisory: Option<String>,
    pub member_id: Option<MemberId>,
    pub recipient: String,
    pub state: DeliveryState,
    pub reply: Option<String>,
}

/// What the outbox holds, by state.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QueueCounts {
    pub queued: i64,
    pub due: i64,
    pub sending: i64,
    pub uncertain: i64,
}

/// A member's `status` read back: only the exact word it is written as.
fn parse_status(text: &str) -> Result<Status, StoreError> {
    text.parse::<Status>()
        .ok()
        .filter(|status| status.as_str() == text)
        .ok_or_else(|| StoreError::Corrupt(format!("member status {text:?}")))
}

/// How many completions one statement records (eight parameters each).
const COMPLETE_CHUNK: usize = 250;

fn time(value: DateTime<Utc>) -> String {
    format_instant(value)
}

impl Store {
    /// The earliest instant a queued copy is next due.
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let next: Option<String> = sqlx::query_scalar(
            "SELECT min(next_attempt_at) FROM deliveries WHERE state IN ('queued', 'uncertain') \
             AND next_attempt_at IS NOT NULL AND list_id = $1",
        )
        .bind(self.list)
        .fetch_one(&self.pool)
        .await?;
        next.map(|text| parse_time("deliveries.next_attempt_at", &text))
            .transpose()
    }

    /// How many copies are waiting, due now, in flight, uncertain.
    pub async fn queue_counts(&self, now: DateTime<Utc>) -> Result<QueueCounts, StoreError> {
        let row = sqlx::query(
            "SELECT \
               CAST(coalesce(sum(CASE WHEN state = 'queued' THEN 1 ELSE 0 END), 0) AS BIGINT) AS queued, \
               CAST(coalesce(sum(CASE WHEN state IN ('queued', 'uncertain') AND next_attempt_at <= $1 \
                 THEN 1 ELSE 0 END), 0) AS BIGINT) AS due, \
               CAST(coalesce(sum(CASE WHEN state = 'sending' THEN 1 ELSE 0 END), 0) AS BIGINT) AS sending, \
               CAST(coalesce(sum(CASE WHEN state = 'uncertain' THEN 1 ELSE 0 END), 0) AS BIGINT) AS uncertain \
             FROM deliveries WHERE state IN ('queued', 'sending', 'uncertain') AND list_id = $2",
        )
        .bind(time(now))
        .bind(self.list)
        .fetch_one(&self.pool)
        .await?;
        Ok(QueueCounts {
            queued: row.try_get("queued")?,
            due: row.try_get("due")?,
            sending: row.try_get("sending")?,
            uncertain: row.try_get("uncertain")?,
        })
    }

    /// The outbox for `embargo queue list`: copies not yet settled, or
    /// every copy with `all`.
    pub async fn queue(&self, all: bool) -> Result<Vec<QueueRow>, StoreError> {
        let filter = if all {
            ""
        } else {
            "AND d.state IN ('queued', 'sending', 'uncertain', 'failed', 'missed')"
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT d.id, a.kind, adv.ident, a.revision, d.recipient, d.state, d.attempts, \
               d.due_at, d.next_attempt_at, d.last_reply, d.message_id \
             FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
             LEFT JOIN advisories adv ON adv.id = a.advisory_id \
             WHERE d.list_id = $1 {filter} ORDER BY d.id"
        )))
        .bind(self.list)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let revision: Option<i64> = row.try_get("revision")?;
                Ok(QueueRow {
                    id: row.try_get("id")?,
                    kind: parse_kind(row.try_get("kind")?)?,
                    advisory: row.try_get("ident")?,
                    revision: revision.and_then(|r| u32::try_from(r).ok()),
                    recipient: row.try_get("recipient")?,
                    state: DeliveryState::parse(row.try_get("state")?)?,
                    attempts: row.try_get("attempts")?,
                    due_at: row.try_get("due_at")?,
                    next_attempt_at: row.try_get("next_attempt_at")?,
                    last_reply: row.try_get("last_reply")?,
                    message_id: row.try_get("message_id")?,
                })
            })
            .collect()
    }

    /// Failed, uncertain and missed copies maintainers have not heard of.
    pub async fn unreported(&self) -> Result<Vec<Unreported>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.id, a.kind, adv.ident, d.member_id, d.recipient, d.state, d.last_reply \
             FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
             LEFT JOIN advisories adv ON adv.id = a.advisory_id \
             WHERE d.reported = 0 AND d.state IN ('failed', 'uncertain', 'missed') \
             AND a.kind != $1 AND d.list_id = $2 ORDER BY d.id LIMIT 1000",
        )
        .bind(kind_word(Kind::Report))
        .bind(self.list)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let member: Option<i64> = row.try_get("member_id")?;
                Ok(Unreported {
                    id: row.try_get("id")?,
                    kind: parse_kind(row.try_get("kind")?)?,
                    advisory: row.try_get("ident")?,
                    member_id: member.map(MemberId),
                    recipient: row.try_get("recipient")?,
                    state: DeliveryState::parse(row.try_get("state")?)?,
                    reply: row.try_get("last_reply")?,
                })
            })
            .collect()
    }
}

impl WriteTx {
    /// Writes sealed copies of an announcement. A copy for a recipient
    /// that already has one is skipped; answers how many were written.
    pub async fn insert_deliveries(
        &mut self,
        announcement: i64,
        due_at: DateTime<Utc>,
        copies: &[NewDelivery],
    ) -> Result<u64, StoreError> {
        let now = time(self.now);
        let due = time(due_at);
        let mut written = 0;
        for copy in copies {
            let next = (copy.state == DeliveryState::Queued).then(|| due.clone());
            let done = sqlx::query(
                "INSERT INTO deliveries (announcement_id, member_id, recipient, message_id, \
                   message, cert_version, state, due_at, next_attempt_at, last_reply, created_at, updated_at, \
                   list_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (announcement_id, recipient) DO NOTHING",
            )
            .bind(announcement)
            .bind(copy.member_id.map(|m| m.0))
            .bind(&copy.recipient)
            .bind(&copy.message_id)
            .bind(copy.message.as_deref())
            .bind(copy.cert_version)
            .bind(copy.state.as_str())
            .bind(&due)
            .bind(next)
            .bind(copy.reply.as_deref())
            .bind(&now)
            .bind(&now)
            .bind(self.list)
            .execute(&mut *self.tx)
            .await?;
            written += done.rows_affected();
        }
        if written > 0 {
            self.adds_work = true;
        }
        Ok(written)
    }

    /// Claims up to `limit` copies due by `now` under a lease until
    /// `lease_until`. One statement: two workers can never hold one copy.
    pub async fn claim(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
        only_kind: Option<Kind>,
    ) -> Result<Vec<Claimed>, StoreError> {
        // With no kind, `$4 IS NULL` lets a copy of any kind through. On
        // PostgreSQL, where several daemons may claim at once, rows another
        // transaction has locked are skipped rather than waited for (SQLite
        // has one writer at a time and no row locks).
        let lock = match self.dialect {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE deliveries SET state = 'sending', lease_gen = lease_gen + 1, lease_until = $1, \
               updated_at = $2 \
             WHERE id IN (SELECT id FROM deliveries WHERE state IN ('queued', 'uncertain') \
               AND next_attempt_at IS NOT NULL AND next_attempt_at <= $2 AND due_at <= $2 \
               AND ($4 IS NULL OR announcement_id IN (SELECT id FROM announcements WHERE kind = $4)) \
               AND list_id = $5 ORDER BY next_attempt_at, id LIMIT $3{lock}) \
             RETURNING id, lease_gen, recipient, message_id, message, attempts, due_at, member_id, \
               cert_version, \
               (SELECT status FROM members WHERE id = deliveries.member_id) AS member_status, \
               (SELECT version FROM member_certs WHERE member_id = deliveries.member_id) AS cert_now"
        )))
        .bind(time(lease_until))
        .bind(time(now))
        .bind(i64::from(limit))
        .bind(only_kind.map(kind_word))
        .bind(self.list)
        .fetch_all(&mut *self.tx)
        .await?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                let member: Option<i64> = row.try_get("member_id")?;
                let message: Option<Vec<u8>> = row.try_get("message")?;
                Ok(Claimed {
                    id: row.try_get("id")?,
                    lease_gen: row.try_get("lease_gen")?,
                    recipient: row.try_get("recipient")?,
                    message_id: row.try_get("message_id")?,
                    message: message.ok_or_else(|| {
                        StoreError::Corrupt("a queued copy has no message".to_owned())
                    })?,
                    attempts: row.try_get("attempts")?,
                    due_at: parse_time("deliveries.due_at", row.try_get("due_at")?)?,
                    member_id: member.map(MemberId),
                    member_status: row
                        .try_get::<Option<&str>, _>("member_status")?
                        .map(parse_status)
                        .transpose()?,
                    cert_version_sealed: row.try_get("cert_version")?,
                    cert_version_now: row.try_get("cert_now")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    /// Records how claimed copies ended. A completion whose lease
    /// generation no longer matches changes nothing; answers how many
    /// took effect.
    pub async fn complete(&mut self, done: &[Completion]) -> Result<u64, StoreError> {
        let now = time(self.now);
        let mut applied = 0;
        // One statement per chunk, not one per copy: on PostgreSQL each
        // statement is a round trip, and a fan-out records thousands.
        for chunk in done.chunks(COMPLETE_CHUNK) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p = 2 + i * 8;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                        p,
                        p + 1,
                        p + 2,
                        p + 3,
                        p + 4,
                        p + 5,
                        p + 6,
                        p + 7
                    )
                })
                .collect();
            // VALUES columns are column1… on both SQLite and PostgreSQL:
            // id, lease generation, state, next attempt, reply, attempted,
            // sent, message cleared.
            let sql = format!(
                "UPDATE deliveries SET state = v.column3, next_attempt_at = v.column4, \
                   last_reply = v.column5, attempts = attempts + v.column6, lease_until = NULL, \
                   updated_at = $1, \
                   sent_at = CASE WHEN v.column7 = 1 THEN $1 ELSE sent_at END, \
                   message = CASE WHEN v.column8 = 1 THEN NULL ELSE message END \
                 FROM (VALUES {}) AS v \
                 WHERE deliveries.id = v.column1 AND deliveries.lease_gen = v.column2 \
                   AND deliveries.state = 'sending'",
                rows.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&now);
            for completion in chunk {
                let sent = completion.state == DeliveryState::Sent;
                let cleared = sent || matches!(completion.state, DeliveryState::Dropped);
                query = query
                    .bind(completion.id)
                    .bind(completion.lease_gen)
                    .bind(completion.state.as_str())
                    .bind(completion.next_attempt_at.map(time))
                    .bind(completion.reply.clone())
                    .bind(i64::from(completion.attempted))
                    .bind(i64::from(sent))
                    .bind(i64::from(cleared));
            }
            applied += query.execute(&mut *self.tx).await?.rows_affected();
        }
        Ok(applied)
    }

    /// Returns claimed copies to the queue: every lease with `all` (at
    /// start-up, when the daemon's lock proves no one else holds one),
    /// else only expired ones. The copy keeps its Message-ID, so one that
    /// did reach the server before the crash is recognisably the same.
    pub async fn sweep_leases(&mut self, all: bool) -> Result<u64, StoreError> {
        let now = time(self.now);
        let result = sqlx::query(
            "UPDATE deliveries SET state = 'queued', lease_until = NULL, updated_at = $1, \
               next_attempt_at = coalesce(next_attempt_at, due_at) \
             WHERE state = 'sending' AND ($2 OR lease_until IS NULL OR lease_until < $3) \
             AND list_id = $4",
        )
        .bind(&now)
        .bind(all)
        .bind(&now)
        .bind(self.list)
        .execute(&mut *self.tx)
        .await?;
        Ok(result.rows_affected())
    }

    /// Releases copies this worker claimed but never started.
    pub async fn release(&mut self, claims: &[(i64, i64)]) -> Result<(), StoreError> {
        for (id, lease_gen) in claims {
            sqlx::query(
                "UPDATE deliveries SET state = 'queued', lease_until = NULL \
                 WHERE id = $1 AND lease_gen = $2 AND state = 'sending'",
            )
            .bind(id)
            .bind(lease_gen)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    /// An operator's retry or release of one copy: due again now. Only a
    /// failed or uncertain copy (or a queued one waiting for an
    /// operator) can be sent again. Answers the state it was in.
    pub async fn requeue(&mut self, id: i64) -> Result<Option<DeliveryState>, StoreError> {
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM deliveries WHERE id = $1 AND list_id = $2")
                .bind(id)
                .bind(self.list)
                .fetch_optional(&mut *self.tx)
                .await?;
        let Some(state) = state else { return Ok(None) };
        let state = DeliveryState::parse(&state)?;
        let has_message: i64 = sqlx::query_scalar(
            "SELECT CASE WHEN message IS NULL THEN 0 ELSE 1 END FROM deliveries WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut *self.tx)
        .await?;
        let has_message = has_message != 0;
        if matches!(
            state,
            DeliveryState::Failed | DeliveryState::Uncertain | DeliveryState::Queued
        ) && has_message
        {
            sqlx::query(
                "UPDATE deliveries SET state = CASE WHEN state = 'failed' THEN 'queued' ELSE state END, \
                   next_attempt_at = $1, reported = 0, updated_at = $2 WHERE id = $3",
            )
            .bind(time(self.now))
            .bind(time(self.now))
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
            self.adds_work = true;
        }
        Ok(Some(state))
    }

    /// Holds one queued or uncertain copy for an operator.
    pub async fn hold_delivery(
        &mut self,
        id: i64,
        reason: &crate::text::Reason,
    ) -> Result<Option<DeliveryState>, StoreError> {
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM deliveries WHERE id = $1 AND list_id = $2")
                .bind(id)
                .bind(self.list)
                .fetch_optional(&mut *self.tx)
                .await?;
        let Some(state) = state else { return Ok(None) };
        let state = DeliveryState::parse(&state)?;
        if matches!(state, DeliveryState::Queued | DeliveryState::Uncertain) {
            sqlx::query(
                "UPDATE deliveries SET next_attempt_at = NULL, last_reply = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(format!("held by an operator: {reason}"))
            .bind(time(self.now))
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(Some(state))
    }

    /// Marks copies as reported to maintainers.
    pub async fn mark_reported(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        for id in ids {
            sqlx::query("UPDATE deliveries SET reported = 1 WHERE id = $1")
                .bind(id)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }
}
