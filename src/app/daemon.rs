//! `embargo serve`: the scheduler and the outbox workers in one loop.
//!
//! Each turn: check that the wall clock still agrees with the monotonic
//! clock, run one scheduler pass ([`App::prepare`]), send what is due
//! ([`App::deliver_due`]), then wait until the next copy is due, at most a
//! second (so work the CLI adds is noticed within a second), or until
//! SIGTERM/SIGINT. A wall clock that jumps holds all sending but the
//! maintainers' alert until it agrees again; so does a clock that starts
//! behind the newest instant the database has recorded, until it passes
//! that instant.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::App;
use crate::mail::Transport;

/// Compares the wall clock with the monotonic clock since a baseline.
///
/// NTP slews both clocks alike; only a step (someone setting the clock, a
/// VM resumed, a broken RTC) makes them disagree. Domain logic: it is
/// handed both readings.
#[derive(Debug, Clone)]
pub struct ClockGuard {
    base_wall: DateTime<Utc>,
    base_mono: Instant,
    tolerance: chrono::Duration,
}

/// What the guard concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockCheck {
    Consistent,
    /// The wall clock is ahead of (positive) or behind (negative) where
    /// the monotonic clock says it should be, by this many seconds.
    Jumped(i64),
}

impl ClockGuard {
    pub fn new(wall: DateTime<Utc>, mono: Instant, tolerance: chrono::Duration) -> Self {
        Self {
            base_wall: wall,
            base_mono: mono,
            tolerance,
        }
    }

    pub fn check(&self, wall: DateTime<Utc>, mono: Instant) -> ClockCheck {
        let elapsed = chrono::Duration::from_std(mono.saturating_duration_since(self.base_mono))
            .unwrap_or(chrono::Duration::MAX);
        let expected = self.base_wall + elapsed;
        let drift = wall - expected;
        if drift.abs() > self.tolerance {
            ClockCheck::Jumped(drift.num_seconds())
        } else {
            ClockCheck::Consistent
        }
    }
}

impl App {
    /// Runs until `stop` turns true. The caller holds the daemon lock.
    pub async fn serve(
        self: Arc<Self>,
        transport: Transport,
        stop: watch::Receiver<bool>,
    ) -> Result<()> {
        {
            let mut tx = self.store.write(self.now()).await?;
            let swept = tx.sweep_leases(true).await?;
            tx.commit().await?;
            if swept > 0 {
                tracing::warn!(
                    copies = swept,
                    "returned copies claimed by a previous run to the queue; they keep their Message-IDs"
                );
            }
        }
        let mut behind = self.check_clock_at_start().await?;
        let guard = ClockGuard::new(
            self.now(),
            Instant::now(),
            self.config.delivery.clock_tolerance,
        );
        let mut held = behind.is_some();
        let mut stop_wait = stop.clone();
        tracing::info!(
            transport = transport_name(&transport),
            "embargo serve is running"
        );
        loop {
            if *stop.borrow() {
                break;
            }
            match self.clock_check(&guard, &mut behind) {
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
                    if let Err(err) = self
                        .deliver_due(&transport, stop.clone(), Some("report"))
                        .await
                    {
                        tracing::error!(error = %format!("{err:#}"), "delivery failed");
                    }
                }
                ClockCheck::Consistent => {
                    if held {
                        held = false;
                        tracing::warn!("the wall clock is consistent again; sending resumes");
                    }
                    if let Err(err) = self.turn(&transport, &stop).await {
                        tracing::error!(error = %format!("{err:#}"), "scheduler pass failed; trying again");
                    }
                }
            }
            let wait = self.wait_time().await;
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stop_wait.changed() => {}
            }
        }
        tracing::info!("embargo serve stopped");
        Ok(())
    }

    /// At start the wall clock is taken on trust by nothing else: compare
    /// it with the newest instant the database has recorded, which was
    /// "now" when it was written. A clock behind it went backwards (a
    /// reset RTC, a restored VM) and cannot be trusted with embargo
    /// times, signature ages or key expiry; the daemon then sends only
    /// maintainers' alerts (one goes out now) and answers that instant.
    async fn check_clock_at_start(&self) -> Result<Option<DateTime<Utc>>> {
        let now = self.now();
        let Some(newest) = self.store.newest_instant().await? else {
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

    async fn turn(
        self: &Arc<Self>,
        transport: &Transport,
        stop: &watch::Receiver<bool>,
    ) -> Result<()> {
        let prepared = self.prepare().await?;
        if prepared.sealed > 0 || prepared.missed > 0 || !prepared.disclosed.is_empty() {
            tracing::info!(
                sealed = prepared.sealed,
                missed = prepared.missed,
                disclosed = prepared.disclosed.len(),
                "scheduler pass"
            );
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
        Ok(())
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

/// How far `now` is behind `newest`, when that is more than `tolerance`.
pub fn behind_record(
    now: DateTime<Utc>,
    newest: DateTime<Utc>,
    tolerance: chrono::Duration,
) -> Option<chrono::Duration> {
    let by = newest - now;
    (by > tolerance).then_some(by)
}

fn transport_name(transport: &Transport) -> &'static str {
    match transport {
        Transport::Smtp(_) => "smtp",
        Transport::Maildir(_) => "maildir",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_guard_sees_a_jump_either_way_and_forgives_small_drift() {
        let wall = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        let mono = Instant::now();
        let guard = ClockGuard::new(wall, mono, chrono::Duration::seconds(5));
        let later = mono + Duration::from_secs(600);
        let on_time = wall + chrono::Duration::seconds(600);
        assert_eq!(guard.check(on_time, later), ClockCheck::Consistent);
        assert_eq!(
            guard.check(on_time + chrono::Duration::seconds(4), later),
            ClockCheck::Consistent
        );
        assert_eq!(
            guard.check(on_time + chrono::Duration::hours(1), later),
            ClockCheck::Jumped(3600)
        );
        assert_eq!(
            guard.check(on_time - chrono::Duration::seconds(30), later),
            ClockCheck::Jumped(-30)
        );
        // Time consistent again after the jump is undone.
        assert_eq!(guard.check(on_time, later), ClockCheck::Consistent);
    }

    // At start the daemon took the wall clock on trust: a clock an hour
    // behind what the database had recorded sent and published by it.
    #[test]
    fn a_clock_behind_the_record_beyond_the_tolerance_is_caught_and_ahead_is_fine() {
        let newest = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        let tolerance = chrono::Duration::seconds(5);
        let hour = chrono::Duration::hours(1);
        assert_eq!(behind_record(newest - hour, newest, tolerance), Some(hour));
        let six = chrono::Duration::seconds(6);
        assert_eq!(behind_record(newest - six, newest, tolerance), Some(six));
        assert_eq!(
            behind_record(newest - chrono::Duration::seconds(5), newest, tolerance),
            None
        );
        assert_eq!(behind_record(newest, newest, tolerance), None);
        assert_eq!(behind_record(newest + hour, newest, tolerance), None);
    }
}
