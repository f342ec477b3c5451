//! The lists of an instance: each list's name, addresses and key, and
//! the instance-wide reads that span lists (counts for observers).

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError, WriteTx, parse_time};
use crate::clock::format_instant;

/// A list's row id. Every list-scoped query names one (see
/// [`Store::scoped`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ListId(pub i64);

/// One list as stored.
#[derive(Debug, Clone)]
pub struct ListRow {
    pub id: ListId,
    /// The name `--list` takes.
    pub name: String,
    pub address: String,
    /// The normalised request address, when recorded (list 1 of a
    /// database made before lists existed has none until it is opened).
    pub request_norm: Option<String>,
    pub fingerprint: String,
    pub created_at: DateTime<Utc>,
}

/// A list to record.
#[derive(Debug, Clone)]
pub struct NewList<'a> {
    pub name: &'a str,
    pub address: &'a str,
    pub address_norm: &'a str,
    pub request_norm: &'a str,
    pub fingerprint: &'a str,
}

const SELECT: &str = "SELECT id, name, address, request_norm, fingerprint, created_at FROM lists";

fn from_row(row: &sqlx::any::AnyRow) -> Result<ListRow, StoreError> {
    let created: String = row.try_get("created_at")?;
    Ok(ListRow {
        id: ListId(row.try_get("id")?),
        name: row.try_get("name")?,
        address: row.try_get("address")?,
        request_norm: row.try_get("request_norm")?,
        fingerprint: row.try_get("fingerprint")?,
        created_at: parse_time("lists.created_at", &created)?,
    })
}

impl Store {
    /// Every list, by name.
    pub async fn lists(&self) -> Result<Vec<ListRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} ORDER BY name")))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// The list whose address or request address is `address_norm`.
    pub async fn list_by_address(&self, address_norm: &str) -> Result<Option<ListRow>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE address_norm = $1 OR request_norm = $1"
        )))
        .bind(address_norm)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }
}

impl WriteTx {
    /// Records a new list and answers its id. Its name and addresses must
    /// be free (the unique indexes refuse them otherwise).
    pub async fn insert_list(&mut self, list: &NewList<'_>) -> Result<ListId, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO lists (name, address, address_norm, request_norm, fingerprint, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(list.name)
        .bind(list.address)
        .bind(list.address_norm)
        .bind(list.request_norm)
        .bind(list.fingerprint)
        .bind(format_instant(self.now))
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(ListId(id))
    }

    /// Records the request address of a list that has none yet (list 1 of
    /// a database made before lists existed).
    pub async fn record_request_address(
        &mut self,
        list: ListId,
        request_norm: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE lists SET request_norm = $1 WHERE id = $2 AND request_norm IS NULL")
            .bind(request_norm)
            .bind(list.0)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Takes or renews the list's lease `name` for `holder` until
    /// `until`: granted when nobody holds it, `holder` already does, or
    /// the holder's lease expired by the transaction's instant. One
    /// statement, so two daemons can never both win.
    pub async fn take_lease(
        &mut self,
        name: &str,
        holder: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let won: Option<String> = sqlx::query_scalar(
            "INSERT INTO leases (list_id, name, holder, until) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (list_id, name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
             WHERE leases.holder = excluded.holder OR leases.until <= $5 \
             RETURNING holder",
        )
        .bind(self.list)
        .bind(name)
        .bind(holder)
        .bind(format_instant(until))
        .bind(format_instant(self.now))
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(won.is_some())
    }

    /// Scopes the rest of this transaction to `list` (a list just
    /// inserted by it).
    pub fn scope_to(&mut self, list: ListId) {
        self.list = list.0;
    }
}

/// A list row for tests of the store alone, and the store scoped to it.
#[cfg(test)]
pub(crate) async fn test_list(store: &Store, name: &str) -> Store {
    let mut tx = store
        .write(chrono::Utc::now())
        .await
        .expect("start a transaction");
    let address = format!("{name}@project.example");
    let request = format!("{name}-request@project.example");
    let id = tx
        .insert_list(&NewList {
            name,
            address: &address,
            address_norm: &address,
            request_norm: &request,
            fingerprint: "0000000000000000000000000000000000000000",
        })
        .await
        .expect("insert a list");
    tx.commit().await.expect("commit the list");
    store.scoped(id)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{TimeZone, Utc};

    use super::test_list;
    use crate::store::{Location, SignedKey, Store};

    /// The replay record of signed mail was one for the instance: a
    /// message one list had used (or half done) read as used, with that
    /// list's recorded commands, on every other list. Each list now sees
    /// only its own record, and records the same message once itself.
    #[tokio::test]
    async fn the_replay_record_of_signed_mail_is_per_list() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(
            &Location::File(dir.path().join("lists.db")),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        store.mute_wake();
        let (alpha, beta) = (
            test_list(&store, "alpha").await,
            test_list(&store, "beta").await,
        );
        let signed_at = Utc.with_ymd_and_hms(2026, 6, 1, 11, 59, 0).unwrap();
        let key = SignedKey {
            signer: "AAAA",
            signed_at,
            digest: "d1",
        };
        let mut tx = alpha.write(signed_at).await.unwrap();
        tx.record_command(&key, 0, false, "UNSUBSCRIBE: done")
            .await
            .unwrap();
        tx.set_command_line(&key, 0, "UNSUBSCRIBE: you left alpha")
            .await
            .unwrap();
        tx.record_signature(key.signer, signed_at, key.digest)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(alpha.signature_seen("AAAA", signed_at, "d1").await.unwrap());
        assert_eq!(alpha.commands_recorded(&key).await.unwrap().len(), 1);
        assert!(!beta.signature_seen("AAAA", signed_at, "d1").await.unwrap());
        assert!(beta.commands_recorded(&key).await.unwrap().is_empty());

        let mut tx = beta.write(signed_at).await.unwrap();
        tx.record_command(&key, 0, true, "UNSUBSCRIBE refused")
            .await
            .unwrap();
        tx.set_command_line(&key, 0, "UNSUBSCRIBE refused: beta")
            .await
            .unwrap();
        tx.record_signature(key.signer, signed_at, key.digest)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let lines = |records: Vec<crate::store::CommandRecord>| {
            records.into_iter().map(|r| r.line).collect::<Vec<_>>()
        };
        assert_eq!(
            lines(alpha.commands_recorded(&key).await.unwrap()),
            ["UNSUBSCRIBE: you left alpha"]
        );
        assert_eq!(
            lines(beta.commands_recorded(&key).await.unwrap()),
            ["UNSUBSCRIBE refused: beta"]
        );
        // The same message again on either list is a replay there.
        let mut tx = beta.write(signed_at).await.unwrap();
        assert!(
            tx.record_signature(key.signer, signed_at, key.digest)
                .await
                .is_err()
        );
    }
}
