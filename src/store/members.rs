//! Member rows: the mapping between SQL and [`crate::roster::Member`].

use chrono::{DateTime, Utc};
use std::borrow::Cow;

use serde::Deserialize;
use sqlx::AnyExecutor;

use super::{Dialect, Store, StoreError, WriteTx, parse_time};
use crate::clock::format_instant;
use crate::roster::{Email, Kind, Member, MemberId, MemberSummary, Roles, Status};

/// A member to insert.
#[derive(Debug, Clone)]
pub struct NewMember {
    pub email: Email,
    pub name: String,
    pub org: String,
    pub kind: Kind,
    pub roles: Roles,
    pub status: Status,
    pub fingerprint: String,
    pub cert: Vec<u8>,
    pub sponsor: Option<MemberId>,
    pub statement: Option<String>,
    /// SHA-256 of the confirmation token, and when it stops working.
    pub confirm_token: Option<(String, DateTime<Utc>)>,
}

/// One change to an existing member.
#[derive(Debug, Clone)]
pub enum MemberChange {
    /// A new status; `Active` from `Pending` also stamps `confirmed_at`
    /// and forgets the token.
    Status(Status),
    /// A new set of roles.
    Roles(Roles),
    /// A new certificate.
    Cert { fingerprint: String, cert: Vec<u8> },
    /// A new sponsor and statement; clears the re-sponsorship flag.
    Sponsor {
        sponsor: MemberId,
        statement: Option<String>,
    },
}

/// Reads members as one JSON document built by the database: a row at a
/// time, sqlx hands every row from its worker thread to the async task,
/// which costs more than the query itself on a roster of thousands.
/// `$filter` is a WHERE clause. The result is in no particular order:
/// sorting inside the aggregate costs SQLite more than sorting the parsed
/// rows costs us. Answers the SQLite and the PostgreSQL text (PostgreSQL's
/// aggregate of no rows is NULL, hence the COALESCE).
macro_rules! select_members {
    ($filter:literal) => {
        (
            concat!(
                "SELECT json_group_array(json_array(",
                member_columns!(),
                ")) FROM members m LEFT JOIN members s ON s.id = m.sponsor_id ",
                $filter
            ),
            concat!(
                "SELECT COALESCE(json_agg(json_build_array(",
                member_columns!(),
                "))::text, '[]') FROM members m LEFT JOIN members s ON s.id = m.sponsor_id ",
                $filter
            ),
        )
    };
}

/// The columns `select_members!` puts in each member's JSON array.
macro_rules! member_columns {
    () => {
        "m.id, m.email, m.name, m.org, m.kind, m.roles, m.status, m.fingerprint, s.email, \
         m.statement, m.needs_sponsor, m.created_at, m.updated_at, m.confirmed_at"
    };
}

/// One member as `select_members!` lays it out. Text borrows from the
/// document where it needs no unescaping.
#[derive(Deserialize)]
struct MemberRow<'a>(
    i64,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Option<Cow<'a, str>>,
    #[serde(borrow)] Option<Cow<'a, str>>,
    i64,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Option<Cow<'a, str>>,
);

fn member_from_row(row: MemberRow<'_>) -> Result<Member, StoreError> {
    let corrupt = |what: &str, err: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("member {what}: {err}"))
    };
    let MemberRow(
        id,
        email,
        name,
        org,
        kind,
        roles,
        status,
        fingerprint,
        sponsor,
        statement,
        needs_sponsor,
        created_at,
        updated_at,
        confirmed_at,
    ) = row;
    Ok(Member {
        id: MemberId(id),
        email: Email::parse(&email).map_err(|err| corrupt("email", &err))?,
        name: name.into_owned(),
        org: org.into_owned(),
        kind: kind.parse().map_err(|err| corrupt("kind", &err))?,
        roles: Roles::parse_list(&roles).map_err(|err| corrupt("roles", &err))?,
        status: status.parse().map_err(|err| corrupt("status", &err))?,
        fingerprint: fingerprint.into_owned(),
        sponsor: sponsor
            .map(|text| Email::parse(&text).map_err(|err| corrupt("sponsor", &err)))
            .transpose()?,
        statement: statement.map(Cow::into_owned),
        needs_sponsor: needs_sponsor != 0,
        created_at: parse_time("members.created_at", &created_at)?,
        updated_at: parse_time("members.updated_at", &updated_at)?,
        confirmed_at: confirmed_at
            .map(|text| parse_time("members.confirmed_at", &text))
            .transpose()?,
    })
}

