//! The foundation's observers (instance-wide, no list of their own) and
//! the counts their report is made of.
//!
//! The counts span every list on purpose: they are the instance's view.
//! They read only numbers, states and instants; an advisory's content is
//! read for its disclosure time alone and never leaves this module.
//! Every statement is plain SQL both SQLite and PostgreSQL take
//! (`COUNT`, `GROUP BY`, `EXISTS`); instants are fixed-width RFC 3339
//! text, so comparing them as text compares the instants.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::announcements::{kind_list, kind_word};
use super::{DeliveryState, ListId, Store, StoreError, WriteTx, parse_time};
use crate::advisory::{Content, Status as AdvisoryStatus};
use crate::clock::format_instant;
use crate::compose::Kind;
use crate::roster::{Email, Status};

/// One observer as stored.
#[derive(Debug, Clone)]
pub struct ObserverRow {
    pub email: Email,
    pub fingerprint: String,
    /// The certificate as checked at import: public parts only.
    pub cert: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// One advisory's embargo: from its first notice to its disclosure (done,
/// or planned for one still open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbargoSpan {
    pub list: ListId,
    pub disclosed: bool,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// Every count the observers' report is made of, per list.
#[derive(Debug, Clone, Default)]
pub struct ReportCounts {
    pub members: Vec<(ListId, Status, u64)>,
    pub advisories: Vec<(ListId, AdvisoryStatus, u64)>,
    pub spans: Vec<EmbargoSpan>,
    /// Open advisories whose disclosure a maintainer holds past `now`.
    pub holds: Vec<(ListId, u64)>,
    /// Copies failed, uncertain or missed.
    pub copies: Vec<(ListId, DeliveryState, u64)>,
    /// (advisory, member) pairs past the acknowledgement clock.
    pub breaches: Vec<(ListId, u64)>,
}

fn observer_row(row: &sqlx::any::AnyRow) -> Result<ObserverRow, StoreError> {
    let email: String = row.try_get("email")?;
    let created: String = row.try_get("created_at")?;
    Ok(ObserverRow {
        email: Email::parse(&email)
            .map_err(|err| StoreError::Corrupt(format!("observer address {email:?}: {err}")))?,
        fingerprint: row.try_get("fingerprint")?,
        cert: row.try_get("cert")?,
        created_at: parse_time("observers.created_at", &created)?,
    })
}

fn count(row: &sqlx::any::AnyRow) -> Result<(ListId, u64), StoreError> {
    let list: i64 = row.try_get("list_id")?;
    let n: i64 = row.try_get("n")?;
    Ok((ListId(list), u64::try_from(n).unwrap_or(0)))
}

fn corrupt(what: &str) -> impl Fn(crate::names::UnknownName) -> StoreError + '_ {
    move |err| StoreError::Corrupt(format!("{what}: {err}"))
}

