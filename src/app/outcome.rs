//! What a send's outcome means for its copy: the retry ladder, the state
//! it moves to, and the tally a delivery run reports.

use chrono::{DateTime, Utc};

use crate::config::{DeliverySettings, UncertainPolicy};
use crate::mail::Outcome;
use crate::store::{Claimed, Completion, DeliveryState};

/// What one delivery run did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Tally {
    pub sent: u64,
    pub retry: u64,
    pub failed: u64,
    pub uncertain: u64,
    pub dropped: u64,
    pub missed: u64,
}

impl Tally {
    /// Adds what another run did.
    pub fn add(&mut self, other: Tally) {
        self.sent += other.sent;
        self.retry += other.retry;
        self.failed += other.failed;
        self.uncertain += other.uncertain;
        self.dropped += other.dropped;
        self.missed += other.missed;
    }

    pub(super) fn count(&mut self, completion: &Completion) {
        match completion.state {
            DeliveryState::Sent => self.sent += 1,
            DeliveryState::Queued => self.retry += 1,
            DeliveryState::Failed => self.failed += 1,
            DeliveryState::Uncertain => self.uncertain += 1,
            DeliveryState::Dropped => self.dropped += 1,
            DeliveryState::Missed => self.missed += 1,
            DeliveryState::Sending => {}
        }
    }
}

/// The next attempt after `attempts` tries of a copy first due at `due`:
/// a doubling ladder from `retry_first`, capped at `retry_max`; `None`
/// once the copy's lifetime (`give_up_after` from `due`) is over.
pub fn next_attempt(
    settings: &DeliverySettings,
    attempts: i64,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let delay = settings
        .retry_first
        .checked_mul(1_i32 << exponent.min(30))
        .unwrap_or(settings.retry_max)
        .min(settings.retry_max);
    let next = now + delay;
    (next <= due + settings.give_up_after).then_some(next)
}

/// What a result means for the row, after `attempts` (this one included).
pub(super) fn complete(
    settings: &DeliverySettings,
    claimed: &Claimed,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> Completion {
    let attempts = claimed.attempts + 1;
    let (state, next_attempt_at, reply) = match outcome {
        Outcome::Sent(reply) => (DeliveryState::Sent, None, reply),
        Outcome::Failed(reply) => (DeliveryState::Failed, None, reply),
        Outcome::Retry(reply) => match next_attempt(settings, attempts, claimed.due_at, now) {
            Some(next) => (DeliveryState::Queued, Some(next), reply),
            None => (
                DeliveryState::Failed,
                None,
                format!("gave up after {attempts} attempts: {reply}"),
            ),
        },
        Outcome::Uncertain(reply) => match settings.uncertain {
            UncertainPolicy::Hold => (DeliveryState::Uncertain, None, reply),
            UncertainPolicy::Resend => (
                DeliveryState::Uncertain,
                next_attempt(settings, attempts, claimed.due_at, now),
                reply,
            ),
        },
    };
    Completion {
        id: claimed.id,
        lease_gen: claimed.lease_gen,
        state,
        next_attempt_at,
        reply,
        attempted: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn settings() -> DeliverySettings {
        crate::config::Config::parse(
            "[list]\naddress = \"a@example.org\"\n",
            std::path::Path::new("/x/embargo.toml"),
        )
        .expect("config")
        .delivery
    }

    #[test]
    fn retries_double_from_a_minute_up_to_an_hour_and_stop_after_three_days() {
        let s = settings();
        let due = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        let delays: Vec<i64> = (1..=8)
            .map(|attempts| {
                (next_attempt(&s, attempts, due, due).expect("within lifetime") - due).num_minutes()
            })
            .collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        let late = due + chrono::Duration::days(3) - chrono::Duration::minutes(30);
        assert_eq!(next_attempt(&s, 50, due, late), None);
        assert!(next_attempt(&s, 50, due, late - chrono::Duration::hours(1)).is_some());
    }
}
