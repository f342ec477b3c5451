//! Where the current time comes from.
//!
//! Domain code never reads the wall clock: it takes `now` as an argument.
//! The application asks a [`Clock`] once per use case and passes the instant
//! down, so tests (and the integration harness, through the
//! `EMBARGO_TEST_NOW` variable) can pin time to a fixed instant. The
//! variables exist only in a build with the `test-hooks` cargo feature.

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

/// One clock shared by several owners (each list's loop in `serve`).
#[derive(Clone)]
pub struct SharedClock(pub std::sync::Arc<dyn Clock>);

impl Clock for SharedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
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

/// A clock a test sets and moves by hand, shared by every clone: the test
/// keeps one and hands another to the `App`, so a scheduler pass and a
/// delivery run see exactly the instant the test chose, and time moves
/// only when the test says so (never by sleeping). Compiled only for tests
/// and the `test-hooks` feature, so a release build cannot contain it.
#[cfg(any(test, feature = "test-hooks"))]
#[derive(Debug, Clone)]
pub struct ManualClock(std::sync::Arc<std::sync::Mutex<DateTime<Utc>>>);

#[cfg(any(test, feature = "test-hooks"))]
impl ManualClock {
    /// A clock that reads `start` until it is moved.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(std::sync::Arc::new(std::sync::Mutex::new(start)))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now = now
            .checked_add_signed(by)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
    }

    /// Sets the clock to `at`, earlier or later than it was.
    pub fn set(&self, at: DateTime<Utc>) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = at;
    }
}

#[cfg(any(test, feature = "test-hooks"))]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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

/// The name of the environment variable that pins the clock in tests.
pub const TEST_NOW_ENV: &str = "EMBARGO_TEST_NOW";

/// The variable that makes the daemon kill itself at a named point (the
/// crash test; read by `app::deliver`).
pub const CRASH_AT_ENV: &str = "EMBARGO_CRASH_AT";

/// Every test hook, by the variable that turns it on.
pub const TEST_HOOK_VARS: [&str; 3] = [TEST_NOW_ENV, TEST_SKEW_ENV, CRASH_AT_ENV];

/// Whether this build honours the test hooks. Only a build with the
/// `test-hooks` cargo feature does (the test suite's); a release build
/// ignores them, so a stray variable can neither pin the clock that
/// decides when an embargo lifts nor kill the daemon.
pub const TEST_HOOKS: bool = cfg!(feature = "test-hooks");

/// Reads one environment variable; tests hand in their own.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<std::ffi::OsString>;

fn process_env(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name)
}

