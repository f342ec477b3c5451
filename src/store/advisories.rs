//! Advisory rows and their revisions.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, WriteTx, parse_time};
use crate::advisory::{Advisory, AdvisoryId, Change, Content, Status};
use crate::clock::format_instant;

/// An advisory with the key its Message-IDs are derived from.
#[derive(Debug, Clone)]
pub struct StoredAdvisory {
    /// The row id the outbox refers to.
    pub row: i64,
    pub advisory: Advisory,
    pub message_key: String,
    /// A maintainer's hold on the automatic disclosure: until when, and why.
    pub hold: Option<(DateTime<Utc>, String)>,
}

const SELECT: &str = "SELECT id, ident, status, revision, content, announce_at, message_key, created_at, \
     updated_at, hold_until, hold_reason FROM advisories";

fn from_row(row: &AnyRow) -> Result<StoredAdvisory, StoreError> {
    let corrupt = |what: &str, err: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("advisory {what}: {err}"))
    };
    let ident: String = row.try_get("ident")?;
    let status: String = row.try_get("status")?;
    let revision: i64 = row.try_get("revision")?;
    let content: String = row.try_get("content")?;
    let announce_at: Option<String> = row.try_get("announce_at")?;
    let created_at: String = row.try_get("created_at")?;
    let updated_at: String = row.try_get("updated_at")?;
    let hold_until: Option<String> = row.try_get("hold_until")?;
    let hold_reason: Option<String> = row.try_get("hold_reason")?;
    let hold = match (hold_until, hold_reason) {
        (Some(until), reason) => Some((
            parse_time("advisories.hold_until", &until)?,
            reason.unwrap_or_default(),
        )),
        (None, _) => None,
    };
    Ok(StoredAdvisory {
        row: row.try_get("id")?,
        hold,
        advisory: Advisory {
            id: AdvisoryId::parse(&ident).map_err(|err| corrupt("id", &err))?,
            status: status.parse().map_err(|err| corrupt("status", &err))?,
            revision: u32::try_from(revision).map_err(|err| corrupt("revision", &err))?,
            content: serde_json::from_str::<Content>(&content)
                .map_err(|err| corrupt("content", &err))?,
            announce_at: announce_at
                .map(|text| parse_time("advisories.announce_at", &text))
                .transpose()?,
            created_at: parse_time("advisories.created_at", &created_at)?,
            updated_at: parse_time("advisories.updated_at", &updated_at)?,
        },
        message_key: row.try_get("message_key")?,
    })
}

fn content_json(content: &Content) -> Result<String, StoreError> {
    serde_json::to_string(content)
        .map_err(|err| StoreError::Corrupt(format!("advisory content: {err}")))
}

impl Store {
    /// The advisory with this id (compared case-insensitively).
    pub async fn advisory(&self, id: &AdvisoryId) -> Result<Option<StoredAdvisory>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE ident_norm = $1 AND list_id = $2"
        )))
        .bind(id.normalized())
        .bind(self.list)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Advisories still under embargo (scheduled or notified).
    pub async fn open_advisories(&self) -> Result<Vec<StoredAdvisory>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE status IN ('scheduled', 'notified') AND list_id = $1 ORDER BY id"
        )))
        .bind(self.list)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The advisory in this row.
    pub async fn advisory_by_row(&self, row: i64) -> Result<StoredAdvisory, StoreError> {
        let found = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE id = $1 AND list_id = $2"
        )))
        .bind(row)
        .bind(self.list)
        .fetch_one(&self.pool)
        .await?;
        from_row(&found)
    }

    /// The content and changes of one stored revision.
    pub async fn advisory_revision(
        &self,
        row: i64,
        revision: u32,
    ) -> Result<(Content, Vec<Change>), StoreError> {
        let (content, changes): (String, String) = sqlx::query_as(
            "SELECT content, changes FROM advisory_revisions WHERE advisory_id = $1 AND revision = $2",
        )
        .bind(row)
        .bind(i64::from(revision))
        .fetch_one(&self.pool)
        .await?;
        let corrupt =
            |err: serde_json::Error| StoreError::Corrupt(format!("advisory revision: {err}"));
        Ok((
            serde_json::from_str(&content).map_err(corrupt)?,
            serde_json::from_str(&changes).map_err(corrupt)?,
        ))
    }

    /// Every advisory, newest first.
    pub async fn advisories(&self) -> Result<Vec<Advisory>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE list_id = $1 ORDER BY created_at DESC, id DESC"
        )))
        .bind(self.list)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| from_row(row).map(|stored| stored.advisory))
            .collect()
    }

    /// The changes recorded for one revision of an advisory.
    pub async fn advisory_changes(
        &self,
        id: &AdvisoryId,
        revision: u32,
    ) -> Result<Vec<Change>, StoreError> {
        let changes: Option<String> = sqlx::query_scalar(
            "SELECT r.changes FROM advisory_revisions r JOIN advisories a ON a.id = r.advisory_id \
             WHERE a.ident_norm = $1 AND r.revision = $2 AND a.list_id = $3",
        )
        .bind(id.normalized())
        .bind(i64::from(revision))
        .bind(self.list)
        .fetch_optional(&self.pool)
        .await?;
        match changes {
            Some(text) => serde_json::from_str(&text)
                .map_err(|err| StoreError::Corrupt(format!("advisory changes: {err}"))),
            None => Ok(Vec::new()),
        }
    }
}

