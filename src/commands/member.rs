//! `embargo member …`.

use std::io::Write;

use anyhow::{Context, Result};

use super::{flags, kind, print_json, print_warnings, read_file, role};
use crate::app::App;
use crate::app::roster::{AddMember, Caller};
use crate::cli::MemberCommand;
use crate::cli::member::StatusArg;
use crate::clock::format_instant;
use crate::roster::gate::Transition;
use crate::roster::{MemberSummary, Status};

pub async fn dispatch(app: App, command: MemberCommand) -> Result<()> {
    let result = run(&app, command).await;
    app.finish();
    result
}

async fn run(app: &App, command: MemberCommand) -> Result<()> {
    match command {
        MemberCommand::Add {
            email,
            name,
            org,
            kind: kind_arg,
            key,
            sponsor,
            statement,
            roles,
            by,
            json,
        } => {
            let cert = read_file(&key, "key file")?;
            let added = app
                .add_member(AddMember {
                    email,
                    name,
                    org,
                    kind: kind(kind_arg),
                    cert,
                    sponsor,
                    statement,
                    roles: roles.into_iter().map(role).collect(),
                    by,
                })
                .await?;
            print_warnings(&added.warnings);
            if json {
                print_json(&serde_json::json!({
                    "member": added.member,
                    "confirmation_token": added.token,
                }))?;
            } else {
                println!(
                    "Added {} as pending, sponsored by {}.",
                    added.member.email,
                    added
                        .member
                        .sponsor
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                );
                println!("  fingerprint:         {}", added.member.fingerprint);
                println!("  confirmation token:  {}", added.token);
                println!(
                    "Send the token to the member encrypted to their key; they become active with\n  embargo member confirm {} --token TOKEN",
                    added.member.email
                );
            }
        }
        MemberCommand::List { status, json } => {
            if json {
                let listing = app.list_members_json(status.map(status_filter)).await?;
                let mut out = std::io::stdout().lock();
                writeln!(out, "{listing}").context("write JSON")?;
            } else {
                print_table(&app.list_members(status.map(status_filter)).await?)?;
            }
        }
        MemberCommand::Show { email, json } => {
            let details = app.show_member(&email).await?;
            if json {
                print_json(&details)?;
            } else {
                print_details(&details)?;
            }
        }
        MemberCommand::Confirm { email, token } => {
            let member = app.confirm_member(&email, &token).await?;
            println!("{} is now active.", member.email);
        }
        MemberCommand::Suspend { email, reason, by } => {
            let reason = flags::optional_reason(reason.as_deref())?;
            let (member, _) = app
                .change_status(
                    &email,
                    Transition::Suspend,
                    reason.as_ref(),
                    &Caller::cli(by.as_deref()),
                )
                .await?;
            println!("{} is now suspended.", member.email);
        }
        MemberCommand::Resume { email, reason, by } => {
            let reason = flags::optional_reason(reason.as_deref())?;
            let (member, _) = app
                .change_status(
                    &email,
                    Transition::Resume,
                    reason.as_ref(),
                    &Caller::cli(by.as_deref()),
                )
                .await?;
            println!("{} is now active again.", member.email);
        }
        MemberCommand::Remove { email, reason, by } => {
            let reason = flags::reason(&reason)?;
            let (member, flagged) = app
                .change_status(
                    &email,
                    Transition::Remove,
                    Some(&reason),
                    &Caller::cli(by.as_deref()),
                )
                .await?;
            println!("{} is now removed.", member.email);
            if !flagged.is_empty() {
                println!("These members were sponsored by them and now need a new sponsor:");
                for email in flagged {
                    println!("  {email}    (embargo member sponsor {email} --sponsor EMAIL)");
                }
            }
        }
        MemberCommand::SetKey { email, key, by } => {
            let cert = read_file(&key, "key file")?;
            let (member, warnings) = app
                .set_member_key(&email, &cert, &Caller::cli(by.as_deref()))
                .await?;
            print_warnings(&warnings);
            println!(
                "{} now uses certificate {}.",
                member.email, member.fingerprint
            );
        }
        MemberCommand::Grant { email, role: r, by } => {
            let member = app
                .change_role(&email, role(r), true, by.as_deref())
                .await?;
            println!("{} now holds: {}.", member.email, member.roles);
        }
        MemberCommand::Revoke { email, role: r, by } => {
            let member = app
                .change_role(&email, role(r), false, by.as_deref())
                .await?;
            println!("{} now holds: {}.", member.email, member.roles);
        }
        MemberCommand::Sponsor {
            email,
            sponsor,
            statement,
        } => {
            let member = app
                .responsor_member(&email, &sponsor, statement.as_deref())
                .await?;
            println!(
                "{} is now sponsored by {}.",
                member.email,
                member
                    .sponsor
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn status_filter(arg: StatusArg) -> Status {
    match arg {
        StatusArg::Pending => Status::Pending,
        StatusArg::Active => Status::Active,
        StatusArg::Suspended => Status::Suspended,
        StatusArg::Removed => Status::Removed,
    }
}

fn print_table(members: &[MemberSummary]) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let width = members
        .iter()
        .map(|m| m.email.as_str().len())
        .max()
        .unwrap_or(5)
        .max(5);
    writeln!(
        out,
        "{:<width$}  {:<9}  {:<12}  {:<28}  {:<20}  FINGERPRINT",
        "EMAIL", "STATUS", "KIND", "ROLES", "ORG"
    )
    .context("write the table")?;
    for m in members {
        let flag = if m.needs_sponsor {
            "  (needs a new sponsor)"
        } else {
            ""
        };
        writeln!(
            out,
            "{:<width$}  {:<9}  {:<12}  {:<28}  {:<20}  {}{}",
            m.email.as_str(),
            m.status.as_str(),
            m.kind.as_str(),
            m.roles.to_string(),
            m.org,
            m.fingerprint,
            flag
        )
        .context("write the table")?;
    }
    writeln!(out, "{} member(s)", members.len()).context("write the table")?;
    out.flush().context("write the table")?;
    Ok(())
}

fn print_details(details: &crate::app::membership::MemberDetails) -> Result<()> {
    let m = &details.member;
    let c = &details.certificate;
    println!("{} <{}>", m.name, m.email);
    println!("  organisation:   {} ({})", m.org, m.kind);
    println!("  status:         {}", m.status);
    println!("  roles:          {}", m.roles);
    match &m.sponsor {
        Some(sponsor) => println!("  sponsor:        {sponsor}"),
        None => println!("  sponsor:        none (first admin)"),
    }
    if let Some(statement) = &m.statement {
        println!(
            "  statement:      {}",
            statement.replace('\n', "\n                  ")
        );
    }
    if m.needs_sponsor {
        println!("  needs sponsor:  yes (their sponsor was removed)");
    }
    println!("  added:          {}", format_instant(m.created_at));
    if let Some(at) = m.confirmed_at {
        println!("  confirmed:      {}", format_instant(at));
    }
    println!("  fingerprint:    {}", c.fingerprint);
    println!("  primary key:    {}", c.primary_algorithm);
    for uid in &c.user_ids {
        println!("  user ID:        {uid}");
    }
    for key in &c.encryption_keys {
        let expires = key
            .expires
            .map_or_else(|| "never".to_owned(), format_instant);
        println!(
            "  encryption key: {} {} (expires {expires})",
            key.algorithm, key.fingerprint
        );
    }
    if let Some(problem) = &c.problem {
        println!("  PROBLEM:        {problem}");
    }
    Ok(())
}
