//! `embargo serve`: the scheduler and the outbox workers in one loop.
//!
//! Each turn: check that the wall clock still agrees with the monotonic
//! clock, run one scheduler pass ([`App::prepare`]), send what is due
//! ([`App::deliver_due`]), then wait until the next copy is due, at most a
//! second, or until the CLI pokes the wake socket after adding work
//! (`<database>.wake`; the one-second poll is the fallback when a poke is
//! lost), or until SIGTERM/SIGINT. A wall clock that jumps holds all sending but the
//! maintainers' alert until it agrees again; so does a clock that starts
//! behind the newest instant the database has recorded, until it passes
//! that instant. A pass that fails is retried
//! with backoff, logged once per change and alerted about when it lasts
//! (see [`super::health`]); a failed scheduler step does not stop
//! delivery.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::App;
use super::clock_guard::{ClockCheck, ClockGuard, behind_record};
use super::health::Health;
use crate::compose::Kind;
use crate::mail::Transport;

impl App {
    /// Runs until `stop` turns true. The caller holds the daemon lock.
    pub async fn daemon(
        self: Arc<Self>,
        transport: Transport,
        stop: watch::Receiver<bool>,
        wake: Arc<tokio::sync::Notify>,
    ) -> Result<()> {
        let guard = ClockGuard::new(
            self.now(),
            Instant::now(),
            self.config.delivery.clock_tolerance,
        );
        let mut held = false;
        // The start-up work (the lease sweep and the clock check against
        // the database) needs storage, which may be failing at start too:
        // it is retried, with the same backoff as a pass, until it works.
        let mut behind: Option<Option<DateTime<Utc>>> = None;
        let mut health = Health::new(self.config.delivery.alert_after);
        let mut failing_steps = std::collections::BTreeSet::new();
        let mut stop_wait = stop.clone();
        tracing::info!(
            transport = transport_name(&transport),
            "embargo serve is running"
        );
        loop {
            if *stop.borrow() {
                break;
            }
            if behind.is_none() {
                match self.start_up().await {
                    Ok(found) => {
                        held = found.is_some();
                        behind = Some(found);
                    }
                    Err(err) => {
                        let wait = self.failed(&mut health, &err).await;
                        tokio::select! {
                            () = tokio::time::sleep(wait) => {}
                            _ = stop_wait.changed() => {}
                        }
                        continue;
                    }
                }
            }
            let check = match behind.as_mut() {
                Some(behind) => self.clock_check(&guard, behind),
                None => guard.check(self.now(), Instant::now()),
            };
            let result = match check {
                ClockCheck::Jumped(seconds) => {
                    if !held {
                        held = true;
                        tracing::error!(
                            drift_seconds = seconds,
                            "the wall clock jumped: sending is held until it agrees with the monotonic clock again (or restart embargo serve to accept the new time)"
                        );
                        let line = format!(
                            "the server's wall clock moved by {seconds} s against its monotonic clock; \
                             embargo serve sends nothing until the clock is consistent again or the daemon is restarted"
                        );
                        if let Err(err) = self
                            .alert_maintainers("sending held: the clock jumped", &[line])
                            .await
                        {
                            tracing::error!(error = %format!("{err:#}"), "could not queue the alert");
                        }
                    }
                    // Only maintainers' alerts go out while time is suspect.
                    self.deliver_due(&transport, stop.clone(), Some(Kind::Report))
                        .await
                        .map(drop)
                }
                ClockCheck::Consistent => {
                    if held {
                        held = false;
                        tracing::warn!("the wall clock is consistent again; sending resumes");
                    }
                    self.turn(&transport, &stop, &mut failing_steps).await
                }
            };
            let wait = match result {
                Ok(()) => {
                    self.recovered(&mut health).await;
                    self.wait_time().await
                }
                Err(err) => self.failed(&mut health, &err).await,
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stop_wait.changed() => {}
                () = wake.notified() => {}
            }
        }
        tracing::info!("embargo serve stopped");
        Ok(())
    }

    /// After a pass that worked: logs the end of an outage and queues the
    /// report owed to maintainers about it.
    async fn recovered(&self, health: &mut Health) {
        if let Some(recovered) = health.succeeded(Instant::now()) {
            tracing::warn!(
                blocked_seconds = recovered.blocked_for.as_secs(),
                failed_passes = recovered.failures,
                "passes work again; sending resumes"
            );
        }
        if let Some(notice) = health.owed().cloned() {
            match self.alert_maintainers(&notice.title, &notice.lines).await {
                Ok(()) => health.owed_queued(),
                Err(err) => {
                    tracing::error!(error = %format!("{err:#}"), "could not queue the report to maintainers; trying again");
                }
            }
        }
    }

