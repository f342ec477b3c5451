//! Inbound mail: which member a signing key belongs to, the replay guard
//! (complete messages, and the commands of a message already carried out
//! or refused), acknowledgements, bounces, and the list's own secrets.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Store, StoreError, WriteTx};
use crate::clock::format_instant;
use crate::inbound::AckStatus;
use crate::roster::{Email, Member, MemberId};

/// email, org, status, note, at.
type AckTuple = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// One row of the acknowledgement matrix.
#[derive(Debug, Clone, Serialize)]
pub struct AckRow {
    pub email: String,
    pub org: String,
    /// `None`: no answer yet.
    #[serde(serialize_with = "ack_words")]
    pub status: Option<AckStatus>,
    pub note: Option<String>,
    pub at: Option<String>,
}

/// An answer's `status` column read back; the table's CHECK allows only
/// these words.
fn parse_ack(text: &str) -> Result<AckStatus, StoreError> {
    Ok(match text {
        "received" => AckStatus::Received,
        "affected" => AckStatus::Affected,
        "not-affected" => AckStatus::NotAffected,
        "fixed" => AckStatus::Fixed,
        other => return Err(StoreError::Corrupt(format!("answer {other:?}"))),
    })
}

/// An answer in `advisory acks --json`: the word as typed and stored.
fn ack_words<S: serde::Serializer>(
    status: &Option<AckStatus>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    status.map(AckStatus::as_str).serialize(serializer)
}

/// What a signed message is, for the replay guard: who signed, when, over
/// what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedKey<'a> {
    pub signer: &'a str,
    pub signed_at: DateTime<Utc>,
    pub digest: &'a str,
}

/// A command of a message already dealt with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRecord {
    pub index: usize,
    pub refused: bool,
    /// What the reply says about it.
    pub line: String,
}

/// A copy a bounce names.
#[derive(Debug, Clone)]
pub struct BouncedCopy {
    pub member_id: Option<MemberId>,
    pub recipient: String,
}

impl Store {
    /// The member whose certificate holds the signing key `fingerprint`,
    /// with that certificate; else the member who retired a certificate
    /// holding it, with the retired certificate. A retired key verifies a
    /// signature, but the caller lets it finish only a message whose
    /// commands were started while the key was the member's.
    pub async fn member_by_key(
        &self,
        fingerprint: &str,
    ) -> Result<Option<(Member, Vec<u8>)>, StoreError> {
        let row: Option<(i64, String, Vec<u8>)> = sqlx::query_as(
            "SELECT 0 AS retired, m.email, c.cert FROM member_keys k \
             JOIN members m ON m.id = k.member_id JOIN member_certs c ON c.member_id = m.id \
             WHERE k.fingerprint = $1 OR (length($1) = 16 AND substr(k.fingerprint, 25) = $1) \
             UNION ALL \
             SELECT 1 AS retired, m.email, r.cert FROM retired_member_keys r \
             JOIN members m ON m.id = r.member_id \
             WHERE r.fingerprint = $1 OR (length($1) = 16 AND substr(r.fingerprint, 25) = $1) \
             ORDER BY retired LIMIT 1",
        )
        .bind(fingerprint.to_ascii_uppercase())
        .fetch_optional(&self.pool)
        .await?;
        let Some((_, email, cert)) = row else {
            return Ok(None);
        };
        let email = Email::parse(&email)
            .map_err(|err| StoreError::Corrupt(format!("member email: {err}")))?;
        Ok(self.member(&email).await?.map(|member| (member, cert)))
    }