/// Parses what `select_members!` returns, ordered by address.
fn members_from_json(json: &str) -> Result<Vec<Member>, StoreError> {
    let rows: Vec<MemberRow<'_>> = serde_json::from_str(json)
        .map_err(|err| StoreError::Corrupt(format!("member rows: {err}")))?;
    let mut members = rows
        .into_iter()
        .map(member_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    members.sort_unstable_by(|a, b| a.email.normalized().cmp(b.email.normalized()));
    Ok(members)
}

/// The listing query: the summary columns only, in no particular order.
/// The sponsor is an id here; [`SELECT_SPONSORS`] names them, which is
/// cheaper than a join per member because sponsors are few.
const SELECT_SUMMARIES: (&str, &str) = (
    "SELECT json_group_array(json_array(email, name, org, kind, roles, status, fingerprint, \
     sponsor_id, needs_sponsor)) FROM members WHERE list_id = $2 AND ($1 IS NULL OR status = $1)",
    "SELECT COALESCE(json_agg(json_build_array(email, name, org, kind, roles, status, \
     fingerprint, sponsor_id, needs_sponsor))::text, '[]') FROM members \
     WHERE list_id = $2 AND ($1 IS NULL OR status = $1)",
);

/// The id and address of every member who sponsored someone.
const SELECT_SPONSORS: (&str, &str) = (
    "SELECT json_group_object(id, email) FROM members \
     WHERE list_id = $1 AND id IN (SELECT DISTINCT sponsor_id FROM members WHERE sponsor_id IS NOT NULL)",
    "SELECT COALESCE(json_object_agg(id, email)::text, '{}') FROM members \
     WHERE list_id = $1 AND id IN (SELECT DISTINCT sponsor_id FROM members WHERE sponsor_id IS NOT NULL)",
);

/// One member as `SELECT_SUMMARIES` lays it out.
#[derive(Deserialize)]
struct SummaryRow<'a>(
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    Option<i64>,
    i64,
);

fn summary_from_row(
    row: SummaryRow<'_>,
    sponsors: &std::collections::HashMap<String, String>,
) -> Result<MemberSummary, StoreError> {
    let corrupt = |what: &str, err: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("member {what}: {err}"))
    };
    let SummaryRow(email, name, org, kind, roles, status, fingerprint, sponsor, needs_sponsor) =
        row;
    Ok(MemberSummary {
        email: Email::displayed(email.into_owned()),
        name: name.into_owned(),
        org: org.into_owned(),
        kind: kind.parse().map_err(|err| corrupt("kind", &err))?,
        roles: Roles::parse_list(&roles).map_err(|err| corrupt("roles", &err))?,
        status: status.parse().map_err(|err| corrupt("status", &err))?,
        fingerprint: fingerprint.into_owned(),
        sponsor: sponsor
            .map(|id| {
                sponsors
                    .get(&id.to_string())
                    .map(|email| Email::displayed(email.clone()))
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("member sponsor {id} is not a member"))
                    })
            })
            .transpose()?,
        needs_sponsor: needs_sponsor != 0,
    })
}