    /// After a failed pass: logs the error when it is new, alerts
    /// maintainers once sending has been blocked long enough, and answers
    /// how long to wait before trying again.
    async fn failed(&self, health: &mut Health, err: &anyhow::Error) -> Duration {
        let text = format!("{err:#}");
        let after = health.failed(&text, Instant::now());
        if after.log {
            tracing::error!(
                error = %text,
                retry_in_seconds = after.delay.as_secs(),
                "pass failed; retrying with backoff (logged again only if the error changes)"
            );
        }
        if let Some(alert) = after.alert {
            match self.alert_maintainers(&alert.title, &alert.lines).await {
                Ok(()) => {
                    health.alert_queued();
                    tracing::error!("sending is blocked; maintainers are alerted");
                }
                // Usually the same fault: tried again after the next
                // failure, or reported once the pass works.
                Err(err) => {
                    tracing::debug!(error = %format!("{err:#}"), "could not queue the alert yet");
                }
            }
        }
        after.delay
    }

    /// One pass: the scheduler, then delivery, which runs even when the
    /// scheduler failed (copies already queued do not depend on it).
    async fn turn(
        self: &Arc<Self>,
        transport: &Transport,
        stop: &watch::Receiver<bool>,
        failing_steps: &mut std::collections::BTreeSet<String>,
    ) -> Result<()> {
        // The scheduler pass runs in one daemon at a time per list; the
        // others only deliver (their claims skip each other's copies).
        let prepared = match self.scheduler_lease().await {
            Ok(true) => self.prepare().await,
            Ok(false) => Ok(super::scheduler::Prepared::default()),
            Err(err) => Err(err),
        };
        if let Ok(prepared) = &prepared {
            log_steps(failing_steps, &prepared.failed);
            if prepared.sealed > 0 || prepared.missed > 0 || !prepared.disclosed.is_empty() {
                tracing::info!(
                    sealed = prepared.sealed,
                    missed = prepared.missed,
                    disclosed = prepared.disclosed.len(),
                    "scheduler pass"
                );
            }
        }
        let tally = self.deliver_due(transport, stop.clone(), None).await?;
        if tally.sent + tally.retry + tally.failed + tally.uncertain + tally.dropped + tally.missed
            > 0
        {
            tracing::info!(
                sent = tally.sent,
                retry = tally.retry,
                failed = tally.failed,
                uncertain = tally.uncertain,
                dropped = tally.dropped,
                missed = tally.missed,
                "delivery pass"
            );
        }
        prepared.map(drop)
    }

    /// What `serve` does once, as soon as storage lets it: return the
    /// copies a previous run left claimed, and check the clock against
    /// the database (answers the recorded instant the clock is behind).
    async fn start_up(&self) -> Result<Option<DateTime<Utc>>> {
        self.sweep_at_start().await?;
        self.check_clock_at_start().await
    }

    /// At start the wall clock is taken on trust by nothing else: compare
    /// it with the newest instant the database has recorded, which was
    /// "now" when it was written. A clock behind it went backwards (a
    /// reset RTC, a restored VM) and cannot be trusted with embargo
    /// times, signature ages or key expiry; the daemon then sends only
    /// maintainers' alerts (one goes out now) and answers that instant.
    async fn check_clock_at_start(&self) -> Result<Option<DateTime<Utc>>> {
        let now = self.now();
        let known = self.newest_known.lock().ok().and_then(|slot| *slot);
        let newest = match known {
            Some(newest) => newest,
            None => self.store.newest_instant().await?,
        };
        let Some(newest) = newest else {
            return Ok(None);
        };
        let Some(by) = behind_record(now, newest, self.config.delivery.clock_tolerance) else {
            return Ok(None);
        };
        let newest_text = crate::clock::format_instant(newest);
        tracing::error!(
            behind_seconds = by.num_seconds(),
            newest_recorded = %newest_text,
            "the wall clock is behind the newest instant the database has recorded: sending is held until the clock passes it (or restart embargo serve once the clock is right)"
        );
        let line = format!(
            "at start, the server's wall clock read {} — {} s behind the newest instant this list's database has recorded ({newest_text}); \
             embargo serve sends nothing but these alerts until the clock passes that instant, or until it is restarted with the clock put right",
            crate::clock::format_instant(now),
            by.num_seconds()
        );
        if let Err(err) = self
            .alert_maintainers("sending held: the clock is behind the database", &[line])
            .await
        {
            tracing::error!(error = %format!("{err:#}"), "could not queue the alert");
        }
        Ok(Some(newest))
    }

