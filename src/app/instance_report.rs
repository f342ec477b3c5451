//! The foundation's view: counts per list and in total (members by
//! status, advisories by state, embargo lengths, holds, copies that did
//! not arrive, breaches of the acknowledgement clock), as
//! `embargo instance report` prints them and the observers' digest
//! carries them.
//!
//! Counts only, by construction: [`InstanceReport`] holds list names,
//! numbers and the words of closed sets (statuses, states). Nothing here
//! can hold an advisory's id, title, body, CVE or product, or a member's
//! address, because the store hands over no such value.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::advisory::Status as AdvisoryStatus;
use crate::config::Config;
use crate::roster::Status;
use crate::store::{DeliveryState, EmbargoSpan, ListId, ReportCounts, Store};

/// The copy states the report counts: the ones that did not arrive.
const UNDELIVERED: [DeliveryState; 3] = [
    DeliveryState::Failed,
    DeliveryState::Uncertain,
    DeliveryState::Missed,
];

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceReport {
    pub generated_at: String,
    /// `[instance] ack_within`, in hours.
    pub ack_within_hours: i64,
    pub lists: Vec<ListReport>,
    pub total: Counts,
}

/// One list's counts, by the list's name.
#[derive(Debug, Clone, Serialize)]
pub struct ListReport {
    pub list: String,
    #[serde(flatten)]
    pub counts: Counts,
}

/// The counts of one list, or of all of them.
#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    /// Every member status, zeros included.
    pub members: BTreeMap<String, u64>,
    /// Every advisory state, zeros included.
    pub advisories: BTreeMap<String, u64>,
    pub embargo_days: EmbargoLengths,
    pub active_holds: u64,
    /// Copies failed, uncertain and missed.
    pub copies: BTreeMap<String, u64>,
    pub ack_breaches: u64,
}

/// Embargo lengths in days, from the first notice to the disclosure.
#[derive(Debug, Clone, Serialize)]
pub struct EmbargoLengths {
    pub disclosed: Lengths,
    /// Open advisories: to the planned (or held) disclosure.
    pub open: Lengths,
}

/// How many, the median and the longest, in days to a tenth.
#[derive(Debug, Clone, Serialize)]
pub struct Lengths {
    pub count: u64,
    pub median: Option<f64>,
    pub max: Option<f64>,
}

impl Counts {
    fn new(counts: &ReportCounts, wanted: &dyn Fn(ListId) -> bool) -> Self {
        let mut members: BTreeMap<String, u64> =
            Status::ALL.iter().map(|s| (s.to_string(), 0)).collect();
        for (_, status, n) in counts.members.iter().filter(|row| wanted(row.0)) {
            *members.entry(status.to_string()).or_default() += n;
        }
        let mut advisories: BTreeMap<String, u64> = AdvisoryStatus::ALL
            .iter()
            .map(|s| (s.to_string(), 0))
            .collect();
        for (_, status, n) in counts.advisories.iter().filter(|row| wanted(row.0)) {
            *advisories.entry(status.to_string()).or_default() += n;
        }
        let mut copies: BTreeMap<String, u64> =
            UNDELIVERED.iter().map(|s| (s.to_string(), 0)).collect();
        for (_, state, n) in counts.copies.iter().filter(|row| wanted(row.0)) {
            *copies.entry(state.to_string()).or_default() += n;
        }
        let sum = |rows: &[(ListId, u64)]| -> u64 {
            rows.iter()
                .filter(|row| wanted(row.0))
                .map(|row| row.1)
                .sum()
        };
        let spans: Vec<&EmbargoSpan> = counts.spans.iter().filter(|s| wanted(s.list)).collect();
        Self {
            members,
            advisories,
            embargo_days: EmbargoLengths {
                disclosed: lengths(spans.iter().filter(|s| s.disclosed)),
                open: lengths(spans.iter().filter(|s| !s.disclosed)),
            },
            active_holds: sum(&counts.holds),
            copies,
            ack_breaches: sum(&counts.breaches),
        }
    }

