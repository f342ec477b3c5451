//! `embargo instance`: the instance as a whole — the foundation's
//! observers and the counts they see.

use std::path::PathBuf;

use clap::Subcommand;

/// `embargo instance`.
#[derive(Debug, Subcommand)]
pub enum InstanceCommand {
    /// Add, remove and list the observers who get the encrypted digest.
    #[command(subcommand)]
    Observer(ObserverCommand),
    /// Print the counts of every list and in total: members, advisories,
    /// embargo lengths, holds, copies that did not arrive, late ACKs.
    /// Never an advisory's content or a member's address.
    #[command(after_help = "Example:\n  embargo instance report --json")]
    Report {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `embargo instance observer`.
#[derive(Debug, Subcommand)]
pub enum ObserverCommand {
    /// Add an observer, with the certificate the digest is encrypted to.
    #[command(
        after_help = "Example:\n  embargo instance observer add security@foundation.example --key foundation.asc --reason 'foundation security team'"
    )]
    Add {
        /// The observer's address.
        email: String,
        /// The observer's OpenPGP certificate (armored or binary).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Why they observe (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Remove an observer: no more digests for them.
    #[command(
        after_help = "Example:\n  embargo instance observer remove security@foundation.example --reason 'left the foundation'"
    )]
    Remove {
        /// The observer's address.
        email: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// List the observers.
    #[command(after_help = "Example:\n  embargo instance observer ls --json")]
    Ls {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}
