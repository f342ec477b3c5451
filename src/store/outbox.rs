//! The outbox: announcements, their deliveries, leases, recurring jobs.
//!
//! A delivery is claimed by one `UPDATE … RETURNING` that sets its state to
//! `sending`, a lease deadline and a new lease generation; a completion
//! names the generation it was claimed under, so a worker whose lease was
//! swept back (and perhaps claimed again) changes nothing.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError, WriteTx, parse_time};
use crate::clock::format_instant;
use crate::roster::{Email, MemberId, Role};

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

/// A member who may receive a sealed copy, with the key to seal for.
#[derive(Debug, Clone)]
pub struct Addressee {
    pub member_id: MemberId,
    pub email: Email,
    pub name: String,
    pub org: String,
    pub fingerprint: String,
    pub cert: Vec<u8>,
    pub cert_version: i64,
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

/// An announcement waiting to be sealed.
#[derive(Debug, Clone)]
pub struct PlannedAnnouncement {
    pub id: i64,
    pub kind: String,
    pub advisory_row: Option<i64>,
    pub revision: Option<u32>,
    pub due_at: DateTime<Utc>,
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
    pub member_status: Option<String>,
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
    pub kind: String,
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
    pub kind: String,
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

const STATES_LIVE: &str = "('queued', 'sending', 'sent', 'uncertain', 'failed', 'missed')";

fn time(value: DateTime<Utc>) -> String {
    format_instant(value)
}

fn parse_email(text: &str) -> Result<Email, StoreError> {
    Email::parse(text).map_err(|err| StoreError::Corrupt(format!("member email: {err}")))
}

fn addressee_rows(rows: Vec<sqlx::sqlite::SqliteRow>) -> Result<Vec<Addressee>, StoreError> {
    rows.iter()
        .map(|row| {
            Ok(Addressee {
                member_id: MemberId(row.try_get("id")?),
                email: parse_email(row.try_get("email")?)?,
                name: row.try_get("name")?,
                org: row.try_get("org")?,
                fingerprint: row.try_get("fingerprint")?,
                cert: row.try_get("cert")?,
                cert_version: row.try_get("version")?,
            })
        })
        .collect()
}

const ADDRESSEE: &str = "SELECT m.id, m.email, m.name, m.org, m.fingerprint, c.cert, c.version \
     FROM members m JOIN member_certs c ON c.member_id = m.id";

/// Whom an advisory kind is sealed for, batch by batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealAudience {
    /// Active members without a live copy of a notice, update or
    /// reminder: who still needs the notice.
    Untold,
    /// Active members who were told (a copy sent, in flight or perhaps
    /// sent): the audience of updates and cancellations.
    Told,
    /// Active members who have, or are about to get, the advisory (a
    /// notice or update queued, in flight, sent or perhaps sent): the
    /// audience of the reminder.
    Informed,
}

impl SealAudience {
    /// Whether members need (`true`) or must lack a copy of these kinds in
    /// these states.
    fn clause(self) -> (bool, &'static str, &'static str) {
        match self {
            SealAudience::Untold => (false, "('notice', 'update', 'reminder')", STATES_LIVE),
            SealAudience::Told => (
                true,
                "('notice', 'update', 'reminder')",
                "('sending', 'sent', 'uncertain')",
            ),
            SealAudience::Informed => (
                true,
                "('notice', 'update')",
                "('queued', 'sending', 'sent', 'uncertain')",
            ),
        }
    }
}

impl Store {
    /// The next `limit` members of `audience` after member id `after`,
    /// leaving out those who already have a copy of `announcement` (in
    /// any state): one batch of sealing work. A seal that stopped part
    /// way resumes from here, so nobody is sealed for twice.
    pub async fn audience_batch(
        &self,
        advisory_row: i64,
        audience: SealAudience,
        announcement: Option<i64>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Addressee>, StoreError> {
        let (with, kinds, states) = audience.clause();
        let exists = if with { "EXISTS" } else { "NOT EXISTS" };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{ADDRESSEE} WHERE m.status = 'active' AND m.id > ? AND {exists} ( \
               SELECT 1 FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
               WHERE d.member_id = m.id AND a.advisory_id = ? AND a.kind IN {kinds} \
               AND d.state IN {states}) \
             AND NOT EXISTS (SELECT 1 FROM deliveries d \
               WHERE d.announcement_id = ? AND d.member_id = m.id) \
             ORDER BY m.id LIMIT ?"
        )))
        .bind(after)
        .bind(advisory_row)
        .bind(announcement)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        addressee_rows(rows)
    }

    /// The announcement of `kind` for this advisory revision, if it
    /// exists.
    pub async fn find_announcement(
        &self,
        kind: &str,
        advisory_row: i64,
        revision: u32,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM announcements WHERE advisory_id = ? AND revision = ? AND kind = ?",
        )
        .bind(advisory_row)
        .bind(i64::from(revision))
        .bind(kind)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Active members who were told about this advisory (a copy sent, in
    /// flight, or perhaps sent).
    pub async fn told_members(&self, advisory_row: i64) -> Result<Vec<Addressee>, StoreError> {
        self.audience_batch(advisory_row, SealAudience::Told, None, 0, usize::MAX)
            .await
    }

    /// Active members who have, or are about to get, this advisory: a
    /// copy of a notice or update queued, in flight, sent or perhaps sent.
    pub async fn informed_members(&self, advisory_row: i64) -> Result<Vec<Addressee>, StoreError> {
        self.audience_batch(advisory_row, SealAudience::Informed, None, 0, usize::MAX)
            .await
    }

    /// Active members holding any of `roles` (stored as a comma-separated
    /// set).
    pub async fn members_with_roles(&self, roles: &[Role]) -> Result<Vec<Addressee>, StoreError> {
        let mut found = Vec::new();
        for role in roles {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "{ADDRESSEE} WHERE m.status = 'active' AND (',' || m.roles || ',') LIKE ? ORDER BY m.id"
            )))
            .bind(format!("%,{},%", role.as_str()))
            .fetch_all(&self.pool)
            .await?;
            found.extend(addressee_rows(rows)?);
        }
        found.sort_by_key(|a| a.member_id.0);
        found.dedup_by_key(|a| a.member_id.0);
        Ok(found)
    }

    /// One member as an addressee.
    pub async fn addressee(&self, member: MemberId) -> Result<Option<Addressee>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{ADDRESSEE} WHERE m.id = ?")))
            .bind(member.0)
            .fetch_all(&self.pool)
            .await?;
        Ok(addressee_rows(rows)?.pop())
    }

    /// Every active member as an addressee.
    pub async fn active_addressees(&self) -> Result<Vec<Addressee>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{ADDRESSEE} WHERE m.status = 'active' ORDER BY m.id"
        )))
        .fetch_all(&self.pool)
        .await?;
        addressee_rows(rows)
    }

    /// Announcements planned and due to be sealed by `until`.
    pub async fn planned_announcements(
        &self,
        until: DateTime<Utc>,
    ) -> Result<Vec<PlannedAnnouncement>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, advisory_id, revision, due_at FROM announcements \
             WHERE state = 'planned' AND due_at <= ? ORDER BY due_at, id",
        )
        .bind(time(until))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let revision: Option<i64> = row.try_get("revision")?;
                Ok(PlannedAnnouncement {
                    id: row.try_get("id")?,
                    kind: row.try_get("kind")?,
                    advisory_row: row.try_get("advisory_id")?,
                    revision: revision
                        .map(u32::try_from)
                        .transpose()
                        .map_err(|err| StoreError::Corrupt(format!("revision: {err}")))?,
                    due_at: parse_time("announcements.due_at", row.try_get("due_at")?)?,
                })
            })
            .collect()
    }

    /// Whether an announcement of `kind` for this advisory (any
    /// revision) has been sealed for its whole audience. One still being
    /// sealed, or left part way by a process that died, does not count.
    pub async fn has_sealed_announcement(
        &self,
        advisory_row: i64,
        kind: &str,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM announcements WHERE advisory_id = ? AND kind = ? \
             AND state = 'sealed' LIMIT 1",
        )
        .bind(advisory_row)
        .bind(kind)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// The earliest instant a queued copy is next due.
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let next: Option<String> = sqlx::query_scalar(
            "SELECT min(next_attempt_at) FROM deliveries WHERE state IN ('queued', 'uncertain') \
             AND next_attempt_at IS NOT NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        next.map(|text| parse_time("deliveries.next_attempt_at", &text))
            .transpose()
    }

    /// How many copies are waiting, due now, in flight, uncertain.
    pub async fn queue_counts(&self, now: DateTime<Utc>) -> Result<QueueCounts, StoreError> {
        let row = sqlx::query(
            "SELECT \
               coalesce(sum(state = 'queued'), 0) AS queued, \
               coalesce(sum(state IN ('queued', 'uncertain') AND next_attempt_at <= ?), 0) AS due, \
               coalesce(sum(state = 'sending'), 0) AS sending, \
               coalesce(sum(state = 'uncertain'), 0) AS uncertain \
             FROM deliveries WHERE state IN ('queued', 'sending', 'uncertain')",
        )
        .bind(time(now))
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
            "WHERE d.state IN ('queued', 'sending', 'uncertain', 'failed', 'missed')"
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT d.id, a.kind, adv.ident, a.revision, d.recipient, d.state, d.attempts, \
               d.due_at, d.next_attempt_at, d.last_reply, d.message_id \
             FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
             LEFT JOIN advisories adv ON adv.id = a.advisory_id {filter} ORDER BY d.id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let revision: Option<i64> = row.try_get("revision")?;
                Ok(QueueRow {
                    id: row.try_get("id")?,
                    kind: row.try_get("kind")?,
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
             AND a.kind != 'report' ORDER BY d.id LIMIT 1000",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let member: Option<i64> = row.try_get("member_id")?;
                Ok(Unreported {
                    id: row.try_get("id")?,
                    kind: row.try_get("kind")?,
                    advisory: row.try_get("ident")?,
                    member_id: member.map(MemberId),
                    recipient: row.try_get("recipient")?,
                    state: DeliveryState::parse(row.try_get("state")?)?,
                    reply: row.try_get("last_reply")?,
                })
            })
            .collect()
    }

    /// When a recurring job last ran.
    pub async fn job_last_run(&self, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let last: Option<String> =
            sqlx::query_scalar("SELECT last_run_at FROM jobs WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        last.map(|text| parse_time("jobs.last_run_at", &text))
            .transpose()
    }
}

