//! `embargo serve`: the scheduler and the outbox workers in one loop.
//!
//! Each turn: check that the wall clock still agrees with the monotonic
//! clock, run one scheduler pass ([`App::prepare`]), send what is due
//! ([`App::deliver_due`]), then wait until the next copy is due, at most a
//! second, or until the CLI pokes the wake socket after adding work
//! (`<database>.wake`; the one-second poll is the fallback when a poke is
//! lost), or until SIGTERM/SIGINT. A wall clock that jumps holds all sending but the
//! maintainers' alert until it agrees again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::App;
use crate::mail::Transport;
use crate::store::WakeSocket;

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
        let guard = ClockGuard::new(
            self.now(),
            Instant::now(),
            self.config.delivery.clock_tolerance,
        );
        let mut held = false;
        let mut stop_wait = stop.clone();
        let wake = self.wake_socket();
        tracing::info!(
            transport = transport_name(&transport),
            "embargo serve is running"
        );
        loop {
            if *stop.borrow() {
                break;
            }
            match guard.check(self.now(), Instant::now()) {
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
                        tracing::warn!(
                            "the wall clock agrees with the monotonic clock again; sending resumes"
                        );
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
                () = woken(wake.as_ref()) => {}
            }
        }
        tracing::info!("embargo serve stopped");
        Ok(())
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

    /// Binds the wake socket the CLI pokes after adding work, and stops
    /// this process's own commits from poking it. Without the socket the
    /// daemon still notices work within a second.
    fn wake_socket(&self) -> Option<WakeSocket> {
        self.store.mute_wake();
        match WakeSocket::bind(&self.config.storage.database) {
            Ok(socket) => Some(socket),
            Err(err) => {
                tracing::warn!(
                    error = %format!("{err:#}"),
                    "no wake socket: new work from the CLI is noticed within a second instead of at once"
                );
                None
            }
        }
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

/// Returns when the CLI pokes the wake socket; never without one.
async fn woken(wake: Option<&WakeSocket>) {
    match wake {
        Some(socket) => socket.woken().await,
        None => std::future::pending().await,
    }
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
}