    /// The clock check of one turn: behind the recorded instant at start
    /// (until the clock passes it), else the wall-against-monotonic guard.
    fn clock_check(&self, guard: &ClockGuard, behind: &mut Option<DateTime<Utc>>) -> ClockCheck {
        let now = self.now();
        if let Some(newest) = *behind {
            match behind_record(now, newest, self.config.delivery.clock_tolerance) {
                Some(by) => return ClockCheck::Jumped(-by.num_seconds()),
                None => {
                    *behind = None;
                    tracing::warn!(
                        "the wall clock has passed the newest instant the database recorded"
                    );
                }
            }
        }
        guard.check(now, Instant::now())
    }

    /// Returns every copy a previous run had claimed to the queue: on
    /// SQLite the lock proves they are orphaned. On PostgreSQL another
    /// daemon's live leases are not, so only expired ones return.
    async fn sweep_at_start(&self) -> Result<()> {
        let mut tx = self.store.write(self.now()).await?;
        let swept = tx.sweep_leases(self.store.sole_sender()).await?;
        tx.commit().await?;
        if swept > 0 {
            tracing::warn!(
                copies = swept,
                "returned copies claimed by a previous run to the queue; they keep their Message-IDs"
            );
        }
        Ok(())
    }

    /// Takes or renews this process's lease on the list's scheduler pass
    /// (see `store::WriteTx::take_lease`): answers whether it holds it.
    async fn scheduler_lease(&self) -> Result<bool> {
        let now = self.now();
        // Renewed once half of it has run, not on every pass: a write per
        // list per second would be most of an idle daemon's work.
        let known = self.lease_known.lock().ok().and_then(|slot| *slot);
        match known {
            Some(Lease::Held(until)) if now < until - SCHEDULER_LEASE / 2 => return Ok(true),
            // Another daemon holds it: asking again on every pass of every
            // list would be most of this daemon's writes; a holder that
            // died is taken over within the lease and this wait.
            Some(Lease::Elsewhere(ask_at)) if now < ask_at => return Ok(false),
            _ => {}
        }
        let until = now + SCHEDULER_LEASE;
        let mut tx = self.store.write(now).await?;
        let held = tx.take_lease("scheduler", &process_holder(), until).await?;
        // Where several daemons send (PostgreSQL), the lease holder also
        // returns copies whose claim expired to the queue: a daemon that
        // died mid-send left them, and nobody restarts to sweep them.
        let swept = if held && !self.store.sole_sender() {
            tx.sweep_leases(false).await?
        } else {
            0
        };
        tx.commit().await?;
        if swept > 0 {
            tracing::warn!(
                copies = swept,
                "returned copies whose claim expired to the queue (a daemon stopped while sending them); they keep their Message-IDs"
            );
        }
        if let Ok(mut slot) = self.lease_known.lock() {
            *slot = Some(if held {
                Lease::Held(until)
            } else {
                Lease::Elsewhere(now + SCHEDULER_LEASE / 3)
            });
        }
        Ok(held)
    }

    /// Until the next copy is due, at most a second.
    async fn wait_time(&self) -> Duration {
        let ceiling = Duration::from_secs(1);
        match self.store.next_due().await {
            Ok(Some(next)) => (next - self.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .clamp(Duration::from_millis(5), ceiling),
            _ => ceiling,
        }
    }
}

/// What this process knows of a list's scheduler lease.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lease {
    /// Held by this process until then.
    Held(DateTime<Utc>),
    /// Held by another daemon; not asked for again before then.
    Elsewhere(DateTime<Utc>),
}

/// How long a daemon's hold on a list's scheduler pass lasts without
/// renewal: a daemon that died hands the pass over within this.
const SCHEDULER_LEASE: chrono::Duration = chrono::Duration::seconds(15);

/// This process among the daemons sharing a database: host, pid and a
/// random part (a pid is reused after a restart).
fn process_holder() -> String {
    static HOLDER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOLDER
        .get_or_init(|| {
            let host = rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned();
            let mut random = [0u8; 8];
            let _ = getrandom::fill(&mut random);
            let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
            format!("{host}:{}:{random}", std::process::id())
        })
        .clone()
}

/// Logs scheduler steps that started failing or work again, once each:
/// a step that keeps failing is not logged on every pass.
fn log_steps(failing: &mut std::collections::BTreeSet<String>, now_failing: &[String]) {
    let now: std::collections::BTreeSet<String> = now_failing.iter().cloned().collect();
    for step in now.difference(failing) {
        tracing::error!(step = %step, "a scheduler step failed; the others and delivery go on");
    }
    for step in failing.difference(&now) {
        tracing::info!(step = %step, "a scheduler step that failed works again");
    }
    *failing = now;
}

fn transport_name(transport: &Transport) -> &'static str {
    match transport {
        Transport::Smtp(_) => "smtp",
        Transport::Maildir(_) => "maildir",
    }
}
