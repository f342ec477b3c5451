//! `embargo member …`.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};

use super::KindArg;

/// A role on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Admin,
    Maintainer,
    Committer,
    Advisor,
    Subscriber,
}

/// A status filter on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    Pending,
    Active,
    Suspended,
    Removed,
}

/// The member verbs.
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a pending member, vouched for by a committer or advisor.
    #[command(
        after_help = "Example:\n  embargo member add sec@distro.example --name 'Sam Roe' --org 'Distro' --kind distribution \\\n      --key sam.asc --sponsor alice@example.org --statement 'Runs Distro security; met at FOSDEM'"
    )]
    Add {
        /// The new member's address.
        email: String,
        /// Their name.
        #[arg(long)]
        name: String,
        /// Their organisation.
        #[arg(long)]
        org: String,
        /// What kind of member they are.
        #[arg(long, value_enum)]
        kind: KindArg,
        /// Their OpenPGP certificate (armored or binary).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The active committer or advisor who vouches for them.
        #[arg(long, value_name = "EMAIL")]
        sponsor: String,
        /// Why the sponsor vouches for them (kept in the audit log).
        #[arg(long)]
        statement: Option<String>,
        /// A role they start with (default: subscriber; repeat for several).
        #[arg(long = "role", value_enum)]
        roles: Vec<RoleArg>,
        /// The active admin who grants privileged starting roles.
        #[arg(long, value_name = "EMAIL")]
        by: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the roster.
    #[command(after_help = "Example:\n  embargo member list --status active --json")]
    List {
        /// Only members with this status.
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one member and their certificate.
    #[command(after_help = "Example:\n  embargo member show sec@distro.example")]
    Show {
        email: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Activate a pending member who returned their confirmation token.
    #[command(
        after_help = "Example:\n  embargo member confirm sec@distro.example --token ABCDE-FGHJK-LMNPQ-RSTUV-WXYZ2"
    )]
    Confirm {
        email: String,
        /// The token the member received.
        #[arg(long)]
        token: String,
    },
    /// Stop sending to a member for now.
    #[command(
        after_help = "Example:\n  embargo member suspend sec@distro.example --reason 'key compromise reported'"
    )]
    Suspend {
        email: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: Option<String>,
        /// The member on whose behalf the operator acts.
        #[arg(long, value_name = "EMAIL")]
        by: Option<String>,
    },
    /// Send to a suspended member again.
    #[command(
        after_help = "Example:\n  embargo member resume sec@distro.example --reason 'new key verified'"
    )]
    Resume {
        email: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: Option<String>,
        /// The member on whose behalf the operator acts.
        #[arg(long, value_name = "EMAIL")]
        by: Option<String>,
    },
    /// Take a member off the roster for good (the record stays).
    #[command(
        after_help = "Example:\n  embargo member remove sec@distro.example --reason 'left the company'"
    )]
    Remove {
        email: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
        /// The member on whose behalf the operator acts.
        #[arg(long, value_name = "EMAIL")]
        by: Option<String>,
    },
    /// Replace a member's certificate.
    #[command(
        after_help = "Example:\n  embargo member set-key sec@distro.example --key sam-2027.asc"
    )]
    SetKey {
        email: String,
        /// The new certificate (armored or binary).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The member on whose behalf the operator acts.
        #[arg(long, value_name = "EMAIL")]
        by: Option<String>,
    },
    /// Give a member a role (privileged roles need --by an admin).
    #[command(
        after_help = "Example:\n  embargo member grant bob@example.org committer --by alice@example.org"
    )]
    Grant {
        email: String,
        #[arg(value_enum)]
        role: RoleArg,
        /// The active admin who grants it.
        #[arg(long, value_name = "EMAIL")]
        by: Option<String>,
    },
    /// Take a role away (privileged roles need --by an admin).
    #[command(
        after_help = "Example:\n  embargo member revoke bob@example.org committer --by alice@example.org"
    )]
    Revoke {
        email: String,
        #[arg(value_enum)]
        role: RoleArg,
        /// The active admin who revokes it.
        #[arg(long, value_name = "EMAIL")]
        by: Option<String>,
    },
    /// Record a new sponsor for a member whose sponsor left.
    #[command(
        after_help = "Example:\n  embargo member sponsor sec@distro.example --sponsor carol@example.org --statement 'I know their team'"
    )]
    Sponsor {
        email: String,
        /// The active committer or advisor who now vouches for them.
        #[arg(long, value_name = "EMAIL")]
        sponsor: String,
        /// Why they vouch.
        #[arg(long)]
        statement: Option<String>,
    },
}
