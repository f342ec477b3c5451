//! The scheduler pass: what is due to be sealed, for whom, and the
//! advisory transitions that happen on their own (notified at the announce
//! time, disclosed at the end of the embargo, see `publish.rs`).
//!
//! [`App::prepare`] is one pass of the scheduler. `embargo serve` runs it
//! every second and `embargo queue run` once; the CLI runs it right after
//! an announcement is scheduled so the copies are sealed then. Every step
//! reads the roster afresh and writes with `INSERT OR IGNORE` on (announcement,
//! recipient), so two passes racing (the CLI and the daemon) never queue a
//! copy twice; the advisory kinds are also claimed before they are sealed
//! (`app::sealing`), so they are not sealed twice either.
use std::sync::Arc;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::App;
use super::publish::subject;
use super::seal::Sealer;
use crate::advisory::Status;
use crate::audit::{Actor, Record};
use crate::compose::Kind;
use crate::store::{SealAudience, StoredAdvisory};

/// What one pass did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Prepared {
    /// Copies sealed and queued.
    pub sealed: u64,
    /// Members whose key could not be used.
    pub missed: u64,
    /// Advisories that became public.
    pub disclosed: Vec<String>,
    /// Steps that failed, each with its error; the others went on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
}

impl Prepared {
    /// Adds what another pass did.
    pub fn add(&mut self, other: Prepared) {
        self.sealed += other.sealed;
        self.missed += other.missed;
        self.disclosed.extend(other.disclosed);
        self.failed.extend(other.failed);
    }

    /// Adds what one step did, or that it failed.
    fn step(&mut self, name: &str, result: Result<Prepared>) {
        match result {
            Ok(done) => self.add(done),
            Err(err) => self.failed.push(format!("{name}: {err:#}")),
        }
    }
}

/// The sealer for a pass, made on first use.
#[derive(Default)]
pub(crate) struct SealerSlot(Option<Arc<Sealer>>);

impl App {
    pub(crate) fn sealer(&self, slot: &mut SealerSlot, now: DateTime<Utc>) -> Result<Arc<Sealer>> {
        if let Some(sealer) = &slot.0 {
            return Ok(sealer.clone());
        }
        let sealer = Arc::new(Sealer::from_config(&self.config, now)?);
        slot.0 = Some(sealer.clone());
        Ok(sealer)
    }

    /// One pass of the scheduler at the clock's now: advisories that move
    /// on by themselves, copies to seal, maintainers' reports, recurring
    /// jobs, exports. Each advisory, announcement and job is its own step:
    /// one that fails is listed in [`Prepared::failed`] and the others go
    /// on (a broken one must not hold back independent mail).
    pub async fn prepare(&self) -> Result<Prepared> {
        let now = self.now();
        let mut slot = SealerSlot::default();
        let mut done = Prepared::default();
        for stored in self.store.open_advisories().await? {
            let name = format!("advisory {}", stored.advisory.id);
            let result = self.prepare_advisory(&mut slot, stored, now).await;
            done.step(&name, result);
        }
        for planned in self.store.planned_announcements(now).await? {
            // A row the store cannot read (a kind no version of embargo
            // writes) is a failed step of its own; the others go on.
            let planned = match planned {
                Ok(planned) => planned,
                Err(err) => {
                    done.step("planned announcement", Err(err.into()));
                    continue;
                }
            };
            let name = format!("{} announcement {}", planned.kind.name(), planned.id);
            let result = self.seal_planned(&mut slot, &planned, now).await;
            done.step(&name, result);
        }
        let result = self.report(&mut slot, now).await;
        done.step("maintainers' report", result.map(|()| Prepared::default()));
        let result = self.run_jobs(&mut slot, now).await;
        done.step("key-expiry job", result.map(|()| Prepared::default()));
        let result = self.run_digest(&mut slot, now).await;
        done.step("observers' digest", result.map(|()| Prepared::default()));
        let result = self.run_relays(&mut slot, now).await;
        done.step("team relays", result);
        let result = self.run_case_clock(now).await;
        done.step(
            "cases' acknowledgement clock",
            result.map(|()| Prepared::default()),
        );
        let result = self.write_due_exports(now).await;
        done.step("exports", result.map(|_| Prepared::default()));
        Ok(done)
    }

    async fn prepare_advisory(
        &self,
        slot: &mut SealerSlot,
        stored: StoredAdvisory,
        now: DateTime<Utc>,
    ) -> Result<Prepared> {
        let mut done = Prepared::default();
        let advisory = &stored.advisory;
        let disclose_at = effective_disclosure(&stored);
        if now >= disclose_at {
            self.publish(&stored, Actor::System, None).await?;
            done.disclosed.push(advisory.id.to_string());
            return Ok(done);
        }
        let Some(announce_at) = advisory.announce_at else {
            return Ok(done);
        };
        // The notice, for everyone active who has not had it (all of them
        // at first; later, members who joined since).
        let notice = self
            .store
            .find_announcement(Kind::Notice, stored.row, advisory.revision)
            .await?;
        let untold = self
            .store
            .audience_batch(stored.row, SealAudience::Untold, notice, 0, 1)
            .await?;
        if !untold.is_empty() {
            done.add(
                self.seal_advisory(
                    slot,
                    &stored,
                    Kind::Notice,
                    SealAudience::Untold,
                    announce_at,
                )
                .await?,
            );
        }
        if advisory.status == Status::Scheduled && announce_at <= now {
            let mut tx = self.store.write(now).await?;
            tx.set_advisory_status(&advisory.id, Status::Notified, None)
                .await?;
            tx.append_audit(
                &Record::new(Actor::System, "advisory.notified", subject(&advisory.id))
                    .detail("revision", advisory.revision.to_string()),
            )
            .await?;
            tx.commit().await?;
        }
        // The reminder, sealed a little ahead of its time, to everyone who
        // has (or is about to have) the advisory.
        let before = self.config.delivery.reminder_before;
        if before > chrono::Duration::zero() {
            let remind_at = disclose_at - before;
            if remind_at > announce_at
                && remind_at - self.config.delivery.seal_ahead <= now
                && !self
                    .store
                    .has_sealed_announcement(stored.row, Kind::Reminder)
                    .await?
            {
                done.add(
                    self.seal_advisory(
                        slot,
                        &stored,
                        Kind::Reminder,
                        SealAudience::Informed,
                        remind_at,
                    )
                    .await?,
                );
            }
        }
        Ok(done)
    }

    async fn seal_planned(
        &self,
        slot: &mut SealerSlot,
        planned: &crate::store::PlannedAnnouncement,
        now: DateTime<Utc>,
    ) -> Result<Prepared> {
        let Some(row) = planned.advisory_row else {
            return Ok(Prepared::default());
        };
        let stored = self.store.advisory_by_row(row).await?;
        let kind = planned.kind;
        match kind {
            Kind::Disclosure => self.seal_disclosure(slot, &stored, planned, now).await,
            Kind::Update | Kind::Cancellation => {
                self.seal_advisory(slot, &stored, kind, SealAudience::Told, planned.due_at)
                    .await
            }
            _ => Ok(Prepared::default()),
        }
    }
}

/// When the advisory becomes public: its disclosure time, or the time a
/// maintainer's hold moved it to.
pub fn effective_disclosure(stored: &StoredAdvisory) -> DateTime<Utc> {
    match &stored.hold {
        Some((until, _)) => *until,
        None => stored.advisory.content.disclose_at,
    }
}
