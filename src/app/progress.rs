//! A hook for reporting long work as it goes: how many copies of an
//! announcement are sealed so far.
//!
//! `app` only reports; drawing is the caller's business. The command line
//! sets a hook that draws a progress bar when stderr is a terminal
//! (`commands::progress`), the daemon and the tests leave the default,
//! which does nothing. A hook sees counts and the announcement's kind,
//! never an advisory's text, so it cannot leak what is embargoed.

use crate::compose::Kind;

/// Receives progress reports from long use cases.
///
/// Calls come from the async task doing the work, between batches, so an
/// implementation must be quick and must not block.
pub trait Progress: Send + Sync {
    /// Sealing copies of `kind` starts, for at most `total` members (the
    /// active roster; members who already have a copy are skipped).
    fn sealing_started(&self, kind: Kind, total: u64);

    /// `sealed` copies are sealed and committed so far.
    fn sealed(&self, sealed: u64);

    /// Sealing ended, done or not.
    fn sealing_finished(&self);
}

/// The default hook: reports go nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl Progress for Quiet {
    fn sealing_started(&self, _kind: Kind, _total: u64) {}

    fn sealed(&self, _sealed: u64) {}

    fn sealing_finished(&self) {}
}

/// Ends the report when dropped, so an error or an early return between
/// batches never leaves a bar drawn on the terminal.
pub(crate) struct SealingReport<'a> {
    hook: &'a dyn Progress,
    sealed: u64,
}

impl<'a> SealingReport<'a> {
    pub(crate) fn start(hook: &'a dyn Progress, kind: Kind, total: u64) -> Self {
        hook.sealing_started(kind, total);
        Self { hook, sealed: 0 }
    }

    /// Adds `copies` to the count and reports it.
    pub(crate) fn add(&mut self, copies: u64) {
        self.sealed += copies;
        self.hook.sealed(self.sealed);
    }
}

impl Drop for SealingReport<'_> {
    fn drop(&mut self) {
        self.hook.sealing_finished();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Records every call, to check the order a report makes them in.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Progress for Recorder {
        fn sealing_started(&self, kind: Kind, total: u64) {
            self.0
                .lock()
                .unwrap()
                .push(format!("start {} {total}", kind.name()));
        }

        fn sealed(&self, sealed: u64) {
            self.0.lock().unwrap().push(format!("sealed {sealed}"));
        }

        fn sealing_finished(&self) {
            self.0.lock().unwrap().push("finished".to_owned());
        }
    }

    #[test]
    fn a_report_counts_up_and_finishes_when_dropped() {
        let recorder = Recorder::default();
        {
            let mut report = SealingReport::start(&recorder, Kind::Notice, 1200);
            report.add(500);
            report.add(500);
            report.add(200);
        }
        assert_eq!(
            *recorder.0.lock().unwrap(),
            [
                "start notice 1200",
                "sealed 500",
                "sealed 1000",
                "sealed 1200",
                "finished"
            ]
        );
    }

    #[test]
    fn a_report_stopped_by_an_error_still_finishes() {
        let recorder = Recorder::default();
        let failing = || -> Result<(), &'static str> {
            let mut report = SealingReport::start(&recorder, Kind::Reminder, 10);
            report.add(5);
            Err("the store went away")
        };
        assert!(failing().is_err());
        assert_eq!(
            *recorder.0.lock().unwrap(),
            ["start reminder 10", "sealed 5", "finished"]
        );
    }
}
