//! What a delivery run could not store because the database failed.
//!
//! Sent is sent: when the recorder cannot write a batch of outcomes, they
//! are kept here and stored before the next run claims anything, so a
//! storage fault alone never makes a copy go twice (a crash while they
//! wait here is like any crash: at most one extra copy, with the same
//! Message-ID). A run that failed may also
//! have left copies it claimed but never handed to the server in
//! `sending`; once the kept outcomes are stored, those are returned to the
//! queue.

use anyhow::Result;

use super::App;
use crate::store::Completion;

/// What a delivery run could not store because the database failed: the
/// outcomes of copies it sent (kept in memory and stored before the next
/// run claims anything), and whether copies it claimed may have been left
/// `sending` (returned to the queue then).
#[derive(Debug, Default)]
pub(crate) struct Unsettled {
    pub(super) completions: Vec<Completion>,
    pub(super) orphans: bool,
}

impl App {
    pub(super) fn unsettled(&self) -> std::sync::MutexGuard<'_, Unsettled> {
        // The data stays valid if a holder panicked: take it as it is.
        self.unsettled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Before a run claims anything: stores the outcomes an earlier run
    /// could not, and returns to the queue copies a failed run may have
    /// left claimed. Only the holder of the daemon lock delivers and no
    /// run is in flight now, so once those outcomes are stored every copy
    /// still `sending` is one that was never handed to the server. On
    /// PostgreSQL other daemons may hold live leases, so only expired
    /// ones return (this run's own return when their lease ends).
    pub(super) async fn settle_earlier(&self) -> Result<()> {
        let (completions, orphans) = {
            let mut unsettled = self.unsettled();
            (
                std::mem::take(&mut unsettled.completions),
                unsettled.orphans,
            )
        };
        if completions.is_empty() && !orphans {
            return Ok(());
        }
        let stored = async {
            let mut tx = self.store.write(self.now()).await?;
            tx.complete(&completions).await?;
            let swept = tx.sweep_leases(self.store.sole_sender()).await?;
            tx.commit().await?;
            anyhow::Ok(swept)
        }
        .await;
        let mut unsettled = self.unsettled();
        match stored {
            Ok(swept) => {
                unsettled.orphans = false;
                if !completions.is_empty() {
                    tracing::warn!(
                        copies = completions.len(),
                        "stored the outcomes of copies sent while the database was failing"
                    );
                }
                if swept > 0 {
                    tracing::warn!(
                        copies = swept,
                        "returned copies a failed run had claimed but not sent to the queue; they keep their Message-IDs"
                    );
                }
                Ok(())
            }
            Err(err) => {
                let later = std::mem::replace(&mut unsettled.completions, completions);
                unsettled.completions.extend(later);
                Err(err.context("store the outcomes of copies sent before the database failed"))
            }
        }
    }
}