impl Store {
    /// Every observer, by address.
    pub async fn observers(&self) -> Result<Vec<ObserverRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT email, fingerprint, cert, created_at FROM observers ORDER BY email_norm",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(observer_row).collect()
    }

    /// The counts of every list at `now`; a member told about a notified
    /// advisory before `ack_cutoff` (so more than the acknowledgement
    /// clock ago) who has not answered is a breach.
    pub async fn report_counts(
        &self,
        now: DateTime<Utc>,
        ack_cutoff: DateTime<Utc>,
    ) -> Result<ReportCounts, StoreError> {
        let mut counts = ReportCounts::default();
        let grouped = |table: &str| {
            format!("SELECT list_id, status, COUNT(*) AS n FROM {table} GROUP BY list_id, status")
        };
        for row in sqlx::query(sqlx::AssertSqlSafe(grouped("members")))
            .fetch_all(&self.pool)
            .await?
        {
            let status: String = row.try_get("status")?;
            let (list, n) = count(&row)?;
            let status = status.parse().map_err(corrupt("member status"))?;
            counts.members.push((list, status, n));
        }
        for row in sqlx::query(sqlx::AssertSqlSafe(grouped("advisories")))
            .fetch_all(&self.pool)
            .await?
        {
            let status: String = row.try_get("status")?;
            let (list, n) = count(&row)?;
            let status = status.parse().map_err(corrupt("advisory status"))?;
            counts.advisories.push((list, status, n));
        }
        counts.holds = sqlx::query(
            "SELECT list_id, COUNT(*) AS n FROM advisories \
             WHERE status IN ('scheduled', 'notified') AND hold_until IS NOT NULL \
             AND hold_until > $1 GROUP BY list_id",
        )
        .bind(format_instant(now))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(count)
        .collect::<Result<_, _>>()?;
        for row in sqlx::query(
            "SELECT list_id, state AS status, COUNT(*) AS n FROM deliveries \
             WHERE state IN ('failed', 'uncertain', 'missed') GROUP BY list_id, state",
        )
        .fetch_all(&self.pool)
        .await?
        {
            let state: String = row.try_get("status")?;
            let (list, n) = count(&row)?;
            let state = state.parse().map_err(corrupt("delivery state"))?;
            counts.copies.push((list, state, n));
        }
        counts.breaches = self.ack_breaches(ack_cutoff).await?;
        counts.spans = self.embargo_spans().await?;
        Ok(counts)
    }

    /// Active members with a sent copy of a notified advisory (notice,
    /// update or reminder) from before `cutoff` and no answer.
    async fn ack_breaches(&self, cutoff: DateTime<Utc>) -> Result<Vec<(ListId, u64)>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT a.list_id AS list_id, COUNT(*) AS n FROM advisories a \
             JOIN members m ON m.list_id = a.list_id \
             WHERE a.status = 'notified' AND m.status = 'active' \
             AND EXISTS (SELECT 1 FROM deliveries d \
                 JOIN announcements n ON n.id = d.announcement_id \
                 WHERE n.advisory_id = a.id AND n.kind IN {told} AND d.member_id = m.id \
                 AND d.state = 'sent' AND d.sent_at < $1) \
             AND NOT EXISTS (SELECT 1 FROM acks k \
                 WHERE k.advisory_id = a.id AND k.member_id = m.id) \
             GROUP BY a.list_id",
            told = kind_list(&Kind::TOLD)
        )))
        .bind(format_instant(cutoff))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(count)
        .collect()
    }

    /// The embargo of every advisory that has had (or has planned) its
    /// first notice and is open or disclosed.
    async fn embargo_spans(&self) -> Result<Vec<EmbargoSpan>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.list_id AS list_id, a.status AS status, a.content AS content, \
             a.hold_until AS hold_until, a.updated_at AS updated_at, \
             COALESCE((SELECT MIN(n.due_at) FROM announcements n \
                 WHERE n.advisory_id = a.id AND n.kind = $1), a.announce_at) AS first_notice, \
             (SELECT MIN(n.due_at) FROM announcements n \
                 WHERE n.advisory_id = a.id AND n.kind = $2) AS disclosed_at \
             FROM advisories a WHERE a.status IN ('scheduled', 'notified', 'disclosed') \
             ORDER BY a.id",
        )
        .bind(kind_word(Kind::Notice))
        .bind(kind_word(Kind::Disclosure))
        .fetch_all(&self.pool)
        .await?;
        let mut spans = Vec::new();
        for row in rows {
            let Some(first): Option<String> = row.try_get("first_notice")? else {
                continue;
            };
            let status: String = row.try_get("status")?;
            let disclosed = status
                .parse::<AdvisoryStatus>()
                .map_err(corrupt("status"))?
                == AdvisoryStatus::Disclosed;
            let until = if disclosed {
                let at: Option<String> = row.try_get("disclosed_at")?;
                let at = match at {
                    Some(at) => at,
                    None => row.try_get("updated_at")?,
                };
                parse_time("disclosure", &at)?
            } else {
                let hold: Option<String> = row.try_get("hold_until")?;
                match hold {
                    Some(hold) => parse_time("advisories.hold_until", &hold)?,
                    None => {
                        let content: String = row.try_get("content")?;
                        serde_json::from_str::<Content>(&content)
                            .map_err(|err| StoreError::Corrupt(format!("advisory content: {err}")))?
                            .disclose_at
                    }
                }
            };
            spans.push(EmbargoSpan {
                list: ListId(row.try_get("list_id")?),
                disclosed,
                from: parse_time("first notice", &first)?,
                until,
            });
        }
        Ok(spans)
    }
}

