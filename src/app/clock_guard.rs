//! The daemon's clock checks, pure: the wall clock against the monotonic
//! clock since start (a jump holds sending), and the wall clock at start
//! against the newest instant the database recorded.

use std::time::Instant;

use chrono::{DateTime, Utc};

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

/// How far `now` is behind `newest`, when that is more than `tolerance`.
pub fn behind_record(
    now: DateTime<Utc>,
    newest: DateTime<Utc>,
    tolerance: chrono::Duration,
) -> Option<chrono::Duration> {
    let by = newest - now;
    (by > tolerance).then_some(by)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
