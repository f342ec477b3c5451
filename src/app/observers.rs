//! The foundation's observers: people outside every list who receive the
//! instance's counts (`instance report`, the encrypted digest) and never
//! an advisory or a member's address.
//!
//! Observers belong to the instance, not to a list. Adding and removing
//! one is recorded in the audit chain of the home list (the list the
//! config's `[list]` table describes), so the change is as accountable as
//! any change to a roster.

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::App;
use super::instance_report::{self, InstanceReport};
use super::lists::Instance;
use crate::audit::{Actor, Record};
use crate::clock::{Clock, format_instant};
use crate::roster::Email;
use crate::store::ObserverRow;
use crate::text::Reason;

/// An observer as `observer ls` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct ObserverView {
    pub email: String,
    pub fingerprint: String,
    pub created_at: String,
}

impl From<&ObserverRow> for ObserverView {
    fn from(row: &ObserverRow) -> Self {
        Self {
            email: row.email.to_string(),
            fingerprint: row.fingerprint.clone(),
            created_at: format_instant(row.created_at),
        }
    }
}

/// What `observer add` did.
#[derive(Debug, Clone)]
pub struct AddedObserver {
    pub observer: ObserverView,
    /// Things about the certificate worth telling the operator.
    pub warnings: Vec<String>,
}

fn audit_subject(email: &Email) -> String {
    format!("observer:{}", email.normalized())
}

fn checked_reason(reason: &str) -> Result<Reason> {
    Reason::parse(reason).context("--reason")
}

impl Instance {
    /// The home list (the config's `[list]`), on which observers' changes
    /// are audited and whose daemon loop sends the digest.
    async fn home(&self, clock: Box<dyn Clock>) -> Result<App> {
        let lists = self.lists().await?;
        let home = lists.iter().find(|row| {
            Email::parse(&row.address).is_ok_and(|address| self.config.is_own_list(&address))
        });
        let Some(row) = home else {
            bail!(
                "no list here has the [list] address {} (run `embargo init` first)",
                self.config.list.address
            );
        };
        self.app(row, clock).await
    }

    /// Adds an observer with their certificate, checked with the same
    /// policy as a member's. Refuses an address that already observes or
    /// that is a list's own, and a certificate that fails the policy;
    /// nothing is stored then.
    pub async fn add_observer(
        &self,
        clock: Box<dyn Clock>,
        email: &str,
        cert: &[u8],
        reason: &str,
    ) -> Result<AddedObserver> {
        let email = Email::parse(email).context("the observer's address")?;
        let reason = checked_reason(reason)?;
        if let Some(list) = self.by_recipient(&email).await? {
            bail!(
                "refused: {email} is an address of the list {}; the digest would loop back into embargo",
                list.name
            );
        }
        let home = self.home(clock).await?;
        let now = home.now();
        let checked = crate::pgp::check_member_cert(cert, &email, &home.cert_policy(), now)
            .map_err(|err| anyhow::anyhow!("refused: the observer's certificate (--key): {err}"))?;
        let mut tx = home.store.write(now).await?;
        if tx.has_observer(&email).await? {
            bail!("refused: {email} is already an observer");
        }
        tx.insert_observer(&email, &checked.fingerprint, &checked.bytes)
            .await?;
        tx.append_audit(
            &Record::new(Actor::Operator, "observer.add", audit_subject(&email))
                .reason(Some(&reason))
                .detail("fingerprint", checked.fingerprint.clone()),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(fingerprint = %checked.fingerprint, "added an observer");
        Ok(AddedObserver {
            observer: ObserverView {
                email: email.to_string(),
                fingerprint: checked.fingerprint,
                created_at: format_instant(now),
            },
            warnings: checked.warnings,
        })
    }

    /// Removes an observer: no digest is sealed for them from now on, and
    /// copies of one queued for them (a server that keeps deferring it)
    /// are stopped.
    pub async fn remove_observer(
        &self,
        clock: Box<dyn Clock>,
        email: &str,
        reason: &str,
    ) -> Result<()> {
        let email = Email::parse(email).context("the observer's address")?;
        let reason = checked_reason(reason)?;
        let home = self.home(clock).await?;
        let now = home.now();
        let mut tx = home.store.write(now).await?;
        if !tx.delete_observer(&email).await? {
            bail!("no observer with address {email}");
        }
        let dropped = tx.drop_digests_to(&email).await?;
        tx.append_audit(
            &Record::new(Actor::Operator, "observer.remove", audit_subject(&email))
                .reason(Some(&reason))
                .detail("copies_dropped", dropped.to_string()),
        )
        .await?;
        tx.commit().await?;
        tracing::info!("removed an observer");
        Ok(())
    }

    /// Every observer, by address.
    pub async fn observers(&self) -> Result<Vec<ObserverView>> {
        Ok(self
            .store
            .observers()
            .await?
            .iter()
            .map(ObserverView::from)
            .collect())
    }

    /// The counts of every list at the clock's now.
    pub async fn report(&self, clock: &dyn Clock) -> Result<InstanceReport> {
        instance_report::build(&self.store, &self.config, clock.now()).await
    }
}