impl WriteTx {
    /// Records an observer. The address must be free (the unique index
    /// refuses it otherwise).
    pub async fn insert_observer(
        &mut self,
        email: &Email,
        fingerprint: &str,
        cert: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO observers (email, email_norm, fingerprint, cert, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(email.as_str())
        .bind(email.normalized())
        .bind(fingerprint)
        .bind(cert)
        .bind(format_instant(self.now))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Whether `email` is an observer, read inside this transaction.
    pub async fn has_observer(&mut self, email: &Email) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM observers WHERE email_norm = $1")
                .bind(email.normalized())
                .fetch_optional(&mut *self.tx)
                .await?;
        Ok(found.is_some())
    }

    /// Removes an observer; answers whether there was one.
    pub async fn delete_observer(&mut self, email: &Email) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM observers WHERE email_norm = $1")
            .bind(email.normalized())
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stops this list's copies of the digest to `email` that have not
    /// gone out (queued, or uncertain and so due to be sent again), as
    /// for a member who left: a removed observer gets nothing more.
    /// Answers how many stopped.
    pub async fn drop_digests_to(&mut self, email: &Email) -> Result<u64, StoreError> {
        let dropped = sqlx::query(
            "UPDATE deliveries SET state = 'dropped', next_attempt_at = NULL, message = NULL, \
               last_reply = $1, updated_at = $2 \
             WHERE list_id = $3 AND lower(recipient) = $4 AND state IN ('queued', 'uncertain') \
             AND announcement_id IN (SELECT id FROM announcements WHERE kind = $5)",
        )
        .bind("not sent: no longer an observer")
        .bind(format_instant(self.now))
        .bind(self.list)
        .bind(email.normalized())
        .bind(kind_word(Kind::Digest))
        .execute(&mut *self.tx)
        .await?;
        Ok(dropped.rows_affected())
    }

    /// Moves job `name` of this list from its run at `last` to `now`, if
    /// no one moved it since: the one process that does runs the job, so
    /// several daemons run it once per instant.
    pub async fn claim_job(
        &mut self,
        name: &str,
        last: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET last_run_at = $1 WHERE list_id = $2 AND name = $3 AND last_run_at = $4",
        )
        .bind(format_instant(now))
        .bind(self.list)
        .bind(name)
        .bind(format_instant(last))
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two daemons serving the home list both read the digest's last run
    /// and both find it due: only the first to move the row may queue the
    /// digest, so the observers get one copy per instant, not two.
    #[tokio::test]
    async fn a_job_is_claimed_once_from_the_run_both_claimers_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::create(
            &super::super::Location::File(dir.path().join("jobs.sqlite")),
            std::time::Duration::from_secs(5),
        )
        .await
        .expect("create the store");
        let store = super::super::lists::test_list(&store, "jobs").await;
        let at = |text: &str| crate::clock::parse_instant(text).expect("instant");
        let (last, now) = (at("2026-06-01T12:00:00Z"), at("2026-06-08T08:00:00Z"));
        let mut tx = store.write(last).await.expect("write");
        tx.set_job_run("job", last)
            .await
            .expect("start the schedule");
        tx.commit().await.expect("commit");
        for (claimer, wins) in [(1, true), (2, false)] {
            let mut tx = store.write(now).await.expect("write");
            let claimed = tx.claim_job("job", last, now).await.expect("claim");
            tx.commit().await.expect("commit");
            assert_eq!(claimed, wins, "claimer {claimer}");
        }
        assert_eq!(store.job_last_run("job").await.expect("read"), Some(now));
    }
}
