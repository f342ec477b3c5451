//! The command line's shape, and nothing else.
//!
//! This module depends on clap and on no other part of the program, so the
//! help text, man pages and completions can be generated from it alone.
//! `commands` turns what is parsed here into calls to `app`.

pub mod advisory;
pub mod case;
pub mod generate;
pub mod instance;
pub mod list;
pub mod member;
pub mod queue;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use advisory::AdvisoryCommand;
pub use case::CaseCommand;
pub use generate::ShellArg;
pub use instance::{InstanceCommand, ObserverCommand};
pub use list::{CreateListArgs, ListCommand};
pub use member::{MemberCommand, RoleArg};
pub use queue::{HoldArgs, QueueCommand, ServeArgs};

/// The private pre-disclosure list of an open-source project's security
/// team.
#[derive(Debug, Parser)]
#[command(
    name = "embargo",
    version,
    about = "Run a sponsor-gated, OpenPGP-encrypted pre-disclosure list.",
    after_help = "Example:\n  embargo --config /etc/embargo/embargo.toml member list",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Read the configuration from FILE (default: config/embargo.toml).
    #[arg(long, global = true, env = "EMBARGO_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Work on the list NAME (needed once the instance has several).
    #[arg(long, global = true, env = "EMBARGO_LIST", value_name = "NAME")]
    pub list: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

/// The nouns.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the list database, the list key and the first admin.
    #[command(
        after_help = "Example:\n  embargo init --admin alice@example.org --name 'Alice Doe' --org 'Example Project' --key alice.asc --role committer"
    )]
    Init(InitArgs),
    /// Make, show and list the lists of this instance.
    #[command(subcommand)]
    List(ListCommand),
    /// The instance as a whole: the foundation's observers and the counts
    /// of every list.
    #[command(subcommand)]
    Instance(InstanceCommand),
    /// Work with the list's own OpenPGP key.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Add, inspect and change members of the roster.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Write, schedule and preview embargoed advisories.
    #[command(subcommand)]
    Advisory(AdvisoryCommand),
    /// The security team's cases: reports to the team address, their
    /// acknowledgement clock, participants and outcome.
    #[command(subcommand)]
    Case(CaseCommand),
    /// See and steer the outbox: copies waiting, failed or uncertain.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Run the daemon: the scheduler and the outbox, until SIGTERM.
    #[command(
        after_help = "Example:\n  EMBARGO_LOG=info embargo --config /etc/embargo/embargo.toml serve"
    )]
    Serve(ServeArgs),
    /// Take one inbound message on stdin (for the MTA's pipe): signed
    /// commands, bounces. Exits 0 when taken, 75 to make the MTA retry.
    #[command(
        after_help = "Example (Postfix master.cf):\n  embargo unix - n n - - pipe flags=Rq user=embargo argv=/usr/bin/embargo --config /etc/embargo/embargo.toml ingest --recipient ${recipient}"
    )]
    Ingest(IngestArgs),
    /// Help on a topic: `embargo help commands` lists the mail commands.
    #[command(after_help = "Example:\n  embargo help commands")]
    Help {
        /// `commands`, or nothing for the command-line help.
        topic: Option<String>,
    },
    /// Read and check the hash-chained audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Run a throwaway list in a temporary folder, end to end.
    #[command(after_help = "Example:\n  embargo demo")]
    Demo(DemoArgs),
    /// Print the shell completion script for SHELL (bash, zsh or fish).
    /// Needs no config and no list.
    #[command(
        after_help = "Examples:\n  source <(embargo completions bash)\n  embargo completions zsh > ~/.zfunc/_embargo\n  embargo completions fish > ~/.config/fish/completions/embargo.fish"
    )]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: ShellArg,
    },
    /// Print the man page, embargo(1), as roff. Needs no config and no list.
    #[command(after_help = "Example:\n  embargo man | man -l -")]
    Man,
}

/// `embargo ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The envelope recipient (Postfix: `${recipient}`): picks the list
    /// the message is for. Needed once the instance has several lists.
    #[arg(long, value_name = "EMAIL")]
    pub recipient: Option<String>,
}

/// `embargo init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Address of the first admin (the operator).
    #[arg(long, value_name = "EMAIL")]
    pub admin: String,
    /// The admin's name.
    #[arg(long)]
    pub name: String,
    /// The admin's organisation.
    #[arg(long)]
    pub org: String,
    /// What kind of member the admin is.
    #[arg(long, value_enum, default_value_t = KindArg::Individual)]
    pub kind: KindArg,
    /// The admin's OpenPGP certificate (armored or binary).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// A role the admin holds besides admin (repeat for several).
    #[arg(long = "role", value_enum)]
    pub roles: Vec<RoleArg>,
    /// Import this secret key as the list key instead of making one.
    #[arg(long, value_name = "FILE")]
    pub import_key: Option<PathBuf>,
}

/// `embargo key`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Print the list's public certificate, armored.
    #[command(after_help = "Example:\n  embargo key export > list.asc")]
    Export,
}

/// `embargo audit`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the audit log, oldest first.
    #[command(after_help = "Example:\n  embargo audit list --json")]
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check that no entry was edited, deleted or reordered.
    #[command(after_help = "Example:\n  embargo audit verify")]
    Verify,
}

/// `embargo demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's folder instead of deleting it at the end.
    #[arg(long)]
    pub keep: bool,
}

/// A member kind on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    Vendor,
    Distribution,
    User,
    Individual,
}