    /// The counts as lines of text, indented under a heading.
    fn lines(&self, ack_within_hours: i64, out: &mut Vec<String>) {
        // In each set's own order (a member's life, an advisory's), not
        // the map's alphabetical one.
        let join = |map: &BTreeMap<String, u64>, order: Vec<String>| {
            order
                .iter()
                .map(|word| format!("{word} {}", map.get(word).copied().unwrap_or(0)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let members = Status::ALL.iter().map(ToString::to_string).collect();
        let advisories = AdvisoryStatus::ALL
            .iter()
            .map(ToString::to_string)
            .collect();
        let copies = UNDELIVERED.iter().map(ToString::to_string).collect();
        out.push(format!("  members: {}", join(&self.members, members)));
        out.push(format!(
            "  advisories: {}",
            join(&self.advisories, advisories)
        ));
        for (what, lengths) in [
            ("disclosed", &self.embargo_days.disclosed),
            ("open", &self.embargo_days.open),
        ] {
            out.push(format!("  embargo length, {what}: {}", describe(lengths)));
        }
        out.push(format!("  active holds: {}", self.active_holds));
        out.push(format!(
            "  copies that did not arrive: {}",
            join(&self.copies, copies)
        ));
        out.push(format!(
            "  breaches of the acknowledgement clock ({ack_within_hours} hours): {}",
            self.ack_breaches
        ));
    }
}

/// Embargo lengths in words: `none`, or how many, the median and the
/// longest.
fn describe(lengths: &Lengths) -> String {
    match (lengths.count, lengths.median, lengths.max) {
        (count, Some(median), Some(max)) if count > 0 => format!(
            "{count} {}, median {median:.1} days, longest {max:.1} days",
            if count == 1 { "advisory" } else { "advisories" }
        ),
        _ => "none".to_owned(),
    }
}

/// The lengths of `spans` in days.
fn lengths<'a>(spans: impl Iterator<Item = &'a &'a EmbargoSpan>) -> Lengths {
    let mut days: Vec<f64> = spans
        .map(|span| (span.until - span.from).num_seconds() as f64 / 86_400.0)
        .collect();
    days.sort_by(f64::total_cmp);
    let median = match days.len() {
        0 => None,
        n if n % 2 == 1 => Some(days[n / 2]),
        n => Some((days[n / 2 - 1] + days[n / 2]) / 2.0),
    };
    let tenth = |d: f64| (d * 10.0).round() / 10.0;
    Lengths {
        count: days.len() as u64,
        median: median.map(tenth),
        max: days.last().copied().map(tenth),
    }
}

impl InstanceReport {
    /// The report as text: one block per list, then the totals.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!("generated at {}", self.generated_at)];
        for list in &self.lists {
            out.push(format!("list {}", list.list));
            list.counts.lines(self.ack_within_hours, &mut out);
        }
        out.push(format!("all {} lists", self.lists.len()));
        self.total.lines(self.ack_within_hours, &mut out);
        out
    }
}

/// The report of every list in `store`'s database at `now`, with the
/// acknowledgement clock of `config`.
pub async fn build(store: &Store, config: &Config, now: DateTime<Utc>) -> Result<InstanceReport> {
    let ack_within = config.instance.ack_within;
    let counts = store.report_counts(now, now - ack_within).await?;
    let lists = store
        .lists()
        .await?
        .into_iter()
        .map(|row| ListReport {
            list: row.name,
            counts: Counts::new(&counts, &|list| list == row.id),
        })
        .collect();
    Ok(InstanceReport {
        generated_at: crate::advisory::time::format_utc(now),
        ack_within_hours: ack_within.num_hours(),
        lists,
        total: Counts::new(&counts, &|_| true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::parse_instant;

    fn span(from: &str, until: &str) -> EmbargoSpan {
        EmbargoSpan {
            list: ListId(1),
            disclosed: true,
            from: parse_instant(from).expect("instant"),
            until: parse_instant(until).expect("instant"),
        }
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        let spans = [
            span("2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z"),
            span("2026-06-01T00:00:00Z", "2026-06-04T00:00:00Z"),
            span("2026-06-01T00:00:00Z", "2026-06-11T00:00:00Z"),
            span("2026-06-01T00:00:00Z", "2026-06-03T00:00:00Z"),
        ];
        let refs: Vec<&EmbargoSpan> = spans.iter().collect();
        let got = lengths(refs.iter());
        assert_eq!((got.count, got.median, got.max), (4, Some(2.5), Some(10.0)));
        let got = lengths(refs[..3].iter());
        assert_eq!((got.count, got.median, got.max), (3, Some(3.0), Some(10.0)));
        let got = lengths(refs[..0].iter());
        assert_eq!((got.count, got.median, got.max), (0, None, None));
    }
}
