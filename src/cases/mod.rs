//! Cases: a vulnerability report from its arrival to its acknowledgement
//! and beyond (issue 12). Domain code: no IO, no wall clock.
//!
//! A case is named `CASE-YYYY-NNNN` (the year it opened, then its number
//! in that year within its list, at least four digits). Until a team
//! member acknowledges it, the acknowledgement clock runs: the reminder
//! to maintainers, the escalation to every committer ("reach out to any
//! committer") and the recorded breach, each once, at its offset from the
//! moment the report arrived and not a second before.

use std::fmt;

use chrono::{DateTime, Datelike, Utc};

/// A case's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseId {
    pub year: i32,
    pub number: u32,
}

impl CaseId {
    /// The first case of the year `at` falls in, or the one after `last`
    /// when that was of the same year.
    pub fn next(last: Option<CaseId>, at: DateTime<Utc>) -> CaseId {
        let year = at.year();
        match last {
            Some(last) if last.year == year => CaseId {
                year,
                number: last.number.saturating_add(1),
            },
            _ => CaseId { year, number: 1 },
        }
    }

    /// Reads `CASE-2026-0042` (any case; four digits or more, as written).
    pub fn parse(text: &str) -> Option<CaseId> {
        let text = text.trim();
        let (prefix, rest) = text.split_at_checked(5)?;
        if !prefix.eq_ignore_ascii_case("CASE-") {
            return None;
        }
        let (year, number) = rest.split_once('-')?;
        let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if year.len() != 4 || !digits(year) || number.len() < 4 || !digits(number) {
            return None;
        }
        let number: u32 = number.parse().ok()?;
        (number > 0).then_some(CaseId {
            year: year.parse().ok()?,
            number,
        })
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CASE-{:04}-{:04}", self.year, self.number)
    }
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseState {
    Open,
    /// Ended: fixed and disclosed, a duplicate, withdrawn.
    Closed,
    /// Ended: not a vulnerability.
    Rejected,
}

crate::names::named_enum! {
    /// The state's name as stored and shown.
    pub fn as_str for CaseState, "case state" {
        Open => "open",
        Closed => "closed",
        Rejected => "rejected",
    }
}

/// A step of the acknowledgement clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// Maintainers are reminded.
    Remind,
    /// Every committer is told.
    Escalate,
    /// The breach is recorded.
    Breach,
}

crate::names::named_enum! {
    /// The step's name as stored and audited.
    pub fn as_str for Step, "clock step" {
        Remind => "remind",
        Escalate => "escalate",
        Breach => "breach",
    }
}

/// When each step falls due, after the report arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    pub remind_after: chrono::Duration,
    pub escalate_after: chrono::Duration,
    pub breach_after: chrono::Duration,
}

impl Clock {
    /// The instant `step` falls due for a case opened at `opened`.
    pub fn due_at(&self, opened: DateTime<Utc>, step: Step) -> DateTime<Utc> {
        opened
            + match step {
                Step::Remind => self.remind_after,
                Step::Escalate => self.escalate_after,
                Step::Breach => self.breach_after,
            }
    }

    /// The steps due at `now` that have not fired, in order. An
    /// acknowledged case has none: the clock stopped. A daemon that was
    /// down past several offsets fires each of them once.
    pub fn due(
        &self,
        opened: DateTime<Utc>,
        acknowledged: bool,
        fired: &[Step],
        now: DateTime<Utc>,
    ) -> Vec<Step> {
        if acknowledged {
            return Vec::new();
        }
        Step::ALL
            .into_iter()
            .filter(|step| !fired.contains(step) && self.due_at(opened, *step) <= now)
            .collect()
    }

