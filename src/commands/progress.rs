//! Progress bars for long work, drawn on stderr only when it is a
//! terminal: an operator watching `advisory announce` seal for thousands
//! of members sees it move, while cron mail, journald, pipes and the tests
//! get no bar and no escape codes.
//!
//! This is indicatif's only home. `app` reports through its
//! [`Progress`](crate::app::progress::Progress) hook and knows nothing of
//! how (or whether) it is drawn.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::app::App;
use crate::app::progress::Progress;
use crate::compose::Kind;

/// Gives `app` a hook that draws on stderr, if stderr is a terminal.
/// Otherwise the app keeps its quiet default.
pub fn attach(app: &mut App) {
    // A terminal that cannot draw (TERM=dumb) gets no bar either:
    // indicatif would hide it, but then there is no point in a hook.
    if std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|term| term != "dumb")
    {
        app.set_progress(Arc::new(TerminalProgress::default()));
    }
}

/// One bar at a time, for the sealing under way.
#[derive(Default)]
struct TerminalProgress {
    bar: Mutex<Option<ProgressBar>>,
}

impl TerminalProgress {
    fn with_bar(&self, action: impl FnOnce(&mut Option<ProgressBar>)) {
        // A poisoned lock only means an earlier report panicked: drawing
        // is not worth failing the command for.
        if let Ok(mut bar) = self.bar.lock() {
            action(&mut bar);
        }
    }
}

impl Progress for TerminalProgress {
    fn sealing_started(&self, kind: Kind, total: u64) {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{msg} [{wide_bar}] {pos}/{len} copies ({eta} left)")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(format!("sealing the {}", kind.name()));
        self.with_bar(|slot| {
            if let Some(old) = slot.replace(bar) {
                old.finish_and_clear();
            }
        });
    }

    fn sealed(&self, sealed: u64) {
        self.with_bar(|slot| {
            if let Some(bar) = slot {
                // The total is the active roster; a member made active
                // while we seal can take the count past it.
                if bar.length().is_some_and(|length| sealed > length) {
                    bar.set_length(sealed);
                }
                bar.set_position(sealed);
            }
        });
    }

    fn sealing_finished(&self) {
        self.with_bar(|slot| {
            if let Some(bar) = slot.take() {
                bar.finish_and_clear();
            }
        });
    }
}
