//! Cron schedules: parsed once, where the config is read, and asked for
//! the next time after an instant by the scheduler. The only home of the
//! `cron` crate.

use std::fmt;

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};

/// A checked five-field cron expression (minute hour day-of-month month
/// day-of-week), in UTC.
#[derive(Clone)]
pub struct Cron {
    text: String,
    schedule: cron::Schedule,
}

impl Cron {
    /// Reads the usual five-field form; `what` names the setting in the
    /// error (e.g. `[schedule] key_expiry_check`).
    pub fn parse(what: &str, text: &str) -> Result<Self> {
        let fields = text.split_whitespace().count();
        if fields != 5 {
            bail!(
                "{what} is {text:?}; expected five cron fields (minute hour day-of-month month day-of-week), e.g. \"0 6 * * *\""
            );
        }
        // The cron crate reads six fields, seconds first.
        let schedule = format!("0 {text}")
            .parse::<cron::Schedule>()
            .map_err(|err| anyhow::anyhow!("{what} is {text:?}: {err}"))?;
        Ok(Self {
            text: text.to_owned(),
            schedule,
        })
    }

    /// The first time the schedule fires strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.after(&after).next()
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cron({:?})", self.text)
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("a test instant")
    }

    #[test]
    fn a_daily_schedule_fires_at_its_minute_and_not_again_that_day() {
        let cron = Cron::parse("test", "0 6 * * *").expect("valid");
        assert_eq!(
            cron.next_after(at("2026-06-01T05:59:59Z")),
            Some(at("2026-06-01T06:00:00Z"))
        );
        assert_eq!(
            cron.next_after(at("2026-06-01T06:00:00Z")),
            Some(at("2026-06-02T06:00:00Z"))
        );
        assert_eq!(cron.as_str(), "0 6 * * *");
    }

    #[test]
    fn six_fields_or_a_bad_field_are_refused_naming_the_setting() {
        let six = Cron::parse("[schedule] key_expiry_check", "0 0 6 * * *")
            .expect_err("six fields")
            .to_string();
        assert!(six.contains("[schedule] key_expiry_check") && six.contains("five cron fields"));
        let bad = Cron::parse("[schedule] key_expiry_check", "61 6 * * *")
            .expect_err("minute 61")
            .to_string();
        assert!(bad.contains("\"61 6 * * *\""), "{bad}");
    }
}