    /// What `case list` shows of a case's clock at `now`.
    pub fn state(
        &self,
        opened: DateTime<Utc>,
        acknowledged_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> ClockState {
        let deadline = self.due_at(opened, Step::Breach);
        match acknowledged_at {
            Some(at) if at <= deadline => ClockState::Met { after: at - opened },
            Some(at) => ClockState::MetLate { after: at - opened },
            None if now < deadline => ClockState::Running {
                left: deadline - now,
            },
            None => ClockState::Breached { by: now - deadline },
        }
    }
}

/// A case's acknowledgement clock as `case list` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockState {
    /// Unacknowledged, this long before the breach.
    Running { left: chrono::Duration },
    /// Unacknowledged, this long past the deadline.
    Breached { by: chrono::Duration },
    /// Acknowledged in time, this long after the report.
    Met { after: chrono::Duration },
    /// Acknowledged after the deadline.
    MetLate { after: chrono::Duration },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        crate::clock::parse_instant(text).expect("instant")
    }

    fn policy() -> Clock {
        Clock {
            remind_after: chrono::Duration::hours(12),
            escalate_after: chrono::Duration::hours(20),
            breach_after: chrono::Duration::hours(24),
        }
    }

    #[test]
    fn case_ids_count_within_a_year_and_start_again_in_the_next() {
        let june = at("2026-06-01T12:00:00Z");
        let first = CaseId::next(None, june);
        assert_eq!(first.to_string(), "CASE-2026-0001");
        let second = CaseId::next(Some(first), june);
        assert_eq!(second.to_string(), "CASE-2026-0002");
        let many = CaseId {
            year: 2026,
            number: 9999,
        };
        assert_eq!(
            CaseId::next(Some(many), june).to_string(),
            "CASE-2026-10000"
        );
        let january = at("2027-01-01T00:00:00Z");
        assert_eq!(
            CaseId::next(Some(second), january).to_string(),
            "CASE-2027-0001"
        );
        // The last second of a year is still that year (UTC).
        let eve = at("2026-12-31T23:59:59Z");
        assert_eq!(
            CaseId::next(Some(second), eve).to_string(),
            "CASE-2026-0003"
        );
    }

    #[test]
    fn case_ids_read_back_and_nothing_else_reads() {
        for id in [
            "CASE-2026-0001",
            "CASE-2026-10000",
            "case-2026-0042",
            " CASE-2026-0042 ",
        ] {
            let parsed = CaseId::parse(id).expect(id);
            assert_eq!(parsed.to_string(), id.trim().to_uppercase());
        }
        for bad in [
            "",
            "CASE-",
            "CASE-2026",
            "CASE-2026-",
            "CASE-2026-42",
            "CASE-2026-0000",
            "CASE-26-0001",
            "CASE-2026-00x1",
            "CASE-2026-+001",
            "CASE-2026-0001-1",
            "ADV-2026-0001",
            "CASE-2026-99999999999",
            "ÇASE-2026-0001",
        ] {
            assert_eq!(CaseId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn each_step_falls_due_at_its_offset_and_not_a_second_before() {
        let clock = policy();
        let opened = at("2026-06-01T12:00:00Z");
        for (step, due) in [
            (Step::Remind, "2026-06-02T00:00:00Z"),
            (Step::Escalate, "2026-06-02T08:00:00Z"),
            (Step::Breach, "2026-06-02T12:00:00Z"),
        ] {
            let due = at(due);
            assert_eq!(clock.due_at(opened, step), due);
            let before = due - chrono::Duration::seconds(1);
            assert!(!clock.due(opened, false, &[], before).contains(&step));
            assert!(clock.due(opened, false, &[], due).contains(&step));
        }
    }

    #[test]
    fn a_step_fires_once_and_an_acknowledged_case_fires_none() {
        let clock = policy();
        let opened = at("2026-06-01T12:00:00Z");
        let late = at("2026-06-03T00:00:00Z");
        // A daemon down through all three offsets fires each once.
        assert_eq!(clock.due(opened, false, &[], late), Step::ALL);
        assert_eq!(
            clock.due(opened, false, &[Step::Remind], late),
            [Step::Escalate, Step::Breach]
        );
        assert!(clock.due(opened, false, &Step::ALL, late).is_empty());
        assert!(clock.due(opened, true, &[], late).is_empty());
    }

    #[test]
    fn the_clock_reads_running_breached_or_met() {
        let clock = policy();
        let opened = at("2026-06-01T12:00:00Z");
        assert_eq!(
            clock.state(opened, None, at("2026-06-02T11:00:00Z")),
            ClockState::Running {
                left: chrono::Duration::hours(1)
            }
        );
        assert_eq!(
            clock.state(opened, None, at("2026-06-02T12:00:00Z")),
            ClockState::Breached {
                by: chrono::Duration::zero()
            }
        );
        assert_eq!(
            clock.state(
                opened,
                Some(at("2026-06-01T14:00:00Z")),
                at("2026-06-05T00:00:00Z")
            ),
            ClockState::Met {
                after: chrono::Duration::hours(2)
            }
        );
        assert_eq!(
            clock.state(
                opened,
                Some(at("2026-06-02T13:00:00Z")),
                at("2026-06-05T00:00:00Z")
            ),
            ClockState::MetLate {
                after: chrono::Duration::hours(25)
            }
        );
    }
}
