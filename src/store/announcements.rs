//! Announcements: one per advisory kind and revision (or per kind of
//! other mail), planned for a time, claimed for sealing under a lease with
//! a generation, marked sealed; and the recurring jobs' last runs and an
//! advisory's hold, which move what the scheduler plans.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Dialect, Store, StoreError, WriteTx, parse_time};
use crate::clock::format_instant as time;
use crate::compose::Kind;

/// An announcement waiting to be sealed.
#[derive(Debug, Clone)]
pub struct PlannedAnnouncement {
    pub id: i64,
    pub kind: Kind,
    pub advisory_row: Option<i64>,
    pub revision: Option<u32>,
    pub due_at: DateTime<Utc>,
}

/// Where an announcement stands: planned (to be sealed), sealed for its
/// whole audience, or superseded before it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnouncementState {
    Planned,
    Sealed,
    Superseded,
}

crate::names::named_enum! {
    /// The state as stored in the `state` column.
    pub fn as_str for AnnouncementState, "announcement state" {
        Planned => "planned",
        Sealed => "sealed",
        Superseded => "superseded",
    }
}

/// The word an announcement's `kind` column holds for `kind`: its name.
/// Rows already written hold these words, so a template cannot be renamed
/// without a migration (`kind_tests` pins them).
pub(super) fn kind_word(kind: Kind) -> &'static str {
    kind.name()
}

/// A `kind` column read back. Only the exact word a kind is written as
/// counts (the name parser also takes `Notice`, as typed by a person):
/// anything else means the database was changed behind embargo's back.
pub(super) fn parse_kind(text: &str) -> Result<Kind, StoreError> {
    Kind::ALL
        .into_iter()
        .find(|kind| kind_word(*kind) == text)
        .ok_or_else(|| StoreError::Corrupt(format!("announcement kind {text:?}")))
}

/// An SQL list `('notice', 'update')` of kinds, for `kind IN …`. Built
/// only from the enum's own names, which hold no quote.
pub(super) fn kind_list(kinds: &[Kind]) -> String {
    let quoted: Vec<String> = kinds
        .iter()
        .map(|kind| format!("'{}'", kind_word(*kind)))
        .collect();
    format!("({})", quoted.join(", "))
}

/// One planned announcement read back; an unreadable one names its id.
fn planned_row(row: &sqlx::any::AnyRow) -> Result<PlannedAnnouncement, StoreError> {
    let id: i64 = row.try_get("id")?;
    let in_row = |err: StoreError| match err {
        StoreError::Corrupt(detail) => StoreError::Corrupt(format!("{detail} (announcement {id})")),
        other => other,
    };
    let revision: Option<i64> = row.try_get("revision")?;
    Ok(PlannedAnnouncement {
        id,
        kind: parse_kind(row.try_get("kind")?).map_err(in_row)?,
        advisory_row: row.try_get("advisory_id")?,
        revision: revision
            .map(u32::try_from)
            .transpose()
            .map_err(|err| StoreError::Corrupt(format!("revision: {err} (announcement {id})")))?,
        due_at: parse_time("announcements.due_at", row.try_get("due_at")?).map_err(in_row)?,
    })
}

impl Store {
    /// The announcement of `kind` for this advisory revision, if it
    /// exists.
    pub async fn find_announcement(
        &self,
        kind: Kind,
        advisory_row: i64,
        revision: u32,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM announcements WHERE advisory_id = $1 AND revision = $2 AND kind = $3",
        )
        .bind(advisory_row)
        .bind(i64::from(revision))
        .bind(kind_word(kind))
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Announcements planned and due to be sealed by `until`. A row that
    /// cannot be read (a kind no version wrote) is its own `Corrupt`,
    /// naming its id, so it holds back no other announcement.
    pub async fn planned_announcements(
        &self,
        until: DateTime<Utc>,
    ) -> Result<Vec<Result<PlannedAnnouncement, StoreError>>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, advisory_id, revision, due_at FROM announcements \
             WHERE state = 'planned' AND due_at <= $1 AND list_id = $2 ORDER BY due_at, id",
        )
        .bind(time(until))
        .bind(self.list)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(planned_row).collect())
    }

    /// Whether an announcement of `kind` for this advisory (any
    /// revision) has been sealed for its whole audience. One still being
    /// sealed, or left part way by a process that died, does not count.
    pub async fn has_sealed_announcement(
        &self,
        advisory_row: i64,
        kind: Kind,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM announcements WHERE advisory_id = $1 AND kind = $2 \
             AND state = 'sealed' LIMIT 1",
        )
        .bind(advisory_row)
        .bind(kind_word(kind))
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// When a recurring job last ran.
    pub async fn job_last_run(&self, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let last: Option<String> =
            sqlx::query_scalar("SELECT last_run_at FROM jobs WHERE name = $1 AND list_id = $2")
                .bind(name)
                .bind(self.list)
                .fetch_optional(&self.pool)
                .await?;
        last.map(|text| parse_time("jobs.last_run_at", &text))
            .transpose()
    }
}

