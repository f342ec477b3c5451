//! The operator's hands on the outbox: list, run once, retry, hold,
//! release.

use std::sync::Arc;

use anyhow::{Result, bail};
use tokio::sync::watch;

use super::App;
use super::deliver::Tally;
use super::outbox::Prepared;
use crate::advisory::time::parse_instant;
use crate::advisory::{AdvisoryId, Status};
use crate::audit::{Actor, Record};
use crate::store::{DeliveryState, QueueRow};
use crate::text::single_line;

/// What `queue hold` and `queue release` act on.
#[derive(Debug, Clone)]
pub enum Target {
    Advisory(AdvisoryId),
    Delivery(i64),
}

impl Target {
    /// A number is a copy's id; anything else must be an advisory id.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if let Ok(id) = text.parse::<i64>() {
            return Ok(Target::Delivery(id));
        }
        Ok(Target::Advisory(AdvisoryId::parse(text)?))
    }
}

impl App {
    /// The outbox as `queue list` shows it.
    pub async fn queue_rows(&self, all: bool) -> Result<Vec<QueueRow>> {
        Ok(self.store.queue(all).await?)
    }

    /// `queue run`: one scheduler pass, then every copy due now, then
    /// exit. Takes the daemon lock, so it never races `embargo serve`.
    pub async fn queue_run(self: &Arc<Self>) -> Result<(Prepared, Tally)> {
        let _lock = crate::store::lock_daemon(&self.config.storage.database)?;
        {
            let mut tx = self.write(self.now()).await?;
            tx.sweep_leases(true).await?;
            tx.commit().await?;
        }
        let mut prepared = self.prepare().await?;
        let transport = self.transport()?;
        let (_keep, stop) = watch::channel(false);
        let mut tally = self.deliver_due(&transport, stop, None).await?;
        // Reports about what this run could not deliver are sealed by the
        // next pass and due now: send them too.
        prepared.add(self.prepare().await?);
        let (_keep, stop) = watch::channel(false);
        tally.add(self.deliver_due(&transport, stop, None).await?);
        Ok((prepared, tally))
    }

    /// Sends a failed or uncertain (or held) copy again now, with the same
    /// Message-ID.
    pub async fn retry_delivery(&self, id: i64) -> Result<DeliveryState> {
        let now = self.now();
        let mut tx = self.write(now).await?;
        let Some(state) = tx.requeue(id).await? else {
            bail!("no copy {id} in the outbox (see `embargo queue list --all`)");
        };
        if !matches!(
            state,
            DeliveryState::Failed | DeliveryState::Uncertain | DeliveryState::Queued
        ) {
            bail!("copy {id} is {state}; only a failed, uncertain or held copy can be sent again");
        }
        tx.append_audit(
            &Record::new(Actor::Operator, "queue.retry", format!("delivery:{id}"))
                .detail("was", state.as_str()),
        )
        .await?;
        tx.commit().await?;
        Ok(state)
    }

    /// Holds an advisory's disclosure until `until`, or one copy.
    pub async fn hold(&self, target: &str, until: Option<&str>, reason: &str) -> Result<String> {
        self.hold_as(target, until, reason, Actor::Operator).await
    }

    /// [`App::hold`] on behalf of `actor` (a maintainer's signed HOLD).
    pub(crate) async fn hold_as(
        &self,
        target: &str,
        until: Option<&str>,
        reason: &str,
        actor: Actor,
    ) -> Result<String> {
        let now = self.now();
        let reason = single_line("reason", reason, 1000)?;
        match Target::parse(target)? {
            Target::Delivery(id) => {
                if until.is_some() {
                    bail!(
                        "--until is for advisories; a held copy waits for `embargo queue release {id}`"
                    );
                }
                let mut tx = self.write(now).await?;
                match tx.hold_delivery(id, &reason).await? {
                    None => bail!("no copy {id} in the outbox"),
                    Some(DeliveryState::Queued | DeliveryState::Uncertain) => {}
                    Some(state) => {
                        bail!("copy {id} is {state}; only a queued or uncertain copy can be held")
                    }
                }
                tx.append_audit(
                    &Record::new(actor.clone(), "queue.hold", format!("delivery:{id}"))
                        .reason(Some(&reason)),
                )
                .await?;
                tx.commit().await?;
                Ok(format!(
                    "copy {id} is held until `embargo queue release {id}`"
                ))
            }
            Target::Advisory(id) => {
                let Some(until) = until else {
                    bail!("holding a disclosure needs --until TIME, the new disclosure time");
                };
                let until = parse_instant("--until", until)?;
                if until <= now {
                    bail!("--until must be in the future");
                }
                let mut tx = self.write(now).await?;
                let Some(stored) = tx.advisory(&id).await? else {
                    bail!("no advisory {id}");
                };
                if !matches!(stored.advisory.status, Status::Scheduled | Status::Notified) {
                    bail!(
                        "advisory {id} is {}; only a scheduled or notified advisory's disclosure can be held",
                        stored.advisory.status
                    );
                }
                tx.set_hold(stored.row, Some((until, &reason))).await?;
                tx.supersede_reminders(stored.row).await?;
                tx.append_audit(
                    &Record::new(
                        actor.clone(),
                        "advisory.hold",
                        format!("advisory:{}", id.normalized()),
                    )
                    .reason(Some(&reason))
                    .detail("until", crate::clock::format_instant(until)),
                )
                .await?;
                tx.commit().await?;
                Ok(format!(
                    "the disclosure of {id} is held until {}",
                    super::advisory::both_times(until)
                ))
            }
        }
    }

    /// Releases a hold on an advisory's disclosure, or sends a held or
    /// uncertain copy now.
    pub async fn release(&self, target: &str) -> Result<String> {
        let now = self.now();
        match Target::parse(target)? {
            Target::Delivery(id) => {
                let state = self.retry_delivery(id).await?;
                Ok(format!("copy {id} ({state}) goes out on the next run"))
            }
            Target::Advisory(id) => {
                let mut tx = self.write(now).await?;
                let Some(stored) = tx.advisory(&id).await? else {
                    bail!("no advisory {id}");
                };
                if stored.hold.is_none() {
                    bail!("the disclosure of {id} is not held");
                }
                tx.set_hold(stored.row, None).await?;
                tx.supersede_reminders(stored.row).await?;
                tx.append_audit(&Record::new(
                    Actor::Operator,
                    "advisory.release",
                    format!("advisory:{}", id.normalized()),
                ))
                .await?;
                tx.commit().await?;
                Ok(format!(
                    "the disclosure of {id} is back at {}",
                    super::advisory::both_times(stored.advisory.content.disclose_at)
                ))
            }
        }
    }
}