fn sql_list(items: &[&str]) -> String {
    // Only ever called with our own constant kind names.
    let quoted: Vec<String> = items
        .iter()
        .map(|item| format!("'{}'", item.replace('\'', "")))
        .collect();
    format!("({})", quoted.join(", "))
}

impl WriteTx {
    /// The announcement of `kind` for this advisory revision, made (as
    /// `state`) if there is none yet.
    pub async fn advisory_announcement(
        &mut self,
        kind: &str,
        advisory_row: i64,
        revision: u32,
        due_at: DateTime<Utc>,
        state: &str,
    ) -> Result<i64, StoreError> {
        let existing: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM announcements WHERE advisory_id = ? AND revision = ? AND kind = ?",
        )
        .bind(advisory_row)
        .bind(i64::from(revision))
        .bind(kind)
        .fetch_optional(&mut *self.tx)
        .await?;
        if let Some(id) = existing {
            return Ok(id);
        }
        let id = sqlx::query_scalar(
            "INSERT INTO announcements (kind, advisory_id, revision, due_at, state, created_at) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(kind)
        .bind(advisory_row)
        .bind(i64::from(revision))
        .bind(time(due_at))
        .bind(state)
        .bind(time(self.now))
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(id)
    }

    /// A new announcement that names no advisory (member mail, reports).
    pub async fn other_announcement(
        &mut self,
        kind: &str,
        due_at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar(
            "INSERT INTO announcements (kind, due_at, state, created_at, sealed_at) \
             VALUES (?, ?, 'sealed', ?, ?) RETURNING id",
        )
        .bind(kind)
        .bind(time(due_at))
        .bind(time(self.now))
        .bind(time(self.now))
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(id)
    }