    /// Whether this signature was already used.
    pub async fn signature_seen(
        &self,
        signer: &str,
        signed_at: DateTime<Utc>,
        digest: &str,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM inbound_signatures WHERE signer = $1 AND signed_at = $2 AND digest = $3",
        )
        .bind(signer)
        .bind(format_instant(signed_at))
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// The commands of this signed message already carried out or refused
    /// (by an earlier attempt that did not finish), by index.
    pub async fn commands_recorded(
        &self,
        key: &SignedKey<'_>,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT idx, outcome, line FROM inbound_commands \
             WHERE signer = $1 AND signed_at = $2 AND digest = $3 ORDER BY idx",
        )
        .bind(key.signer)
        .bind(format_instant(key.signed_at))
        .bind(key.digest)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(index, outcome, line)| {
                Ok(CommandRecord {
                    index: usize::try_from(index)
                        .map_err(|_| StoreError::Corrupt(format!("command index {index}")))?,
                    refused: outcome == "refused",
                    line,
                })
            })
            .collect()
    }

    /// Every active member and their answer about an advisory.
    pub async fn acks(&self, advisory_row: i64) -> Result<Vec<AckRow>, StoreError> {
        let rows: Vec<AckTuple> = sqlx::query_as(
            "SELECT m.email, m.org, a.status, a.note, a.at FROM members m \
             LEFT JOIN acks a ON a.member_id = m.id AND a.advisory_id = $1 \
             WHERE m.status = 'active' OR a.status IS NOT NULL ORDER BY m.email_norm",
        )
        .bind(advisory_row)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(email, org, status, note, at)| {
                Ok(AckRow {
                    email,
                    org,
                    status: status.as_deref().map(parse_ack).transpose()?,
                    note,
                    at,
                })
            })
            .collect()
    }

    /// The copy with this id, if any.
    pub async fn bounced_copy(&self, delivery: i64) -> Result<Option<BouncedCopy>, StoreError> {
        let row: Option<(Option<i64>, String)> =
            sqlx::query_as("SELECT member_id, recipient FROM deliveries WHERE id = $1")
                .bind(delivery)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(member, recipient)| BouncedCopy {
            member_id: member.map(MemberId),
            recipient,
        }))
    }

    /// A secret the list keeps for itself, if made.
    pub async fn secret(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM secrets WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}

