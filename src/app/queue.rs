//! The operator's hands on the outbox: list, run once, retry, hold,
//! release.

use std::sync::Arc;

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::App;
use super::advisory::{Force, enforce, with_override};
use super::input::{self, Field, InputError, Problem};
use super::outcome::Tally;
use super::scheduler::{Prepared, effective_disclosure};
use crate::advisory::policy;
use crate::advisory::time::format_utc;
use crate::advisory::{AdvisoryId, Change, Status};
use crate::audit::{Actor, Record};
use crate::compose::Kind;
use crate::store::{DeliveryState, QueueRow, StoredAdvisory};
use crate::text::Reason;

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
    /// exit. Takes the daemon lock on SQLite, so it never races `embargo
    /// serve`; on PostgreSQL it shares the work with running daemons as
    /// they share it with each other.
    pub async fn queue_run(self: &Arc<Self>) -> Result<(Prepared, Tally)> {
        let _lock = crate::store::lock_sender(&self.config.storage.location())?;
        {
            let mut tx = self.write(self.now()).await?;
            tx.sweep_leases(self.store.sole_sender()).await?;
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

    /// Holds an advisory's disclosure until `until`, or one copy. With
    /// `force`, a hold may take the embargo past the policy's limits
    /// (`reason` says why, in the audit log).
    pub async fn hold(
        &self,
        target: &str,
        until: Option<&str>,
        reason: &Reason,
        force: bool,
    ) -> Result<String> {
        let said = self
            .hold_with(target, until, reason, Actor::Operator, force)
            .await?;
        // Sealed now, while the operator watches, like an edit.
        self.prepare_now().await;
        Ok(said)
    }

    /// [`App::hold`] on behalf of `actor` (a maintainer's signed HOLD),
    /// which cannot override the embargo policy. A member holds an
    /// advisory's disclosure, never one of the outbox's copies (their
    /// numbers are the operator's), so `advisory` must be an advisory id.
    pub(crate) async fn hold_as(
        &self,
        advisory: &str,
        until: &str,
        reason: &Reason,
        actor: Actor,
    ) -> Result<String> {
        let id =
            AdvisoryId::parse(advisory).map_err(|err| InputError::refused(Field::Advisory, err))?;
        self.hold_disclosure(&id, Some(until), reason, actor, false)
            .await
    }

    async fn hold_with(
        &self,
        target: &str,
        until: Option<&str>,
        reason: &Reason,
        actor: Actor,
        force: bool,
    ) -> Result<String> {
        let now = self.now();
        match Target::parse(target)? {
            Target::Delivery(id) => {
                if until.is_some() {
                    bail!(
                        "--until is for advisories; a held copy waits for `embargo queue release {id}`"
                    );
                }
                let mut tx = self.write(now).await?;
                match tx.hold_delivery(id, reason).await? {
                    None => bail!("no copy {id} in the outbox"),
                    Some(DeliveryState::Queued | DeliveryState::Uncertain) => {}
                    Some(state) => {
                        bail!("copy {id} is {state}; only a queued or uncertain copy can be held")
                    }
                }
                tx.append_audit(
                    &Record::new(actor.clone(), "queue.hold", format!("delivery:{id}"))
                        .reason(Some(reason)),
                )
                .await?;
                tx.commit().await?;
                Ok(format!(
                    "copy {id} is held until `embargo queue release {id}`"
                ))
            }
            Target::Advisory(id) => self.hold_disclosure(&id, until, reason, actor, force).await,
        }
    }

    /// Reads the time a hold moves `id`'s disclosure to, then holds it.
    async fn hold_disclosure(
        &self,
        id: &AdvisoryId,
        until: Option<&str>,
        reason: &Reason,
        actor: Actor,
        force: bool,
    ) -> Result<String> {
        let Some(until) = until else {
            return Err(InputError::missing(Field::HoldUntil, "holding a disclosure").into());
        };
        let until = input::instant(Field::HoldUntil, until)?;
        if until <= self.now() {
            return Err(InputError::new(Field::HoldUntil, Problem::NotFuture).into());
        }
        self.hold_advisory(id, until, reason, actor, force).await
    }

    /// Moves an advisory's disclosure later. A hold never brings it
    /// forward: that would be an early disclosure, which only
    /// `advisory disclose --now --reason` makes (audited as one). Past the
    /// policy's limits it needs `force`, like any other date change. The
    /// hold is a new revision whose one change is the disclosure time, so
    /// copies sealed with the old time stop, and members already told get
    /// an update saying the date moved.
    async fn hold_advisory(
        &self,
        id: &AdvisoryId,
        until: DateTime<Utc>,
        reason: &Reason,
        actor: Actor,
        force: bool,
    ) -> Result<String> {
        let now = self.now();
        let mut tx = self.write(now).await?;
        let Some(stored) = tx.advisory(id).await? else {
            bail!("no advisory {id}");
        };
        let advisory = &stored.advisory;
        if !matches!(advisory.status, Status::Scheduled | Status::Notified) {
            bail!(
                "advisory {id} is {}; only a scheduled or notified advisory's disclosure can be held",
                advisory.status
            );
        }
        let current = effective_disclosure(&stored);
        if until <= current && !matches!(actor, Actor::Operator) {
            // A member's signed HOLD is told what it may do by mail; the
            // operator's commands below are no use to them.
            bail!(
                "a hold only moves a disclosure later, and {id} is due at {}: {} is not later; \
                 publishing earlier is an operator's decision",
                format_utc(current),
                format_utc(until),
            );
        }
        if until <= current {
            bail!(
                "a hold only moves a disclosure later, and {id} is due at {}: {} is not later. \
                 To publish earlier, break the embargo with `embargo advisory disclose {id} --now --reason TEXT`{}",
                format_utc(current),
                format_utc(until),
                if stored.hold.is_some() {
                    format!(", or return to the original time with `embargo queue release {id}`")
                } else {
                    format!(
                        ", or move the date with `embargo advisory edit {id} --disclose-at TIME` (checked against the embargo policy)"
                    )
                }
            );
        }
        let mut moved = advisory.content.clone();
        moved.disclose_at = until;
        let first_notice = advisory.announce_at.unwrap_or(now);
        let verdict = policy::check(&self.config.embargo, &moved, first_notice, now);
        if !verdict.refusals.is_empty() && !matches!(actor, Actor::Operator) {
            let reasons: Vec<String> = verdict
                .refusals
                .iter()
                .map(|b| format!("{} ({})", b.message, b.rule))
                .collect();
            bail!(
                "refused by the embargo policy: {}; a signed HOLD cannot override the policy, \
                 an operator at the server can",
                reasons.join("; ")
            );
        }
        let forced = enforce(
            &verdict,
            &Force {
                force,
                reason: Some(reason.clone()),
            },
        )?;
        let revision = self
            .move_disclosure(&mut tx, &stored, current, until, "held")
            .await?;
        tx.set_hold(stored.row, Some((until, reason))).await?;
        let record = Record::new(actor, "advisory.hold", subject(id))
            .reason(Some(reason))
            .detail("from", crate::clock::format_instant(current))
            .detail("until", crate::clock::format_instant(until))
            .detail("revision", revision.to_string());
        tx.append_audit(&with_override(record, forced.as_ref(), &verdict))
            .await?;
        tx.commit().await?;
        Ok(format!(
            "the disclosure of {id} is held until {}",
            super::advisory_view::both_times(until)
        ))
    }

    /// Records a new disclosure time as a revision of its own: copies of
    /// the advisory's embargoed kinds that have not gone out stop (the
    /// next pass seals them again with the new time), and those already
    /// told get an update.
    async fn move_disclosure(
        &self,
        tx: &mut crate::store::WriteTx,
        stored: &StoredAdvisory,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        why: &str,
    ) -> Result<u32> {
        let change = Change {
            field: "disclose_at".to_owned(),
            old: format_utc(from),
            new: format_utc(to),
        };
        let advisory = &stored.advisory;
        let revision = tx
            .revise_advisory(&advisory.id, &advisory.content, &[change])
            .await?;
        tx.drop_pending(
            stored.row,
            &Kind::TOLD,
            &format!("superseded by revision {revision} (disclosure {why})"),
        )
        .await?;
        tx.supersede_reminders(stored.row).await?;
        // Copies may have gone out before the status says so (the pass
        // that marks it notified runs after sealing): the update's
        // audience, read when it is sealed, decides who hears.
        let told_maybe = advisory.status == Status::Notified
            || advisory.announce_at.is_some_and(|at| at <= tx.now());
        if told_maybe {
            tx.plan_announcement(Kind::Update, stored.row, revision, tx.now())
                .await?;
        }
        Ok(revision)
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
                let said = self.release_advisory(&id, now).await?;
                self.prepare_now().await;
                Ok(said)
            }
        }
    }
}