    /// Marks an announcement sealed, if it is still planned. Answers
    /// whether it was (a second sealer finds it already done).
    pub async fn mark_sealed(&mut self, announcement: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE announcements SET state = 'sealed', sealed_at = ? WHERE id = ? AND state != 'superseded'",
        )
        .bind(time(self.now))
        .bind(announcement)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Claims the sealing of `announcement` until `lease_until`, unless
    /// another process holds an unexpired claim or the announcement was
    /// superseded. Answers the claim's generation, which every later step
    /// names. One statement, so two processes can never both win.
    pub async fn claim_sealing(
        &mut self,
        announcement: i64,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "UPDATE announcements SET seal_gen = seal_gen + 1, seal_until = ? \
             WHERE id = ? AND state != 'superseded' AND (seal_until IS NULL OR seal_until <= ?) \
             RETURNING seal_gen",
        )
        .bind(time(lease_until))
        .bind(announcement)
        .bind(time(self.now))
        .fetch_optional(&mut *self.tx)
        .await?)
    }

    /// Extends a sealing claim before a batch is written. Answers false
    /// when the claim was taken over (its generation moved on) or the
    /// announcement was superseded: the batch must then be thrown away.
    pub async fn renew_sealing(
        &mut self,
        announcement: i64,
        generation: i64,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE announcements SET seal_until = ? \
             WHERE id = ? AND seal_gen = ? AND state != 'superseded'",
        )
        .bind(time(lease_until))
        .bind(announcement)
        .bind(generation)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Counts `copies` encrypted for `announcement` under this claim.
    pub async fn count_sealed(&mut self, announcement: i64, copies: u64) -> Result<(), StoreError> {
        sqlx::query("UPDATE announcements SET sealed_copies = sealed_copies + ? WHERE id = ?")
            .bind(i64::try_from(copies).unwrap_or(i64::MAX))
            .bind(announcement)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Ends a sealing claim; with `sealed`, the announcement is marked
    /// sealed too (its last batch is in this transaction).
    pub async fn end_sealing(
        &mut self,
        announcement: i64,
        generation: i64,
        sealed: bool,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE announcements SET seal_until = NULL, \
               state = CASE WHEN ? AND state = 'planned' THEN 'sealed' ELSE state END, \
               sealed_at = CASE WHEN ? AND state = 'planned' THEN ? ELSE sealed_at END \
             WHERE id = ? AND seal_gen = ?",
        )
        .bind(sealed)
        .bind(sealed)
        .bind(time(self.now))
        .bind(announcement)
        .bind(generation)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

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
                "INSERT OR IGNORE INTO deliveries (announcement_id, member_id, recipient, message_id, \
                   message, cert_version, state, due_at, next_attempt_at, last_reply, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            .execute(&mut *self.tx)
            .await?;
            written += done.rows_affected();
        }
        if written > 0 {
            self.adds_work = true;
        }
        Ok(written)
    }

    /// Plans an advisory announcement to be sealed by `due_at`.
    pub async fn plan_announcement(
        &mut self,
        kind: &str,
        advisory_row: i64,
        revision: u32,
        due_at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.adds_work = true;
        self.advisory_announcement(kind, advisory_row, revision, due_at, "planned")
            .await
    }

    /// Stops every copy of this advisory's `kinds` that has not gone out
    /// yet (queued, or waiting for an operator) and supersedes planned
    /// announcements of those kinds. Answers how many copies stopped.
    pub async fn drop_pending(
        &mut self,
        advisory_row: i64,
        kinds: &[&str],
        reason: &str,
    ) -> Result<u64, StoreError> {
        let kinds = sql_list(kinds);
        let dropped = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE deliveries SET state = 'dropped', next_attempt_at = NULL, message = NULL, \
               last_reply = ?, updated_at = ? \
             WHERE state IN ('queued', 'uncertain') AND announcement_id IN ( \
               SELECT id FROM announcements WHERE advisory_id = ? AND kind IN {kinds})"
        )))
        .bind(reason)
        .bind(time(self.now))
        .bind(advisory_row)
        .execute(&mut *self.tx)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE announcements SET state = 'superseded' \
             WHERE advisory_id = ? AND state = 'planned' AND kind IN {kinds}"
        )))
        .bind(advisory_row)
        .execute(&mut *self.tx)
        .await?;
        // Members who lost a copy may need a new one sealed.
        self.adds_work = true;
        Ok(dropped.rows_affected())
    }

    /// Forgets sealed-but-unsent reminders so a new disclosure time plans
    /// a new one.
    pub async fn supersede_reminders(&mut self, advisory_row: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE announcements SET state = 'superseded' WHERE advisory_id = ? AND kind = 'reminder' \
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.announcement_id = announcements.id \
               AND d.state IN ('sending', 'sent', 'uncertain'))",
        )
        .bind(advisory_row)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Claims up to `limit` copies due by `now` under a lease until
    /// `lease_until`. One statement: two workers can never hold one copy.
    pub async fn claim(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
        only_kind: Option<&str>,
    ) -> Result<Vec<Claimed>, StoreError> {
        let kind_filter = match only_kind {
            Some(kind) => format!(
                "AND announcement_id IN (SELECT id FROM announcements WHERE kind = '{}')",
                kind.replace('\'', "")
            ),
            None => String::new(),
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE deliveries SET state = 'sending', lease_gen = lease_gen + 1, lease_until = ?, \
               updated_at = ? \
             WHERE id IN (SELECT id FROM deliveries WHERE state IN ('queued', 'uncertain') \
               AND next_attempt_at IS NOT NULL AND next_attempt_at <= ? AND due_at <= ? {kind_filter} \
               ORDER BY next_attempt_at, id LIMIT ?) \
             RETURNING id, lease_gen, recipient, message_id, message, attempts, due_at, member_id, \
               cert_version, \
               (SELECT status FROM members WHERE id = deliveries.member_id) AS member_status, \
               (SELECT version FROM member_certs WHERE member_id = deliveries.member_id) AS cert_now"
        )))
        .bind(time(lease_until))
        .bind(time(now))
        .bind(time(now))
        .bind(time(now))
        .bind(i64::from(limit))
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
                    member_status: row.try_get("member_status")?,
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
        for completion in done {
            let sent = completion.state == DeliveryState::Sent;
            let result = sqlx::query(
                "UPDATE deliveries SET state = ?, next_attempt_at = ?, last_reply = ?, \
                   attempts = attempts + ?, lease_until = NULL, updated_at = ?, \
                   sent_at = CASE WHEN ? THEN ? ELSE sent_at END, \
                   message = CASE WHEN ? THEN NULL ELSE message END \
                 WHERE id = ? AND lease_gen = ? AND state = 'sending'",
            )
            .bind(completion.state.as_str())
            .bind(completion.next_attempt_at.map(time))
            .bind(&completion.reply)
            .bind(i64::from(completion.attempted))
            .bind(&now)
            .bind(sent)
            .bind(&now)
            .bind(sent || matches!(completion.state, DeliveryState::Dropped))
            .bind(completion.id)
            .bind(completion.lease_gen)
            .execute(&mut *self.tx)
            .await?;
            applied += result.rows_affected();
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
            "UPDATE deliveries SET state = 'queued', lease_until = NULL, updated_at = ?, \
               next_attempt_at = coalesce(next_attempt_at, due_at) \
             WHERE state = 'sending' AND (? OR lease_until IS NULL OR lease_until < ?)",
        )
        .bind(&now)
        .bind(all)
        .bind(&now)
        .execute(&mut *self.tx)
        .await?;
        Ok(result.rows_affected())
    }

    /// Releases copies this worker claimed but never started.
    pub async fn release(&mut self, claims: &[(i64, i64)]) -> Result<(), StoreError> {
        for (id, lease_gen) in claims {
            sqlx::query(
                "UPDATE deliveries SET state = 'queued', lease_until = NULL \
                 WHERE id = ? AND lease_gen = ? AND state = 'sending'",
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
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM deliveries WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?;
        let Some(state) = state else { return Ok(None) };
        let state = DeliveryState::parse(&state)?;
        let has_message: bool =
            sqlx::query_scalar("SELECT message IS NOT NULL FROM deliveries WHERE id = ?")
                .bind(id)
                .fetch_one(&mut *self.tx)
                .await?;
        if matches!(
            state,
            DeliveryState::Failed | DeliveryState::Uncertain | DeliveryState::Queued
        ) && has_message
        {
            sqlx::query(
                "UPDATE deliveries SET state = CASE WHEN state = 'failed' THEN 'queued' ELSE state END, \
                   next_attempt_at = ?, reported = 0, updated_at = ? WHERE id = ?",
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
        reason: &str,
    ) -> Result<Option<DeliveryState>, StoreError> {
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM deliveries WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?;
        let Some(state) = state else { return Ok(None) };
        let state = DeliveryState::parse(&state)?;
        if matches!(state, DeliveryState::Queued | DeliveryState::Uncertain) {
            sqlx::query(
                "UPDATE deliveries SET next_attempt_at = NULL, last_reply = ?, updated_at = ? WHERE id = ?",
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
            sqlx::query("UPDATE deliveries SET reported = 1 WHERE id = ?")
                .bind(id)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Records that a recurring job ran (or, the first time, when its
    /// schedule starts).
    pub async fn set_job_run(&mut self, name: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO jobs (name, last_run_at) VALUES (?, ?) \
             ON CONFLICT (name) DO UPDATE SET last_run_at = excluded.last_run_at",
        )
        .bind(name)
        .bind(time(at))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Sets or clears the hold on an advisory's automatic disclosure.
    pub async fn set_hold(
        &mut self,
        advisory_row: i64,
        hold: Option<(DateTime<Utc>, &str)>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE advisories SET hold_until = ?, hold_reason = ?, updated_at = ? WHERE id = ?",
        )
        .bind(hold.map(|(until, _)| time(until)))
        .bind(hold.map(|(_, reason)| reason.to_owned()))
        .bind(time(self.now))
        .bind(advisory_row)
        .execute(&mut *self.tx)
        .await?;
        // The disclosure moved: the daemon's next due time did too.
        self.adds_work = true;
        Ok(())
    }
}
