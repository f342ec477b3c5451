//! Crash points for the kill tests: the process stops itself the hard
//! way at a named point (`EMBARGO_CRASH_AT`), only in a build with the
//! `test-hooks` feature.

use std::sync::atomic::{AtomicU64, Ordering};

/// Stops the process the hard way at a named point, when the crash test
/// asks for it with `EMBARGO_CRASH_AT=<point>:<n>` (the n-th time the
/// point is reached). Costs one relaxed atomic add otherwise. Only a
/// build with the `test-hooks` feature reads the variable: a release
/// build never kills itself, whatever its environment says.
pub(crate) struct CrashPoints {
    point: Option<(String, u64)>,
    counts: [AtomicU64; 5],
}

pub(crate) const CRASH_AFTER_CLAIM: usize = 0;
pub(crate) const CRASH_AFTER_DATA: usize = 1;
pub(crate) const CRASH_AFTER_RECORD: usize = 2;
/// After a batch of sealed copies commits (`app::sealing`).
pub(crate) const CRASH_AFTER_SEAL_BATCH: usize = 3;
/// After a relay's copies are written, before they commit (`app::relay`).
pub(crate) const CRASH_BEFORE_RELAY_COMMIT: usize = 4;
const CRASH_NAMES: [&str; 5] = ["claimed", "data", "recorded", "sealed", "relayed"];

impl CrashPoints {
    pub(crate) fn from_env() -> Self {
        Self::from(&|name| std::env::var_os(name))
    }

    fn from(env: crate::clock::Lookup<'_>) -> Self {
        #[cfg(feature = "test-hooks")]
        let point = env(crate::clock::CRASH_AT_ENV).and_then(|text| {
            let (name, n) = text.to_str()?.split_once(':')?;
            Some((name.to_owned(), n.parse().ok()?))
        });
        #[cfg(not(feature = "test-hooks"))]
        let point = {
            let _ = env;
            None
        };
        Self {
            point,
            counts: Default::default(),
        }
    }

    pub(crate) fn reach(&self, which: usize, by: u64) {
        let Some((name, n)) = &self.point else {
            return;
        };
        let before = self.counts[which].fetch_add(by, Ordering::Relaxed);
        if CRASH_NAMES[which] == name && before < *n && before + by >= *n {
            tracing::warn!(point = %name, "crash point reached: killing this process");
            let _ = rustix::process::kill_process(
                rustix::process::getpid(),
                rustix::process::Signal::KILL,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test hooks shipped in the release binary: `EMBARGO_CRASH_AT` killed
    // the production daemon. Without the `test-hooks` feature the crash
    // point is never armed, whatever the environment says.
    #[test]
    fn a_crash_point_is_armed_only_in_a_build_with_test_hooks() {
        let env = |name: &str| (name == crate::clock::CRASH_AT_ENV).then(|| "claimed:3".into());
        let armed = CrashPoints::from(&env).point;
        if cfg!(feature = "test-hooks") {
            assert_eq!(armed, Some(("claimed".to_owned(), 3)));
        } else {
            assert_eq!(armed, None);
        }
    }
}