async fn fetch_by_email<'e>(
    exec: impl AnyExecutor<'e>,
    dialect: Dialect,
    list: i64,
    email: &Email,
) -> Result<Option<Member>, StoreError> {
    let (sqlite, postgres) = select_members!("WHERE m.email_norm = $1 AND m.list_id = $2");
    let json: String = sqlx::query_scalar(dialect.pick(sqlite, postgres))
        .bind(email.normalized())
        .bind(list)
        .fetch_one(exec)
        .await?;
    Ok(members_from_json(&json)?.into_iter().next())
}

async fn count_active_admins<'e>(exec: impl AnyExecutor<'e>, list: i64) -> Result<u64, StoreError> {
    // Roles are stored as a sorted comma list; match the whole word.
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM members WHERE list_id = $1 AND status = 'active' \
         AND (',' || roles || ',') LIKE '%,admin,%'",
    )
    .bind(list)
    .fetch_one(exec)
    .await?;
    Ok(u64::try_from(count).unwrap_or_default())
}

impl Store {
    /// The member with this address (compared case-insensitively).
    pub async fn member(&self, email: &Email) -> Result<Option<Member>, StoreError> {
        fetch_by_email(&self.pool, self.dialect, self.list, email).await
    }

    /// A summary of every member, or of those with one status, ordered by
    /// address.
    pub async fn member_summaries(
        &self,
        status: Option<Status>,
    ) -> Result<Vec<MemberSummary>, StoreError> {
        let json: String =
            sqlx::query_scalar(self.dialect.pick(SELECT_SUMMARIES.0, SELECT_SUMMARIES.1))
                .bind(status.map(Status::as_str))
                .bind(self.list)
                .fetch_one(&self.pool)
                .await?;
        let sponsors: String =
            sqlx::query_scalar(self.dialect.pick(SELECT_SPONSORS.0, SELECT_SPONSORS.1))
                .bind(self.list)
                .fetch_one(&self.pool)
                .await?;
        let sponsors: std::collections::HashMap<String, String> =
            serde_json::from_str(&sponsors)
                .map_err(|err| StoreError::Corrupt(format!("sponsor rows: {err}")))?;
        let rows: Vec<SummaryRow<'_>> = serde_json::from_str(&json)
            .map_err(|err| StoreError::Corrupt(format!("member rows: {err}")))?;
        let mut summaries = rows
            .into_iter()
            .map(|row| summary_from_row(row, &sponsors))
            .collect::<Result<Vec<_>, _>>()?;
        summaries.sort_unstable_by(|a, b| a.email.normalized().cmp(b.email.normalized()));
        Ok(summaries)
    }

    /// The same listing as [`Store::member_summaries`], as the JSON array
    /// `member list --json` prints, straight from the per-row `summary`
    /// column the triggers keep (see the migration): no per-member work at
    /// read time.
    pub async fn member_summaries_json(
        &self,
        status: Option<Status>,
    ) -> Result<String, StoreError> {
        let json: String = sqlx::query_scalar(self.dialect.pick(
            "SELECT '[' || ifnull(group_concat(summary, ','), '') || ']' FROM \
             (SELECT summary FROM members WHERE list_id = $2 AND ($1 IS NULL OR status = $1) \
             ORDER BY email_norm)",
            "SELECT '[' || COALESCE(string_agg(summary, ',' ORDER BY email_norm), '') || ']' \
             FROM members WHERE list_id = $2 AND ($1 IS NULL OR status = $1)",
        ))
        .bind(status.map(Status::as_str))
        .bind(self.list)
        .fetch_one(&self.pool)
        .await?;
        Ok(json)
    }

