//! Where the current time comes from.
//!
//! Domain code never reads the wall clock: it takes `now` as an argument.
//! The application asks a [`Clock`] once per use case and passes the instant
//! down, so tests (and the integration harness, through the
//! `EMBARGO_TEST_NOW` variable) can pin time to a fixed instant.

use chrono::{DateTime, Utc};

/// A source of the current instant, always in UTC.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that always answers the same instant.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// A clock that starts at a given instant and then runs with the
/// monotonic clock: what the daemon uses under `EMBARGO_TEST_NOW`.
#[derive(Debug, Clone, Copy)]
pub struct RunningClock {
    start: DateTime<Utc>,
    started: std::time::Instant,
}

impl RunningClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            start,
            started: std::time::Instant::now(),
        }
    }
}

impl Clock for RunningClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed =
            chrono::Duration::from_std(self.started.elapsed()).unwrap_or(chrono::Duration::zero());
        self.start + elapsed
    }
}

/// The system clock moved by the number of seconds written in a file,
/// read on every call: lets a test make the daemon's wall clock jump.
#[derive(Debug, Clone)]
pub struct SkewedClock {
    pub file: std::path::PathBuf,
}

impl Clock for SkewedClock {
    fn now(&self) -> DateTime<Utc> {
        let skew = std::fs::read_to_string(&self.file)
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .unwrap_or(0);
        Utc::now() + chrono::Duration::seconds(skew)
    }
}

/// The variable naming a [`SkewedClock`] file (tests of clock jumps).
pub const TEST_SKEW_ENV: &str = "EMBARGO_TEST_CLOCK_SKEW_FILE";

/// The clock for the daemon: like [`from_env`], but a pinned instant runs
/// on from where it was pinned, and a skew file may move the system clock.
pub fn running_from_env() -> anyhow::Result<Box<dyn Clock>> {
    if let Ok(file) = std::env::var(TEST_SKEW_ENV) {
        return Ok(Box::new(SkewedClock { file: file.into() }));
    }
    let fixed = from_env()?;
    if std::env::var_os(TEST_NOW_ENV).is_some() {
        return Ok(Box::new(RunningClock::new(fixed.now())));
    }
    Ok(fixed)
}

/// The name of the environment variable that pins the clock in tests.
pub const TEST_NOW_ENV: &str = "EMBARGO_TEST_NOW";

/// Picks the clock for a CLI run: the fixed instant in `EMBARGO_TEST_NOW`
/// (RFC 3339 with an offset) when it is set, else the system clock.
pub fn from_env() -> anyhow::Result<Box<dyn Clock>> {
    match std::env::var(TEST_NOW_ENV) {
        Ok(text) => {
            let instant = DateTime::parse_from_rfc3339(text.trim()).map_err(|err| {
                anyhow::anyhow!("{TEST_NOW_ENV} is not an RFC 3339 instant with an offset: {err}")
            })?;
            Ok(Box::new(FixedClock(instant.with_timezone(&Utc))))
        }
        Err(std::env::VarError::NotPresent) => Ok(Box::new(SystemClock)),
        Err(err) => Err(anyhow::anyhow!("{TEST_NOW_ENV}: {err}")),
    }
}

/// Formats an instant the way every stored and printed timestamp looks:
/// RFC 3339, UTC, microseconds, `Z`.
pub fn format_instant(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Parses an instant written by [`format_instant`] (or any RFC 3339 instant
/// with an offset).
pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|instant| instant.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatted_instants_parse_back_to_the_same_instant() {
        let instant = parse_instant("2026-11-26T10:20:30.123456Z").expect("valid instant");
        assert_eq!(format_instant(instant), "2026-11-26T10:20:30.123456Z");
        let shifted = parse_instant("2026-11-26T11:20:30.123456+01:00").expect("valid instant");
        assert_eq!(shifted, instant);
    }

    #[test]
    fn an_instant_without_an_offset_is_refused() {
        assert!(parse_instant("2026-11-26T10:20:30").is_none());
    }
}
