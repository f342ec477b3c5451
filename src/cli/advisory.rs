//! `embargo advisory …`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

/// How bad it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeverityArg {
    Low,
    Moderate,
    High,
    Critical,
}

/// What members may do during the embargo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PermissionArg {
    Deploy,
    ShipBinaries,
    NotifyCustomers,
}

/// The advisory kinds of mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    Notice,
    Update,
    Reminder,
    Disclosure,
    Cancellation,
}

/// The fields of an advisory, all optional so `edit` can change a few.
#[derive(Debug, Args)]
pub struct Fields {
    /// One-line title.
    #[arg(long)]
    pub title: Option<String>,
    /// Severity.
    #[arg(long, value_enum)]
    pub severity: Option<SeverityArg>,
    /// CVSS v3 or v4 vector (empty to clear).
    #[arg(long)]
    pub cvss: Option<String>,
    /// A CVE id (repeat for several; replaces the list on edit).
    #[arg(long = "cve")]
    pub cves: Vec<String>,
    /// The affected product.
    #[arg(long)]
    pub product: Option<String>,
    /// Affected versions (repeat; replaces the list on edit).
    #[arg(long)]
    pub affected: Vec<String>,
    /// Fixed versions (repeat; replaces the list on edit).
    #[arg(long)]
    pub fixed: Vec<String>,
    /// The description, from a UTF-8 text or Markdown file.
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,
    /// Mitigations, from a UTF-8 text or Markdown file.
    #[arg(long, value_name = "FILE")]
    pub mitigations: Option<PathBuf>,
    /// What members may do during the embargo (repeat; replaces on edit).
    #[arg(long = "allow", value_enum)]
    pub permitted: Vec<PermissionArg>,
    /// Clear the permissions (members may only read).
    #[arg(long, conflicts_with = "permitted")]
    pub allow_nothing: bool,
    /// When the fix is committed, YYYY-MM-DD (empty to clear).
    #[arg(long, value_name = "DATE")]
    pub patch_date: Option<String>,
    /// When the advisory becomes public: an instant with a UTC offset.
    #[arg(long, value_name = "TIME")]
    pub disclose_at: Option<String>,
}

/// Overriding the embargo policy.
#[derive(Debug, Args)]
pub struct ForceArgs {
    /// Override a refusal by the embargo policy (recorded with --reason).
    #[arg(long, requires = "reason")]
    pub force: bool,
    /// Why the policy is overridden.
    #[arg(long)]
    pub reason: Option<String>,
}

/// The advisory verbs.
#[derive(Debug, Subcommand)]
pub enum AdvisoryCommand {
    /// Write a new draft advisory.
    #[command(
        after_help = "Example:\n  embargo advisory new DF-2026-0001 --title 'Heap overflow in frob' --severity high \\\n      --product frob --cve CVE-2026-1234 --affected 'frob < 2.4.1' --fixed 'frob 2.4.1' \\\n      --body advisory.md --allow deploy --patch-date 2026-12-08 --disclose-at 2026-12-09T14:00:00Z"
    )]
    New {
        id: String,
        #[command(flatten)]
        fields: Fields,
        #[command(flatten)]
        force: ForceArgs,
        /// Make it from this case (CASE-YYYY-NNNN): links them, credits the
        /// reporter and posts the proposed timeline to the case.
        #[arg(long, value_name = "CASE")]
        from_case: Option<String>,
        /// With --from-case: credit the reporter by NAME (default: their
        /// address).
        #[arg(long, value_name = "NAME", requires = "from_case")]
        credit: Option<String>,
        /// With --from-case: the reporter asked not to be credited.
        #[arg(long, requires = "from_case", conflicts_with = "credit")]
        anonymous_reporter: bool,
    },
    /// Change an advisory; every change makes a new revision.
    #[command(
        after_help = "Example:\n  embargo advisory edit DF-2026-0001 --disclose-at 2026-12-10T14:00:00Z --severity critical"
    )]
    Edit {
        id: String,
        #[command(flatten)]
        fields: Fields,
        #[command(flatten)]
        force: ForceArgs,
    },
    /// List advisories, newest first.
    #[command(after_help = "Example:\n  embargo advisory list --json")]
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one advisory.
    #[command(after_help = "Example:\n  embargo advisory show DF-2026-0001")]
    Show {
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Who has answered (signed ACK mail) and who has not.
    #[command(after_help = "Example:\n  embargo advisory acks DF-2026-0001 --json")]
    Acks {
        id: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show the mail an advisory makes: the rendered text, or with --sealed
    /// the exact message one member would be sent.
    #[command(
        after_help = "Example:\n  embargo advisory preview DF-2026-0001 --kind notice --for sec@distro.example --sealed --out notice.eml"
    )]
    Preview {
        id: String,
        /// Which mail.
        #[arg(long, value_enum, default_value_t = KindArg::Notice)]
        kind: KindArg,
        /// The member whose copy to build (needed with --sealed).
        #[arg(long = "for", value_name = "EMAIL")]
        member: Option<String>,
        /// Write the signed (and for embargoed kinds encrypted) RFC 5322
        /// message instead of the text.
        #[arg(long)]
        sealed: bool,
        /// Write to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Schedule the first notice (default: now) and check who can get it.
    #[command(
        after_help = "Example:\n  embargo advisory announce DF-2026-0001 --at 2026-12-02T09:00:00Z"
    )]
    Announce {
        id: String,
        /// When the notice goes out: an instant with a UTC offset.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        #[command(flatten)]
        force: ForceArgs,
    },
    /// Make an advisory public; before its time, break the embargo (--now).
    #[command(
        after_help = "Example:\n  embargo advisory disclose DF-2026-0001 --now --reason 'exploited in the wild'"
    )]
    Disclose {
        id: String,
        /// Break the embargo before the disclosure time.
        #[arg(long = "now", requires = "reason")]
        early: bool,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Call an advisory off.
    #[command(
        after_help = "Example:\n  embargo advisory cancel DF-2026-0001 --reason 'not a vulnerability after all'"
    )]
    Cancel {
        id: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// Regression: `advisory acks --help` began with the preview's text
    /// (its doc comment had drifted onto the next verb), and `advisory
    /// preview` had none.
    #[test]
    fn acks_and_preview_each_describe_themselves() {
        let cli = crate::cli::Cli::command();
        let advisory = cli.find_subcommand("advisory").expect("advisory");
        let about = |verb: &str| {
            advisory
                .find_subcommand(verb)
                .and_then(|c| c.get_about())
                .map(ToString::to_string)
                .unwrap_or_default()
        };
        assert!(
            about("acks").starts_with("Who has answered"),
            "{}",
            about("acks")
        );
        assert!(
            !about("acks").contains("Show the mail"),
            "{}",
            about("acks")
        );
        assert!(
            about("preview").starts_with("Show the mail"),
            "{}",
            about("preview")
        );
    }
}