impl WriteTx {
    /// The announcement of `kind` for this advisory revision, made (as
    /// `state`) if there is none yet.
    pub async fn advisory_announcement(
        &mut self,
        kind: Kind,
        advisory_row: i64,
        revision: u32,
        due_at: DateTime<Utc>,
        state: AnnouncementState,
    ) -> Result<i64, StoreError> {
        let existing: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM announcements WHERE advisory_id = $1 AND revision = $2 AND kind = $3",
        )
        .bind(advisory_row)
        .bind(i64::from(revision))
        .bind(kind_word(kind))
        .fetch_optional(&mut *self.tx)
        .await?;
        if let Some(id) = existing {
            return Ok(id);
        }
        let id = sqlx::query_scalar(
            "INSERT INTO announcements (kind, advisory_id, revision, due_at, state, created_at, \
             list_id) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(kind_word(kind))
        .bind(advisory_row)
        .bind(i64::from(revision))
        .bind(time(due_at))
        .bind(state.as_str())
        .bind(time(self.now))
        .bind(self.list)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(id)
    }

    /// A new announcement that names no advisory (member mail, reports).
    pub async fn other_announcement(
        &mut self,
        kind: Kind,
        due_at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar(
            "INSERT INTO announcements (kind, due_at, state, created_at, sealed_at, list_id) \
             VALUES ($1, $2, 'sealed', $3, $4, $5) RETURNING id",
        )
        .bind(kind_word(kind))
        .bind(time(due_at))
        .bind(time(self.now))
        .bind(time(self.now))
        .bind(self.list)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(id)
    }

    /// Marks an announcement sealed, if it is still planned. Answers
    /// whether it was (a second sealer finds it already done).
    pub async fn mark_sealed(&mut self, announcement: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE announcements SET state = 'sealed', sealed_at = $1 WHERE id = $2 AND state != 'superseded'",
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
        // On PostgreSQL a row another transaction has locked is skipped
        // (no claim) rather than waited for, as with delivery claims.
        let target = match self.dialect {
            Dialect::Sqlite => "id = $2",
            Dialect::Postgres => {
                "id IN (SELECT id FROM announcements WHERE id = $2 FOR UPDATE SKIP LOCKED)"
            }
        };
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "UPDATE announcements SET seal_gen = seal_gen + 1, seal_until = $1 \
             WHERE {target} AND state != 'superseded' AND (seal_until IS NULL OR seal_until <= $3) \
             RETURNING seal_gen"
        )))
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
            "UPDATE announcements SET seal_until = $1 \
             WHERE id = $2 AND seal_gen = $3 AND state != 'superseded'",
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
        sqlx::query("UPDATE announcements SET sealed_copies = sealed_copies + $1 WHERE id = $2")
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
               state = CASE WHEN $1 AND state = 'planned' THEN 'sealed' ELSE state END, \
               sealed_at = CASE WHEN $2 AND state = 'planned' THEN $3 ELSE sealed_at END \
             WHERE id = $4 AND seal_gen = $5",
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

    /// Plans an advisory announcement to be sealed by `due_at`.
    pub async fn plan_announcement(
        &mut self,
        kind: Kind,
        advisory_row: i64,
        revision: u32,
        due_at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.adds_work = true;
        self.advisory_announcement(
            kind,
            advisory_row,
            revision,
            due_at,
            AnnouncementState::Planned,
        )
        .await
    }

    /// Stops every copy of this advisory's `kinds` that has not gone out
    /// yet (queued, or waiting for an operator) and supersedes planned
    /// announcements of those kinds. Answers how many copies stopped.
    pub async fn drop_pending(
        &mut self,
        advisory_row: i64,
        kinds: &[Kind],
        reason: &str,
    ) -> Result<u64, StoreError> {
        let kinds = kind_list(kinds);
        let dropped = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE deliveries SET state = 'dropped', next_attempt_at = NULL, message = NULL, \
               last_reply = $1, updated_at = $2 \
             WHERE state IN ('queued', 'uncertain') AND announcement_id IN ( \
               SELECT id FROM announcements WHERE advisory_id = $3 AND kind IN {kinds})"
        )))
        .bind(reason)
        .bind(time(self.now))
        .bind(advisory_row)
        .execute(&mut *self.tx)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE announcements SET state = 'superseded' \
             WHERE advisory_id = $1 AND state = 'planned' AND kind IN {kinds}"
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
            "UPDATE announcements SET state = 'superseded' WHERE advisory_id = $1 AND kind = $2 \
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.announcement_id = announcements.id \
               AND d.state IN ('sending', 'sent', 'uncertain'))",
        )
        .bind(advisory_row)
        .bind(kind_word(Kind::Reminder))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Records that a recurring job ran (or, the first time, when its
    /// schedule starts).
    pub async fn set_job_run(&mut self, name: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO jobs (name, last_run_at, list_id) VALUES ($1, $2, $3) \
             ON CONFLICT (list_id, name) DO UPDATE SET last_run_at = excluded.last_run_at",
        )
        .bind(name)
        .bind(time(at))
        .bind(self.list)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Sets or clears the hold on an advisory's automatic disclosure.
    pub async fn set_hold(
        &mut self,
        advisory_row: i64,
        hold: Option<(DateTime<Utc>, &crate::text::Reason)>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE advisories SET hold_until = $1, hold_reason = $2, updated_at = $3 \
             WHERE id = $4 AND list_id = $5",
        )
        .bind(hold.map(|(until, _)| time(until)))
        .bind(hold.map(|(_, reason)| reason.as_str().to_owned()))
        .bind(time(self.now))
        .bind(advisory_row)
        .bind(self.list)
        .execute(&mut *self.tx)
        .await?;
        // The disclosure moved: the daemon's next due time did too.
        self.adds_work = true;
        Ok(())
    }
}
