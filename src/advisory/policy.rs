//! The embargo policy: how long an embargo may last, how much notice
//! members get, and which disclosure times deserve a second look.
//!
//! [`check`] answers with the rules an advisory breaks (refusals, which
//! `--force` may override, with the rule names written to the audit log)
//! and the ones worth a warning.

use chrono::{DateTime, Datelike, Duration, Timelike, Utc, Weekday};
use serde::Serialize;

use super::Content;
use super::time::format_utc;

/// The limits, from `[embargo]` in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbargoPolicy {
    /// The longest embargo, counted from the first notice (default 14 days,
    /// as on Openwall's distros list).
    pub max_embargo: Duration,
    /// The least notice members get before disclosure.
    pub min_notice: Duration,
    /// Warn when disclosure falls on a Saturday or Sunday (UTC).
    pub warn_weekend: bool,
    /// Warn when disclosure is on a Friday at or after this hour (UTC).
    pub friday_cutoff_hour: u32,
}

impl Default for EmbargoPolicy {
    fn default() -> Self {
        Self {
            max_embargo: Duration::days(14),
            min_notice: Duration::hours(24),
            warn_weekend: true,
            friday_cutoff_hour: 12,
        }
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breach {
    /// A stable name for the audit log (`max-embargo`, `min-notice`, …).
    pub rule: &'static str,
    /// What is wrong, for people.
    pub message: String,
}

/// What the policy says about a schedule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub refusals: Vec<Breach>,
    pub warnings: Vec<Breach>,
}

impl Verdict {
    /// The rule names of the refusals, comma-separated, for the audit log.
    pub fn refused_rules(&self) -> String {
        self.refusals
            .iter()
            .map(|b| b.rule)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Checks `content` when the first notice goes out at `first_notice` and
/// it is now `now`.
pub fn check(
    policy: &EmbargoPolicy,
    content: &Content,
    first_notice: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Verdict {
    let mut verdict = Verdict::default();
    let disclose = content.disclose_at;
    let refuse =
        |verdict: &mut Verdict, rule, message| verdict.refusals.push(Breach { rule, message });
    if disclose <= now {
        refuse(
            &mut verdict,
            "disclosure-in-future",
            format!(
                "the disclosure time {} is not in the future",
                format_utc(disclose)
            ),
        );
    }
    if disclose - first_notice > policy.max_embargo {
        refuse(
            &mut verdict,
            "max-embargo",
            format!(
                "the embargo would last {} from the first notice ({}), longer than the maximum of {}",
                human(disclose - first_notice),
                format_utc(first_notice),
                human(policy.max_embargo)
            ),
        );
    }
    if disclose > now && disclose - first_notice < policy.min_notice {
        refuse(
            &mut verdict,
            "min-notice",
            format!(
                "members would get {} of notice before disclosure, less than the minimum of {}",
                human(disclose - first_notice),
                human(policy.min_notice)
            ),
        );
    }
    if let Some(patch) = content.patch_date
        && patch > disclose.date_naive()
    {
        refuse(
            &mut verdict,
            "patch-before-disclosure",
            format!(
                "the patch date {patch} is after the disclosure date {}",
                disclose.date_naive()
            ),
        );
    }
    let weekday = disclose.weekday();
    if policy.warn_weekend && matches!(weekday, Weekday::Sat | Weekday::Sun) {
        verdict.warnings.push(Breach {
            rule: "weekend",
            message: format!(
                "disclosure falls on a {weekday} ({}); many teams are away",
                format_utc(disclose)
            ),
        });
    }
    if weekday == Weekday::Fri && disclose.hour() >= policy.friday_cutoff_hour {
        verdict.warnings.push(Breach {
            rule: "friday-afternoon",
            message: format!(
                "disclosure is on a Friday afternoon ({}); fixes then wait over the weekend",
                format_utc(disclose)
            ),
        });
    }
    verdict
}

/// A duration as days and hours.
fn human(duration: Duration) -> String {
    let hours = duration.num_hours();
    match (hours / 24, hours % 24) {
        (0, h) => format!("{h} hours"),
        (d, 0) => format!("{d} days"),
        (d, h) => format!("{d} days {h} hours"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisory::tests::content;
    use chrono::{NaiveDate, TimeZone};
    use rstest::rstest;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, day, hour, 0, 0)
            .single()
            .expect("valid")
    }

    /// June 2026: the 1st is a Monday, the 5th a Friday, the 6th a Saturday.
    #[rstest]
    #[case::fine(at(9, 14), None, &[], &[])]
    #[case::in_the_past(at(1, 11), None, &["disclosure-in-future"], &[])]
    #[case::too_long(at(16, 14), None, &["max-embargo"], &[])]
    #[case::exactly_fourteen_days(at(15, 12), None, &[], &[])]
    #[case::too_little_notice(at(2, 6), None, &["min-notice"], &[])]
    #[case::patch_after_disclosure(at(9, 14), NaiveDate::from_ymd_opt(2026, 6, 10), &["patch-before-disclosure"], &[])]
    #[case::saturday(at(6, 14), None, &[], &["weekend"])]
    #[case::friday_afternoon(at(5, 15), None, &[], &["friday-afternoon"])]
    #[case::friday_morning(at(5, 9), None, &[], &[])]
    fn rules(
        #[case] disclose: DateTime<Utc>,
        #[case] patch: Option<NaiveDate>,
        #[case] refused: &[&str],
        #[case] warned: &[&str],
    ) {
        let now = at(1, 12);
        let mut c = content();
        c.disclose_at = disclose;
        c.patch_date = patch;
        let verdict = check(&EmbargoPolicy::default(), &c, now, now);
        let rules: Vec<&str> = verdict.refusals.iter().map(|b| b.rule).collect();
        assert_eq!(rules, refused, "{verdict:?}");
        let warnings: Vec<&str> = verdict.warnings.iter().map(|b| b.rule).collect();
        assert_eq!(warnings, warned, "{verdict:?}");
    }

    #[test]
    fn the_maximum_counts_from_the_first_notice_not_from_now() {
        let now = at(1, 12);
        let mut c = content();
        c.disclose_at = at(20, 12);
        let verdict = check(&EmbargoPolicy::default(), &c, at(8, 12), now);
        assert!(verdict.refusals.is_empty(), "{verdict:?}");
        assert_eq!(human(Duration::hours(50)), "2 days 2 hours");
    }
}
