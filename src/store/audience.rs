//! Who mail is for: members as addressees (address, key, certificate
//! version) and the audiences an advisory kind is sealed for, batch by
//! batch.

use sqlx::Row;

use super::announcements::kind_list;
use super::{Store, StoreError};
use crate::compose::Kind;
use crate::roster::{Email, MemberId, Role};

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

const STATES_LIVE: &str = "('queued', 'sending', 'sent', 'uncertain', 'failed', 'missed')";

fn parse_email(text: &str) -> Result<Email, StoreError> {
    Email::parse(text).map_err(|err| StoreError::Corrupt(format!("member email: {err}")))
}

fn addressee_rows(rows: Vec<sqlx::any::AnyRow>) -> Result<Vec<Addressee>, StoreError> {
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
    fn clause(self) -> (bool, &'static [Kind], &'static str) {
        match self {
            SealAudience::Untold => (false, &Kind::TOLD, STATES_LIVE),
            SealAudience::Told => (true, &Kind::TOLD, "('sending', 'sent', 'uncertain')"),
            SealAudience::Informed => (
                true,
                &[Kind::Notice, Kind::Update],
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
        let kinds = kind_list(kinds);
        let exists = if with { "EXISTS" } else { "NOT EXISTS" };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{ADDRESSEE} WHERE m.status = 'active' AND m.id > $1 AND {exists} ( \
               SELECT 1 FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
               WHERE d.member_id = m.id AND a.advisory_id = $2 AND a.kind IN {kinds} \
               AND d.state IN {states}) \
             AND NOT EXISTS (SELECT 1 FROM deliveries d \
               WHERE d.announcement_id = $3 AND d.member_id = m.id) \
             AND m.list_id = $5 ORDER BY m.id LIMIT $4"
        )))
        .bind(after)
        .bind(advisory_row)
        .bind(announcement)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(self.list)
        .fetch_all(&self.pool)
        .await?;
        addressee_rows(rows)
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
                "{ADDRESSEE} WHERE m.status = 'active' AND (',' || m.roles || ',') LIKE $1 \
                 AND m.list_id = $2 ORDER BY m.id"
            )))
            .bind(format!("%,{},%", role.as_str()))
            .bind(self.list)
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
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{ADDRESSEE} WHERE m.id = $1 AND m.list_id = $2"
        )))
        .bind(member.0)
        .bind(self.list)
        .fetch_all(&self.pool)
        .await?;
        Ok(addressee_rows(rows)?.pop())
    }

    /// Every active member as an addressee.
    pub async fn active_addressees(&self) -> Result<Vec<Addressee>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{ADDRESSEE} WHERE m.status = 'active' AND m.list_id = $1 ORDER BY m.id"
        )))
        .bind(self.list)
        .fetch_all(&self.pool)
        .await?;
        addressee_rows(rows)
    }
}
