//! `embargo advisory …`.

use std::io::Write;

use anyhow::{Context, Result};

use super::{flags, print_json, print_warnings, read_file};
use crate::advisory::policy::Verdict;
use crate::advisory::{Advisory, Permission, Severity};
use crate::app::App;
use crate::app::advisory::{AdvisoryInput, Force};
use crate::app::advisory_view::{Preview, Unreachable, both_times};
use crate::cli::advisory::{
    AdvisoryCommand, Fields, ForceArgs, KindArg, PermissionArg, SeverityArg,
};
use crate::compose::Kind;

pub async fn dispatch(app: App, command: AdvisoryCommand) -> Result<()> {
    let result = run(&app, command).await;
    app.finish();
    result
}

fn input(fields: Fields) -> Result<AdvisoryInput> {
    let list = |items: Vec<String>| (!items.is_empty()).then_some(items);
    Ok(AdvisoryInput {
        title: fields.title,
        severity: fields.severity.map(|s| match s {
            SeverityArg::Low => Severity::Low,
            SeverityArg::Moderate => Severity::Moderate,
            SeverityArg::High => Severity::High,
            SeverityArg::Critical => Severity::Critical,
        }),
        cvss: fields.cvss,
        cves: list(fields.cves),
        product: fields.product,
        affected: list(fields.affected),
        fixed: list(fields.fixed),
        body: fields
            .body
            .as_ref()
            .map(|p| read_file(p, "body file"))
            .transpose()?,
        mitigations: fields
            .mitigations
            .as_ref()
            .map(|p| read_file(p, "mitigations file"))
            .transpose()?,
        permitted: if fields.allow_nothing {
            Some(Vec::new())
        } else if fields.permitted.is_empty() {
            None
        } else {
            Some(
                fields
                    .permitted
                    .into_iter()
                    .map(|p| match p {
                        PermissionArg::Deploy => Permission::Deploy,
                        PermissionArg::ShipBinaries => Permission::ShipBinaries,
                        PermissionArg::NotifyCustomers => Permission::NotifyCustomers,
                    })
                    .collect(),
            )
        },
        patch_date: fields.patch_date,
        disclose_at: fields.disclose_at,
    })
}

fn force(args: ForceArgs) -> Result<Force> {
    Ok(Force {
        force: args.force,
        reason: flags::optional_reason(args.reason.as_deref())?,
    })
}

fn kind(arg: KindArg) -> Kind {
    match arg {
        KindArg::Notice => Kind::Notice,
        KindArg::Update => Kind::Update,
        KindArg::Reminder => Kind::Reminder,
        KindArg::Disclosure => Kind::Disclosure,
        KindArg::Cancellation => Kind::Cancellation,
    }
}

fn report(verdict: &Verdict) {
    for breach in &verdict.refusals {
        eprintln!(
            "warning: policy overridden with --force: {} ({})",
            breach.message, breach.rule
        );
    }
    let warnings: Vec<String> = verdict.warnings.iter().map(|w| w.message.clone()).collect();
    print_warnings(&warnings);
}

fn report_unreachable(unreachable: &[Unreachable]) {
    if unreachable.is_empty() {
        println!("Every active member's key can take the notice until disclosure.");
        return;
    }
    println!(
        "These members' keys cannot take all of this advisory's encrypted mail; what they miss arrives as the content-free `missed` notice:"
    );
    for member in unreachable {
        println!("  {}: {} ({})", member.email, member.misses, member.reason);
    }
}

