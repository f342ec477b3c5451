//! `embargo list`: the lists of a many-list instance.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{KindArg, RoleArg};

/// `embargo list`.
#[derive(Debug, Subcommand)]
pub enum ListCommand {
    /// Make one more list in this instance, with its own key, roster,
    /// advisories and audit log, and its first admin.
    #[command(
        after_help = "Example:\n  embargo list create kernel --address kernel-distros@project.example --admin alice@example.org --name 'Alice Doe' --org 'Example Project' --key alice.asc"
    )]
    Create(CreateListArgs),
    /// Show one list: its addresses, key and counts.
    #[command(after_help = "Example:\n  embargo list show kernel --json")]
    Show {
        /// The list's name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the lists of this instance.
    #[command(after_help = "Example:\n  embargo list ls")]
    Ls {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `embargo list create`.
#[derive(Debug, Args)]
pub struct CreateListArgs {
    /// The list's name, as `--list` takes it (lower-case letters, digits,
    /// '-', '_', '.').
    pub list_name: String,
    /// The list's address, where announcements come from.
    #[arg(long, value_name = "EMAIL")]
    pub address: String,
    /// Where signed commands go (default: LOCAL-request@DOMAIN).
    #[arg(long, value_name = "EMAIL")]
    pub request_address: Option<String>,
    /// The first admin's address.
    #[arg(long, value_name = "EMAIL")]
    pub admin: String,
    /// The first admin's name.
    #[arg(long)]
    pub name: String,
    /// The first admin's organisation.
    #[arg(long)]
    pub org: String,
    /// What the first admin is.
    #[arg(long, value_enum, default_value_t = KindArg::Individual)]
    pub kind: KindArg,
    /// The first admin's OpenPGP certificate.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// A role beyond admin for the first admin (repeatable).
    #[arg(long = "role", value_enum)]
    pub roles: Vec<RoleArg>,
    /// Use this secret key as the list key instead of making one.
    #[arg(long, value_name = "FILE")]
    pub import_key: Option<PathBuf>,
}
