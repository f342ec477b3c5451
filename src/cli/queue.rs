//! `embargo queue` and `embargo serve`.

use clap::{Args, Subcommand};

/// `embargo queue`.
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Show copies that are waiting, in flight, failed, uncertain or missed.
    #[command(after_help = "Example:\n  embargo queue list --json")]
    List {
        /// Every copy ever queued, sent ones included.
        #[arg(long)]
        all: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Seal and deliver everything that is due now, then exit (for cron).
    #[command(after_help = "Example:\n  embargo queue run")]
    Run {
        /// Print what was done as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send a failed or uncertain copy again, now (same Message-ID).
    #[command(after_help = "Example:\n  embargo queue retry 42")]
    Retry {
        /// The copy's id, from `embargo queue list`.
        id: i64,
    },
    /// Hold an advisory's automatic disclosure until a later time, or hold
    /// one queued copy for an operator. A hold never brings a disclosure
    /// forward (that is `advisory disclose --now`); members already told
    /// get an update with the new time.
    #[command(
        after_help = "Examples:\n  embargo queue hold DF-2026-0001 --until 2026-12-03T14:00:00Z --reason 'patch slipped'\n  embargo queue hold 42 --reason 'check the address first'"
    )]
    Hold(HoldArgs),
    /// Release a hold: an advisory's disclosure goes back to its own time
    /// (only while that time is still ahead; members told get an update),
    /// a held or uncertain copy is sent now.
    #[command(
        after_help = "Examples:\n  embargo queue release DF-2026-0001\n  embargo queue release 42"
    )]
    Release {
        /// An advisory id, or a copy's id from `embargo queue list`.
        target: String,
    },
}

/// `embargo queue hold`.
#[derive(Debug, Args)]
pub struct HoldArgs {
    /// An advisory id, or a copy's id from `embargo queue list`.
    pub target: String,
    /// The new disclosure time for an advisory (with Z or an offset),
    /// later than the one in force.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Why (recorded in the audit log).
    #[arg(long)]
    pub reason: String,
    /// Hold past the embargo policy's limits (the maximum embargo); the
    /// reason and the overridden rule are recorded.
    #[arg(long)]
    pub force: bool,
}

/// `embargo serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve only these lists (comma-separated names); default: every
    /// list, including lists made while it runs.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub lists: Vec<String>,
}