async fn run(app: &App, command: AdvisoryCommand) -> Result<()> {
    match command {
        AdvisoryCommand::New {
            id,
            fields,
            force: f,
            from_case,
            credit,
            anonymous_reporter,
        } => {
            let (advisory, verdict) = match from_case {
                Some(case) => {
                    let from = crate::app::case_advisory::FromCase {
                        case,
                        credit,
                        anonymous: anonymous_reporter,
                    };
                    app.new_advisory_from_case(&id, &input(fields)?, &force(f)?, &from)
                        .await?
                }
                None => app.new_advisory(&id, &input(fields)?, &force(f)?).await?,
            };
            report(&verdict);
            println!(
                "Drafted {} (revision 1), to be disclosed at {}.",
                advisory.id,
                both_times(advisory.content.disclose_at)
            );
        }
        AdvisoryCommand::Edit {
            id,
            fields,
            force: f,
        } => {
            let (advisory, changes, verdict) =
                app.edit_advisory(&id, &input(fields)?, &force(f)?).await?;
            report(&verdict);
            println!(
                "{} is now at revision {}. Changed:",
                advisory.id, advisory.revision
            );
            for change in changes {
                println!("  {}", change.field);
            }
        }
        AdvisoryCommand::Acks { id, json } => {
            let rows = app.advisory_acks(&id).await?;
            if json {
                print_json(&rows)?;
                return Ok(());
            }
            println!(
                "{:<36}  {:<14}  {:<28}  NOTE",
                "MEMBER", "ANSWER", "WHEN (UTC)"
            );
            let mut unanswered = 0;
            for row in &rows {
                if row.status.is_none() {
                    unanswered += 1;
                }
                println!(
                    "{:<36}  {:<14}  {:<28}  {}",
                    row.email,
                    row.status.map_or("-", |status| status.as_str()),
                    row.at.as_deref().unwrap_or("-"),
                    row.note.as_deref().unwrap_or("")
                );
            }
            println!("{} answered, {unanswered} not yet", rows.len() - unanswered);
        }
        AdvisoryCommand::List { json } => {
            let advisories = app.list_advisories().await?;
            if json {
                print_json(&advisories)?;
            } else {
                println!(
                    "{:<20}  {:<10}  {:>3}  {:<22}  TITLE",
                    "ID", "STATUS", "REV", "DISCLOSURE (UTC)"
                );
                for a in &advisories {
                    println!(
                        "{:<20}  {:<10}  {:>3}  {:<22}  {}",
                        a.id.as_str(),
                        a.status.as_str(),
                        a.revision,
                        crate::advisory::time::format_utc(a.content.disclose_at),
                        a.content.title
                    );
                }
            }
        }
        AdvisoryCommand::Show { id, json } => {
            let (advisory, changes, held_until) = app.show_advisory(&id).await?;
            let case = app.case_of_advisory(&id).await?;
            let agreed = case
                .as_ref()
                .map(|case| case.agreed.as_ref().map(|(_, how)| how.clone()));
            if json {
                let mut shown = serde_json::json!({
                    "advisory": advisory,
                    "changes": changes,
                    "held_until": held_until.map(crate::clock::format_instant),
                });
                // Only an advisory made from a case says so: the output of
                // every other advisory stays as it was.
                if let (Some(case), Some(object)) = (&case, shown.as_object_mut()) {
                    object.insert("case".to_owned(), serde_json::json!(case.id.to_string()));
                    object.insert(
                        "reporter_agreed".to_owned(),
                        serde_json::json!(agreed.clone().flatten()),
                    );
                }
                print_json(&shown)?;
            } else {
                print_advisory(&advisory);
                if let Some(case) = &case {
                    println!(
                        "  case:         {} (reporter {})",
                        case.id,
                        case.credit.as_deref().map_or_else(
                            || "anonymous".to_owned(),
                            |name| format!("credited as {name}")
                        )
                    );
                    println!(
                        "  timeline:     {}",
                        match agreed.clone().flatten().as_deref() {
                            Some("signed") => "the reporter agreed (signed with their key)",
                            Some(_) => "the reporter agreed (by an unsigned reply)",
                            None => "the reporter has not agreed",
                        }
                    );
                }
                if let Some(until) = held_until {
                    println!(
                        "  held:         the disclosure is held until {} (`embargo queue release {}` returns it to its own time)",
                        both_times(until),
                        advisory.id
                    );
                }
                if !changes.is_empty() {
                    println!("Changed in revision {}:", advisory.revision);
                    for change in changes {
                        println!("  {}: {} -> {}", change.field, change.old, change.new);
                    }
                }
            }
        }
        AdvisoryCommand::Preview {
            id,
            kind: k,
            member,
            sealed,
            out,
        } => {
            let preview = app
                .preview_advisory(&id, kind(k), member.as_deref(), sealed)
                .await?;
            let bytes = match preview {
                Preview::Text(rendered) => {
                    format!("Subject: {}\n\n{}", rendered.subject, rendered.body).into_bytes()
                }
                Preview::Sealed(bytes) => bytes,
            };
            match out {
                Some(path) => std::fs::write(&path, &bytes)
                    .with_context(|| format!("write {}", path.display()))?,
                None => std::io::stdout()
                    .write_all(&bytes)
                    .context("write the preview")?,
            }
        }
        AdvisoryCommand::Announce { id, at, force: f } => {
            let (advisory, verdict, unreachable) = app
                .announce_advisory(&id, at.as_deref(), &force(f)?)
                .await?;
            report(&verdict);
            let at = advisory.announce_at.unwrap_or(advisory.updated_at);
            println!(
                "{} is scheduled: the notice goes out at {}; disclosure at {}.",
                advisory.id,
                both_times(at),
                both_times(advisory.content.disclose_at)
            );
            report_unreachable(&unreachable);
        }
        AdvisoryCommand::Disclose { id, early, reason } => {
            let reason = flags::optional_reason(reason.as_deref())?;
            let advisory = app.disclose_advisory(&id, early, reason.as_ref()).await?;
            println!("{} is disclosed.", advisory.id);
        }
        AdvisoryCommand::Cancel { id, reason } => {
            let advisory = app.cancel_advisory(&id, &flags::reason(&reason)?).await?;
            println!("{} is cancelled.", advisory.id);
        }
    }
    Ok(())
}

fn print_advisory(a: &Advisory) {
    let c = &a.content;
    let list = |items: &[String]| {
        if items.is_empty() {
            "-".to_owned()
        } else {
            items.join(", ")
        }
    };
    println!("{}  {}", a.id, c.title);
    println!("  status:       {} (revision {})", a.status, a.revision);
    println!(
        "  severity:     {}{}",
        c.severity,
        c.cvss
            .as_deref()
            .map(|v| format!(" ({v})"))
            .unwrap_or_default()
    );
    println!("  CVE:          {}", list(&c.cves));
    println!("  product:      {}", c.product);
    println!("  affected:     {}", list(&c.affected));
    println!("  fixed:        {}", list(&c.fixed));
    println!(
        "  patch date:   {}",
        c.patch_date
            .map_or_else(|| "-".to_owned(), |d| d.to_string())
    );
    println!("  disclosure:   {}", both_times(c.disclose_at));
    if let Some(at) = a.announce_at {
        println!("  notice at:    {}", both_times(at));
    }
    let permitted: Vec<&str> = c.permitted.iter().map(|p| p.as_str()).collect();
    println!(
        "  permitted:    {}",
        if permitted.is_empty() {
            "nothing".to_owned()
        } else {
            permitted.join(", ")
        }
    );
    println!();
    println!("{}", c.description);
    if let Some(m) = &c.mitigations {
        println!("\nMitigations:\n{m}");
    }
}