/// The test-hook variables that are set although this build ignores them
/// (empty in a build with the `test-hooks` feature): `main` warns about
/// each.
pub fn ignored_test_hooks(env: Lookup<'_>) -> Vec<&'static str> {
    if TEST_HOOKS {
        return Vec::new();
    }
    TEST_HOOK_VARS
        .into_iter()
        .filter(|name| env(name).is_some())
        .collect()
}

/// The clock for the daemon: like [`from_env`], but a pinned instant runs
/// on from where it was pinned, and a skew file may move the system clock.
pub fn running_from_env() -> anyhow::Result<Box<dyn Clock>> {
    running_from(&process_env)
}

/// [`running_from_env`] over the variables `env` answers.
pub fn running_from(env: Lookup<'_>) -> anyhow::Result<Box<dyn Clock>> {
    #[cfg(feature = "test-hooks")]
    {
        if let Some(file) = env(TEST_SKEW_ENV) {
            return Ok(Box::new(SkewedClock { file: file.into() }));
        }
        if let Some(fixed) = pinned(env)? {
            return Ok(Box::new(RunningClock::new(fixed)));
        }
    }
    let _ = env;
    Ok(Box::new(SystemClock))
}

/// Picks the clock for a CLI run: in a build with test hooks, the fixed
/// instant in `EMBARGO_TEST_NOW` (RFC 3339 with an offset) when it is
/// set; otherwise the system clock.
pub fn from_env() -> anyhow::Result<Box<dyn Clock>> {
    from(&process_env)
}

/// [`from_env`] over the variables `env` answers.
pub fn from(env: Lookup<'_>) -> anyhow::Result<Box<dyn Clock>> {
    #[cfg(feature = "test-hooks")]
    if let Some(fixed) = pinned(env)? {
        return Ok(Box::new(FixedClock(fixed)));
    }
    let _ = env;
    Ok(Box::new(SystemClock))
}

/// The instant `EMBARGO_TEST_NOW` pins, if it is set.
#[cfg(feature = "test-hooks")]
fn pinned(env: Lookup<'_>) -> anyhow::Result<Option<DateTime<Utc>>> {
    let Some(value) = env(TEST_NOW_ENV) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("{TEST_NOW_ENV} is not valid unicode"))?;
    let instant = DateTime::parse_from_rfc3339(text.trim()).map_err(|err| {
        anyhow::anyhow!("{TEST_NOW_ENV} is not an RFC 3339 instant with an offset: {err}")
    })?;
    Ok(Some(instant.with_timezone(&Utc)))
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
    fn a_manual_clock_moves_only_when_told_and_every_clone_sees_it() {
        let start = parse_instant("2026-06-01T12:00:00Z").expect("instant");
        let clock = ManualClock::new(start);
        let app_side: Box<dyn Clock> = Box::new(clock.clone());
        assert_eq!(app_side.now(), start);
        clock.advance(std::time::Duration::from_secs(90));
        assert_eq!(app_side.now(), start + chrono::Duration::seconds(90));
        clock.set(start - chrono::Duration::days(1));
        assert_eq!(app_side.now(), start - chrono::Duration::days(1));
    }

    #[test]
    fn an_instant_without_an_offset_is_refused() {
        assert!(parse_instant("2026-11-26T10:20:30").is_none());
    }

    /// Every test hook set, the clock pinned to 2001.
    fn all_hooks(name: &str) -> Option<std::ffi::OsString> {
        match name {
            TEST_NOW_ENV => Some("2001-01-01T00:00:00Z".into()),
            TEST_SKEW_ENV => Some("/nonexistent/skew".into()),
            CRASH_AT_ENV => Some("claimed:1".into()),
            _ => None,
        }
    }

    fn near_the_system_clock(clock: &dyn Clock) -> bool {
        (clock.now() - Utc::now()).num_seconds().abs() < 60
    }

    // Test hooks shipped in the release binary: `EMBARGO_TEST_NOW` pinned
    // the clock that decides when an embargo lifts in the production
    // build too. Compiled only without the `test-hooks` feature (the
    // release feature set), this fails if the hook code is ever built in.
    #[cfg(not(feature = "test-hooks"))]
    #[test]
    fn test_hooks_shipped_in_the_release_binary_are_ignored_and_named() {
        let without = |name: &str| all_hooks(name).filter(|_| name == TEST_NOW_ENV);
        assert!(near_the_system_clock(&*from(&without).expect("clock")));
        assert!(near_the_system_clock(&*from(&all_hooks).expect("clock")));
        assert!(near_the_system_clock(
            &*running_from(&all_hooks).expect("clock")
        ));
        // Garbage in a hook variable is not even read.
        let garbage = |name: &str| (name == TEST_NOW_ENV).then(|| "not a time".into());
        assert!(from(&garbage).is_ok());
        assert_eq!(ignored_test_hooks(&all_hooks), TEST_HOOK_VARS.to_vec());
        assert!(ignored_test_hooks(&|_| None).is_empty());
    }

    // The test suite's build honours the hooks and names none as ignored.
    #[cfg(feature = "test-hooks")]
    #[test]
    fn the_test_build_pins_the_clock_and_ignores_no_hook() {
        let pinned = parse_instant("2001-01-01T00:00:00Z").expect("instant");
        let only_now = |name: &str| all_hooks(name).filter(|_| name == TEST_NOW_ENV);
        assert_eq!(from(&only_now).expect("clock").now(), pinned);
        let running = running_from(&only_now).expect("clock").now();
        assert!(running >= pinned && running - pinned < chrono::Duration::seconds(60));
        let garbage = |name: &str| (name == TEST_NOW_ENV).then(|| "not a time".into());
        assert!(from(&garbage).is_err());
        assert!(ignored_test_hooks(&all_hooks).is_empty());
        assert!(near_the_system_clock(&*from(&|_| None).expect("clock")));
    }
}
