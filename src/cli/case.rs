//! `embargo case`: the security team's cases (reports to `[team] address`).

use std::path::PathBuf;

use clap::Subcommand;

/// `embargo case`.
#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// List the cases, oldest first, with each one's acknowledgement clock.
    #[command(after_help = "Example:\n  embargo case list --open --json")]
    List {
        /// Only the cases still open.
        #[arg(long)]
        open: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one case: its reporter, clock, participants and advisory.
    #[command(after_help = "Example:\n  embargo case show CASE-2026-0001")]
    Show {
        /// The case, CASE-YYYY-NNNN.
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge a case: stops its clock and sends FILE's text to the
    /// reporter (encrypted to their key; without one, a content-free
    /// notice), with a copy to the team.
    #[command(
        after_help = "Example:\n  embargo case ack CASE-2026-0001 --message ack.txt --by bob@project.example"
    )]
    Ack {
        /// The case, CASE-YYYY-NNNN.
        id: String,
        /// The text for the reporter.
        #[arg(long, value_name = "FILE")]
        message: PathBuf,
        /// The team member acknowledging it.
        #[arg(long, value_name = "EMAIL")]
        by: String,
    },
    /// Invite someone (a security advisor, a vendor's engineer) into one
    /// case: they receive its thread, encrypted to KEY, and nothing else.
    #[command(
        after_help = "Example:\n  embargo case invite CASE-2026-0001 eve@vendor.example --key eve.asc --reason 'maintains the affected parser' --by bob@project.example"
    )]
    Invite {
        /// The case, CASE-YYYY-NNNN.
        id: String,
        /// The participant's address.
        email: String,
        /// Their OpenPGP certificate, naming EMAIL.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Why they are invited (audited).
        #[arg(long)]
        reason: String,
        /// The team member inviting them.
        #[arg(long, value_name = "EMAIL")]
        by: String,
    },
    /// Close a case (fixed and disclosed, a duplicate, withdrawn).
    #[command(
        after_help = "Example:\n  embargo case close CASE-2026-0001 --reason 'duplicate of CASE-2026-0003' --by bob@project.example"
    )]
    Close {
        /// The case, CASE-YYYY-NNNN.
        id: String,
        /// Why (told to the reporter, encrypted, when we hold their key).
        #[arg(long)]
        reason: String,
        /// The team member closing it.
        #[arg(long, value_name = "EMAIL")]
        by: String,
    },
    /// Reject a case: not a vulnerability. The reporter is told, with the
    /// reason when we hold their key.
    #[command(
        after_help = "Example:\n  embargo case reject CASE-2026-0002 --reason 'works as documented' --by bob@project.example"
    )]
    Reject {
        /// The case, CASE-YYYY-NNNN.
        id: String,
        /// Why it is not a vulnerability.
        #[arg(long)]
        reason: String,
        /// The team member rejecting it.
        #[arg(long, value_name = "EMAIL")]
        by: String,
    },
}