    /// The address and stored certificate of every member with `status`,
    /// in one query (the pre-flight reads every active member's key).
    pub async fn member_certs(&self, status: Status) -> Result<Vec<(Email, Vec<u8>)>, StoreError> {
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT m.email, c.cert FROM members m JOIN member_certs c ON c.member_id = m.id \
             WHERE m.status = $1 AND m.list_id = $2 ORDER BY m.email_norm",
        )
        .bind(status.as_str())
        .bind(self.list)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(email, cert)| {
                let email = Email::parse(&email)
                    .map_err(|err| StoreError::Corrupt(format!("member email: {err}")))?;
                Ok((email, cert))
            })
            .collect()
    }

    /// The stored certificate of a member.
    pub async fn member_cert(&self, id: MemberId) -> Result<Vec<u8>, StoreError> {
        let cert: Vec<u8> =
            sqlx::query_scalar("SELECT cert FROM member_certs WHERE member_id = $1")
                .bind(id.0)
                .fetch_one(&self.pool)
                .await?;
        Ok(cert)
    }

    /// How many members are active admins.
    pub async fn count_active_admins(&self) -> Result<u64, StoreError> {
        count_active_admins(&self.pool, self.list).await
    }

    /// How many members are active: the most copies one announcement can
    /// need, which a progress report shows as its length.
    pub async fn count_active_members(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM members WHERE list_id = $1 AND status = 'active'",
        )
        .bind(self.list)
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(count).unwrap_or_default())
    }
}

impl WriteTx {
    /// The stored certificate of a member, read inside the transaction.
    pub async fn member_cert(&mut self, id: MemberId) -> Result<Vec<u8>, StoreError> {
        let cert: Vec<u8> =
            sqlx::query_scalar("SELECT cert FROM member_certs WHERE member_id = $1")
                .bind(id.0)
                .fetch_one(&mut *self.tx)
                .await?;
        Ok(cert)
    }

    /// The member with this address, read inside the transaction.
    pub async fn member(&mut self, email: &Email) -> Result<Option<Member>, StoreError> {
        fetch_by_email(&mut *self.tx, self.dialect, self.list, email).await
    }

    /// The address of the member whose certificate has this fingerprint.
    pub async fn email_with_fingerprint(
        &mut self,
        fingerprint: &str,
    ) -> Result<Option<String>, StoreError> {
        let email =
            sqlx::query_scalar("SELECT email FROM members WHERE fingerprint = $1 AND list_id = $2")
                .bind(fingerprint)
                .bind(self.list)
                .fetch_optional(&mut *self.tx)
                .await?;
        Ok(email)
    }

    /// How many members are active admins, read inside the transaction.
    pub async fn count_active_admins(&mut self) -> Result<u64, StoreError> {
        count_active_admins(&mut *self.tx, self.list).await
    }

