//! `embargo case …`.

use anyhow::{Context as _, Result};

use super::{flags, print_json, read_file};
use crate::app::App;
use crate::app::case_desk::{CaseActed, CaseSummary};
use crate::cli::CaseCommand;

pub async fn dispatch(app: App, command: CaseCommand) -> Result<()> {
    let result = run(&app, command).await;
    app.finish();
    result
}

async fn run(app: &App, command: CaseCommand) -> Result<()> {
    match command {
        CaseCommand::List { open, json } => {
            let cases = app.case_list(open).await?;
            if json {
                print_json(&cases)?;
            } else if cases.is_empty() {
                println!("No cases.");
            } else {
                println!(
                    "{:<16} {:<9} {:<21} {:<34} {:<12} REPORTER",
                    "CASE", "STATE", "OPENED", "CLOCK", "ADVISORY"
                );
                for case in &cases {
                    print_row(case);
                }
            }
        }
        CaseCommand::Show { id, json } => {
            let case = app.case_show(&id).await?;
            if json {
                print_json(&case)?;
            } else {
                let s = &case.summary;
                println!("{} ({})", s.id, s.state);
                println!("  reporter:       {}", s.reporter);
                println!(
                    "  reporter key:   {}",
                    s.reporter_key
                        .as_deref()
                        .unwrap_or("none (content-free notices only)")
                );
                println!(
                    "  sender:         {}",
                    if s.reporter_verified {
                        "verified by our mail server"
                    } else {
                        "not verified"
                    }
                );
                println!("  opened:         {}", s.opened_at);
                println!(
                    "  acknowledged:   {}",
                    s.acknowledged_at.as_deref().unwrap_or("no")
                );
                println!("  clock:          {}", s.clock);
                if !s.fired.is_empty() {
                    println!("  clock steps:    {}", s.fired.join(", "));
                }
                if let Some(closed) = &s.closed_at {
                    println!("  closed:         {closed}");
                }
                println!(
                    "  messages kept:  {} (encrypted to the list key)",
                    case.messages
                );
                match &s.advisory {
                    Some(advisory) => {
                        println!(
                            "  advisory:       {advisory} (reporter {})",
                            if case.reporter_credited {
                                "credited"
                            } else {
                                "anonymous"
                            }
                        );
                        println!(
                            "  timeline:       {}",
                            match case.reporter_agreed.as_deref() {
                                Some("signed") => "the reporter agreed (signed)",
                                Some(_) => "the reporter agreed (unsigned reply)",
                                None => "the reporter has not agreed yet",
                            }
                        );
                    }
                    None => println!("  advisory:       none"),
                }
                for p in &case.participants {
                    println!(
                        "  participant:    {} ({}) invited by {} at {}: {}",
                        p.email, p.fingerprint, p.invited_by, p.invited_at, p.reason
                    );
                }
            }
        }
        CaseCommand::Ack { id, message, by } => {
            let text = read_file(&message, "message file")?;
            let text = String::from_utf8(text).context("--message: the file is not UTF-8")?;
            let acted = app.case_ack(&id, &text, &by).await?;
            report(&acted, "acknowledged");
        }
        CaseCommand::Invite {
            id,
            email,
            key,
            reason,
            by,
        } => {
            let cert = read_file(&key, "key file")?;
            let reason = flags::reason(&reason)?;
            let acted = app.case_invite(&id, &email, &cert, &reason, &by).await?;
            println!(
                "Invited {email} into {}; {} copies queued.",
                acted.case, acted.copies
            );
        }
        CaseCommand::Close { id, reason, by } => {
            let reason = flags::reason(&reason)?;
            let acted = app.case_end(&id, &reason, &by, false).await?;
            report(&acted, "closed");
        }
        CaseCommand::Reject { id, reason, by } => {
            let reason = flags::reason(&reason)?;
            let acted = app.case_end(&id, &reason, &by, true).await?;
            report(&acted, "rejected");
        }
    }
    Ok(())
}

fn print_row(case: &CaseSummary) {
    println!(
        "{:<16} {:<9} {:<21} {:<34} {:<12} {}",
        case.id,
        case.state,
        case.opened_at,
        case.clock,
        case.advisory.as_deref().unwrap_or("-"),
        case.reporter
    );
}

fn report(acted: &CaseActed, what: &str) {
    println!(
        "{} {what}; {} copies queued; the reporter's copy is {}.",
        acted.case,
        acted.copies,
        if acted.reporter_encrypted {
            "encrypted to their key"
        } else {
            "a content-free notice (no key of theirs)"
        }
    );
}