impl App {
    /// Takes a hold off: the disclosure goes back to the advisory's own
    /// time, which members were first told and the policy accepted. That
    /// is earlier than the hold, so it is allowed only while that time is
    /// still ahead; once it has passed, a release would publish at once,
    /// which is a decision to break the embargo and is refused (with the
    /// commands that do it knowingly).
    async fn release_advisory(&self, id: &AdvisoryId, now: DateTime<Utc>) -> Result<String> {
        let mut tx = self.write(now).await?;
        let Some(stored) = tx.advisory(id).await? else {
            bail!("no advisory {id}");
        };
        let Some((held_until, _)) = stored.hold.clone() else {
            bail!("the disclosure of {id} is not held");
        };
        if !matches!(stored.advisory.status, Status::Scheduled | Status::Notified) {
            bail!(
                "advisory {id} is {}; there is no disclosure left to release",
                stored.advisory.status
            );
        }
        let original = stored.advisory.content.disclose_at;
        if original <= now {
            bail!(
                "the disclosure of {id} was first due at {}, which has passed: releasing the hold \
                 would publish it at once. To publish now, run `embargo advisory disclose {id} --now --reason TEXT`; \
                 to move the date, `embargo queue hold {id} --until TIME`",
                format_utc(original)
            );
        }
        let revision = self
            .move_disclosure(&mut tx, &stored, held_until, original, "released")
            .await?;
        tx.set_hold(stored.row, None).await?;
        tx.append_audit(
            &Record::new(Actor::Operator, "advisory.release", subject(id))
                .detail("from", crate::clock::format_instant(held_until))
                .detail("until", crate::clock::format_instant(original))
                .detail("revision", revision.to_string()),
        )
        .await?;
        tx.commit().await?;
        Ok(format!(
            "the disclosure of {id} is back at {}",
            super::advisory_view::both_times(original)
        ))
    }
}

fn subject(id: &AdvisoryId) -> String {
    format!("advisory:{}", id.normalized())
}