impl WriteTx {
    /// The advisory with this id, read inside the transaction.
    pub async fn advisory(
        &mut self,
        id: &AdvisoryId,
    ) -> Result<Option<StoredAdvisory>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE ident_norm = $1 AND list_id = $2"
        )))
        .bind(id.normalized())
        .bind(self.list)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Inserts a new draft at revision 1.
    pub async fn insert_advisory(
        &mut self,
        id: &AdvisoryId,
        content: &Content,
        message_key: &str,
    ) -> Result<(), StoreError> {
        let now = format_instant(self.now);
        let json = content_json(content)?;
        let id_row: i64 = sqlx::query_scalar(
            "INSERT INTO advisories (ident, ident_norm, status, revision, content, message_key, \
             created_at, updated_at, list_id) VALUES ($1, $2, 'draft', 1, $3, $4, $5, $6, $7) \
             RETURNING id",
        )
        .bind(id.as_str())
        .bind(id.normalized())
        .bind(&json)
        .bind(message_key)
        .bind(&now)
        .bind(&now)
        .bind(self.list)
        .fetch_one(&mut *self.tx)
        .await?;
        sqlx::query("INSERT INTO advisory_revisions (advisory_id, revision, content, changes, created_at) VALUES ($1, 1, $2, '[]', $3)")
            .bind(id_row)
            .bind(&json)
            .bind(&now)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Stores `content` as the next revision, with what changed.
    pub async fn revise_advisory(
        &mut self,
        id: &AdvisoryId,
        content: &Content,
        changes: &[Change],
    ) -> Result<u32, StoreError> {
        let now = format_instant(self.now);
        let json = content_json(content)?;
        let changes =
            serde_json::to_string(changes).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let (row_id, revision): (i64, i64) = sqlx::query_as(
            "UPDATE advisories SET revision = revision + 1, content = $1, updated_at = $2 \
             WHERE ident_norm = $3 AND list_id = $4 RETURNING id, revision",
        )
        .bind(&json)
        .bind(&now)
        .bind(id.normalized())
        .bind(self.list)
        .fetch_one(&mut *self.tx)
        .await?;
        sqlx::query("INSERT INTO advisory_revisions (advisory_id, revision, content, changes, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(row_id)
            .bind(revision)
            .bind(&json)
            .bind(&changes)
            .bind(&now)
            .execute(&mut *self.tx)
            .await?;
        u32::try_from(revision).map_err(|err| StoreError::Corrupt(err.to_string()))
    }

    /// Moves an advisory to `status`, setting the announce time when given.
    pub async fn set_advisory_status(
        &mut self,
        id: &AdvisoryId,
        status: Status,
        announce_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE advisories SET status = $1, announce_at = COALESCE($2, announce_at), updated_at = $3 \
             WHERE ident_norm = $4 AND list_id = $5",
        )
        .bind(status.as_str())
        .bind(announce_at.map(format_instant))
        .bind(format_instant(self.now))
        .bind(id.normalized())
        .bind(self.list)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