    /// The stored hash of a member's confirmation token and its expiry.
    pub async fn confirm_token(
        &mut self,
        id: MemberId,
    ) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
        let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT confirm_token_hash, confirm_token_expires_at FROM members \
             WHERE id = $1 AND list_id = $2",
        )
        .bind(id.0)
        .bind(self.list)
        .fetch_optional(&mut *self.tx)
        .await?;
        match row {
            Some((Some(hash), Some(expires))) => Ok(Some((
                hash,
                parse_time("members.confirm_token_expires_at", &expires)?,
            ))),
            _ => Ok(None),
        }
    }

    /// Inserts a member and returns it as stored.
    pub async fn insert_member(&mut self, member: &NewMember) -> Result<Member, StoreError> {
        let now = format_instant(self.now);
        let (token_hash, token_expires) = match &member.confirm_token {
            Some((hash, expires)) => (Some(hash.clone()), Some(format_instant(*expires))),
            None => (None, None),
        };
        sqlx::query(
            "INSERT INTO members (email, email_norm, name, org, kind, roles, status, fingerprint, \
             sponsor_id, statement, confirm_token_hash, confirm_token_expires_at, created_at, updated_at, \
             confirmed_at, list_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(member.email.as_str())
        .bind(member.email.normalized())
        .bind(&member.name)
        .bind(&member.org)
        .bind(member.kind.as_str())
        .bind(member.roles.to_string())
        .bind(member.status.as_str())
        .bind(&member.fingerprint)
        .bind(member.sponsor.map(|id| id.0))
        .bind(&member.statement)
        .bind(token_hash)
        .bind(token_expires)
        .bind(&now)
        .bind(&now)
        .bind((member.status == Status::Active).then_some(&now))
        .bind(self.list)
        .execute(&mut *self.tx)
        .await?;
        let stored = self.member(&member.email).await?.ok_or_else(|| {
            StoreError::Corrupt("the member just inserted is not there".to_owned())
        })?;
        sqlx::query("INSERT INTO member_certs (member_id, cert) VALUES ($1, $2)")
            .bind(stored.id.0)
            .bind(&member.cert)
            .execute(&mut *self.tx)
            .await?;
        Ok(stored)
    }

    /// Applies one change to a member.
    pub async fn update_member(
        &mut self,
        id: MemberId,
        change: &MemberChange,
    ) -> Result<(), StoreError> {
        let now = format_instant(self.now);
        let query = match change {
            MemberChange::Status(Status::Active) => sqlx::query(
                "UPDATE members SET status = 'active', updated_at = $1, \
                 confirmed_at = COALESCE(confirmed_at, $1), confirm_token_hash = NULL, \
                 confirm_token_expires_at = NULL WHERE id = $2 AND list_id = $3",
            )
            .bind(now),
            MemberChange::Status(status) => {
                sqlx::query(
                    "UPDATE members SET status = $1, updated_at = $2 WHERE id = $3 AND list_id = $4",
                )
                    .bind(status.as_str())
                    .bind(now)
            }
            MemberChange::Roles(roles) => {
                sqlx::query(
                    "UPDATE members SET roles = $1, updated_at = $2 WHERE id = $3 AND list_id = $4",
                )
                    .bind(roles.to_string())
                    .bind(now)
            }
            MemberChange::Cert { fingerprint, cert } => {
                sqlx::query("UPDATE member_certs SET cert = $1 WHERE member_id = $2")
                    .bind(cert.clone())
                    .bind(id.0)
                    .execute(&mut *self.tx)
                    .await?;
                sqlx::query(
                    "UPDATE members SET fingerprint = $1, updated_at = $2 \
                     WHERE id = $3 AND list_id = $4",
                )
                    .bind(fingerprint.clone())
                    .bind(now)
            }
            MemberChange::Sponsor { sponsor, statement } => sqlx::query(
                "UPDATE members SET sponsor_id = $1, statement = $2, needs_sponsor = 0, updated_at = $3 \
                 WHERE id = $4 AND list_id = $5",
            )
            .bind(sponsor.0)
            .bind(statement.clone())
            .bind(now),
        };
        let done = query
            .bind(id.0)
            .bind(self.list)
            .execute(&mut *self.tx)
            .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Corrupt(format!(
                "member {} vanished during an update",
                id.0
            )));
        }
        Ok(())
    }

    /// Flags every member sponsored by `sponsor` who is not removed as
    /// needing a new sponsor, and returns their addresses.
    pub async fn flag_sponsored_by(&mut self, sponsor: MemberId) -> Result<Vec<Email>, StoreError> {
        let emails: Vec<String> = sqlx::query_scalar(
            "UPDATE members SET needs_sponsor = 1, updated_at = $1 \
             WHERE sponsor_id = $2 AND status != 'removed' AND id != $3 AND list_id = $4 \
             RETURNING email",
        )
        .bind(format_instant(self.now))
        .bind(sponsor.0)
        .bind(sponsor.0)
        .bind(self.list)
        .fetch_all(&mut *self.tx)
        .await?;
        let mut parsed = emails
            .iter()
            .map(|text| {
                Email::parse(text)
                    .map_err(|err| StoreError::Corrupt(format!("member email: {err}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        parsed.sort_by(|a, b| a.normalized().cmp(b.normalized()));
        Ok(parsed)
    }
}
