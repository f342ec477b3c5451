//! How `embargo serve` lives through failures: back off, say it once,
//! alert maintainers, recover on its own.
//!
//! A pass that fails (the database full or read-only for a while, the
//! maildir unwritable) is tried again after a delay that doubles from one
//! second up to thirty; the error is logged when it first appears and
//! whenever it changes, not on every attempt. When sending has been
//! blocked for `[delivery] alert_after`, maintainers get an alert; when it
//! works again they get an all-clear (or, if the alert could not be
//! queued while storage was down, one report saying how long sending was
//! blocked and that it has recovered). Pure bookkeeping: the caller hands
//! in the monotonic instant and does the logging and queueing.

use std::time::{Duration, Instant};

/// The first delay after a failed pass.
const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest delay between attempts while passes keep failing.
const MAX_DELAY: Duration = Duration::from_secs(30);

/// The daemon's failure bookkeeping.
#[derive(Debug)]
pub struct Health {
    alert_after: Duration,
    outage: Option<Outage>,
    /// A report to maintainers that could not be queued yet.
    owed: Option<Notice>,
}

#[derive(Debug)]
struct Outage {
    since: Instant,
    failures: u32,
    last_error: String,
    alerted: bool,
}

/// A report for maintainers: a title and its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub lines: Vec<String>,
}

/// What to do after a failed pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterFailure {
    /// Wait this long before the next attempt.
    pub delay: Duration,
    /// The error is new (or changed): log it.
    pub log: bool,
    /// Sending has been blocked long enough: queue this alert (and call
    /// [`Health::alert_queued`] once it is queued).
    pub alert: Option<Notice>,
}

/// What happened when a pass worked again after failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    pub blocked_for: Duration,
    pub failures: u32,
}

impl Health {
    pub fn new(alert_after: Duration) -> Self {
        Self {
            alert_after,
            outage: None,
            owed: None,
        }
    }

    /// Records a failed pass at `now`.
    pub fn failed(&mut self, error: &str, now: Instant) -> AfterFailure {
        let outage = self.outage.get_or_insert_with(|| Outage {
            since: now,
            failures: 0,
            last_error: String::new(),
            alerted: false,
        });
        outage.failures = outage.failures.saturating_add(1);
        let log = outage.last_error != error;
        if log {
            error.clone_into(&mut outage.last_error);
        }
        let exponent = outage.failures.saturating_sub(1).min(16);
        let delay = FIRST_DELAY.saturating_mul(1 << exponent).min(MAX_DELAY);
        let blocked_for = now.saturating_duration_since(outage.since);
        let alert = (!outage.alerted && blocked_for >= self.alert_after).then(|| Notice {
            title: "sending is blocked".to_owned(),
            lines: vec![
                format!(
                    "embargo serve has not been able to complete a pass for {} s ({} attempts); nothing is sent until it can",
                    blocked_for.as_secs(),
                    outage.failures
                ),
                format!("the last error: {error}"),
                "it keeps trying and sends what is due as soon as it works again; you will get an all-clear".to_owned(),
            ],
        });
        AfterFailure { delay, log, alert }
    }

    /// The alert asked for by [`Health::failed`] was queued.
    pub fn alert_queued(&mut self) {
        if let Some(outage) = &mut self.outage {
            outage.alerted = true;
        }
    }

    /// Records a pass that worked at `now`. After an outage, answers how
    /// long it lasted and owes maintainers a report when it was long
    /// enough to alert about.
    pub fn succeeded(&mut self, now: Instant) -> Option<Recovered> {
        let outage = self.outage.take()?;
        let blocked_for = now.saturating_duration_since(outage.since);
        let seconds = blocked_for.as_secs();
        if outage.alerted {
            self.owed = Some(Notice {
                title: "sending resumed".to_owned(),
                lines: vec![format!(
                    "embargo serve works again after {seconds} s; what was due meanwhile is being sent now"
                )],
            });
        } else if blocked_for >= self.alert_after {
            self.owed = Some(Notice {
                title: "sending was blocked".to_owned(),
                lines: vec![
                    format!(
                        "embargo serve could not complete a pass for {seconds} s ({} attempts) and could not tell you at the time",
                        outage.failures
                    ),
                    format!("the last error: {}", outage.last_error),
                    "it works again; what was due meanwhile is being sent now".to_owned(),
                ],
            });
        }
        Some(Recovered {
            blocked_for,
            failures: outage.failures,
        })
    }

    /// A report owed to maintainers, to queue now.
    pub fn owed(&self) -> Option<&Notice> {
        self.owed.as_ref()
    }

    /// The owed report was queued.
    pub fn owed_queued(&mut self) {
        self.owed = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_from_one_to_thirty_seconds_and_log_only_changes() {
        let start = Instant::now();
        let mut health = Health::new(Duration::from_secs(60));
        let delays: Vec<(u64, bool)> = (0..8)
            .map(|i| {
                let error = if i == 5 { "other" } else { "disk full" };
                let after = health.failed(error, start + Duration::from_secs(i));
                (after.delay.as_secs(), after.log)
            })
            .collect();
        assert_eq!(
            delays,
            vec![
                (1, true),
                (2, false),
                (4, false),
                (8, false),
                (16, false),
                (30, true),
                (30, true),
                (30, false)
            ]
        );
    }

    #[test]
    fn the_alert_comes_once_after_the_threshold_and_an_all_clear_follows() {
        let start = Instant::now();
        let mut health = Health::new(Duration::from_secs(10));
        assert_eq!(health.failed("full", start).alert, None);
        let alert = health.failed("full", start + Duration::from_secs(10)).alert;
        assert!(alert.is_some_and(|a| a.title == "sending is blocked"));
        // Not queued (storage down): asked for again.
        assert!(
            health
                .failed("full", start + Duration::from_secs(11))
                .alert
                .is_some()
        );
        health.alert_queued();
        assert_eq!(
            health.failed("full", start + Duration::from_secs(12)).alert,
            None
        );
        let recovered = health.succeeded(start + Duration::from_secs(15));
        assert_eq!(
            recovered,
            Some(Recovered {
                blocked_for: Duration::from_secs(15),
                failures: 4
            })
        );
        assert_eq!(
            health.owed().map(|n| n.title.as_str()),
            Some("sending resumed")
        );
        health.owed_queued();
        assert_eq!(health.succeeded(start + Duration::from_secs(16)), None);
        assert!(health.owed().is_none());
    }

    #[test]
    fn an_outage_nobody_could_be_told_about_is_reported_afterwards_and_a_short_one_is_not() {
        let start = Instant::now();
        let mut health = Health::new(Duration::from_secs(10));
        health.failed("read-only", start);
        health.succeeded(start + Duration::from_secs(3));
        assert!(health.owed().is_none(), "a short blip is only logged");
        health.failed("read-only", start + Duration::from_secs(20));
        // The alert was due but could not be queued.
        assert!(
            health
                .failed("read-only", start + Duration::from_secs(31))
                .alert
                .is_some()
        );
        health.succeeded(start + Duration::from_secs(40));
        let owed = health.owed().expect("a report is owed");
        assert_eq!(owed.title, "sending was blocked");
        assert!(owed.lines[1].contains("read-only"), "{owed:?}");
    }
}