impl WriteTx {
    /// Replaces the signing keys recorded for a member.
    pub async fn set_member_keys(
        &mut self,
        member: MemberId,
        fingerprints: &[String],
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM member_keys WHERE member_id = $1")
            .bind(member.0)
            .execute(&mut *self.tx)
            .await?;
        for fingerprint in fingerprints {
            // A key in use again is no longer retired.
            sqlx::query("DELETE FROM retired_member_keys WHERE fingerprint = $1")
                .bind(fingerprint.to_ascii_uppercase())
                .execute(&mut *self.tx)
                .await?;
            sqlx::query(
                "INSERT INTO member_keys (fingerprint, member_id) VALUES ($1, $2) \
                 ON CONFLICT (fingerprint) DO UPDATE SET member_id = excluded.member_id",
            )
            .bind(fingerprint.to_ascii_uppercase())
            .bind(member.0)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    /// Keeps the member's current signing keys, with `cert` (the
    /// certificate being replaced), as retired (see `member_by_key`).
    pub async fn retire_member_keys(
        &mut self,
        member: MemberId,
        cert: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO retired_member_keys (fingerprint, member_id, cert, retired_at) \
             SELECT fingerprint, member_id, $1, $2 FROM member_keys WHERE member_id = $3 \
             ON CONFLICT (fingerprint) DO UPDATE SET member_id = excluded.member_id, \
               cert = excluded.cert, retired_at = excluded.retired_at",
        )
        .bind(cert)
        .bind(format_instant(self.now))
        .bind(member.0)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Records a used signature; `Conflict` if it was used before.
    pub async fn record_signature(
        &mut self,
        signer: &str,
        signed_at: DateTime<Utc>,
        digest: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO inbound_signatures (signer, signed_at, digest, received_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(signer)
        .bind(format_instant(signed_at))
        .bind(digest)
        .bind(format_instant(self.now))
        .execute(&mut *self.tx)
        .await
        .map_err(StoreError::from)
        .map_err(|err| match err {
            StoreError::Conflict(_) => StoreError::Conflict("this signed command was already used".to_owned()),
            other => other,
        })?;
        Ok(())
    }

    /// Records that command `index` of a signed message was carried out
    /// (in the transaction of its effect) or refused; `Conflict` if it was
    /// recorded before (another attempt of the same message got there
    /// first).
    pub async fn record_command(
        &mut self,
        key: &SignedKey<'_>,
        index: usize,
        refused: bool,
        line: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO inbound_commands (signer, signed_at, digest, idx, outcome, line, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(key.signer)
        .bind(format_instant(key.signed_at))
        .bind(key.digest)
        .bind(i64::try_from(index).unwrap_or(i64::MAX))
        .bind(if refused { "refused" } else { "done" })
        .bind(line)
        .bind(format_instant(self.now))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Replaces the reply line of a command recorded as done, once the
    /// use case said exactly what it did.
    pub async fn set_command_line(
        &mut self,
        key: &SignedKey<'_>,
        index: usize,
        line: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE inbound_commands SET line = $1 \
             WHERE signer = $2 AND signed_at = $3 AND digest = $4 AND idx = $5",
        )
        .bind(line)
        .bind(key.signer)
        .bind(format_instant(key.signed_at))
        .bind(key.digest)
        .bind(i64::try_from(index).unwrap_or(i64::MAX))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Whether a copy of the advisory (its notice, an update or a
    /// reminder) reached the member: sent, or possibly sent (being sent,
    /// or uncertain). A draft, a copy still queued, or copies sent only
    /// to others do not count.
    pub async fn advisory_reached(
        &mut self,
        advisory_row: i64,
        member: MemberId,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM deliveries d JOIN announcements a ON a.id = d.announcement_id \
             WHERE a.advisory_id = $1 AND a.kind IN ('notice', 'update', 'reminder') \
             AND d.member_id = $2 AND d.state IN ('sent', 'sending', 'uncertain') LIMIT 1",
        )
        .bind(advisory_row)
        .bind(member.0)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(found.is_some())
    }

    /// A member's answer about an advisory (the latest counts).
    pub async fn upsert_ack(
        &mut self,
        advisory_row: i64,
        member: MemberId,
        status: AckStatus,
        note: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO acks (advisory_id, member_id, status, note, at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (advisory_id, member_id) DO UPDATE SET status = excluded.status, \
             note = excluded.note, at = excluded.at",
        )
        .bind(advisory_row)
        .bind(member.0)
        .bind(status.as_str())
        .bind(note)
        .bind(format_instant(self.now))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Marks a copy bounced and raises its member's score by `weight`;
    /// answers the new score and whether maintainers were told before.
    pub async fn record_bounce(
        &mut self,
        delivery: i64,
        hard: bool,
        weight: f64,
    ) -> Result<Option<(MemberId, f64, bool)>, StoreError> {
        let member: Option<Option<i64>> = sqlx::query_scalar(
            "UPDATE deliveries SET bounce = $1, updated_at = $2 WHERE id = $3 AND bounce IS NULL RETURNING member_id",
        )
        .bind(if hard { "hard" } else { "soft" })
        .bind(format_instant(self.now))
        .bind(delivery)
        .fetch_optional(&mut *self.tx)
        .await?;
        let Some(Some(member)) = member else {
            return Ok(None);
        };
        let (score, reported): (f64, i64) = sqlx::query_as(
            "UPDATE members SET bounce_score = bounce_score + $1 WHERE id = $2 RETURNING bounce_score, bounce_reported",
        )
        .bind(weight)
        .bind(member)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(Some((MemberId(member), score, reported != 0)))
    }

    /// Remembers that maintainers were told about a member's bounces.
    pub async fn mark_bounce_reported(&mut self, member: MemberId) -> Result<(), StoreError> {
        sqlx::query("UPDATE members SET bounce_reported = 1 WHERE id = $1")
            .bind(member.0)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Stores a secret the list made for itself (first writer wins);
    /// answers the stored value.
    pub async fn keep_secret(&mut self, name: &str, value: &str) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .execute(&mut *self.tx)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM secrets WHERE name = $1")
                .bind(name)
                .fetch_one(&mut *self.tx)
                .await?,
        )
    }
}
