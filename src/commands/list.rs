//! `embargo list`: make, show and list the lists of an instance.

use anyhow::Result;

use super::{kind, print_json, print_warnings, read_file, role};
use crate::app::init::InitRequest;
use crate::app::lists::{CreateList, Instance, ListSummary};
use crate::cli::ListCommand;
use crate::clock;
use crate::config::Config;

pub async fn dispatch(config: Config, command: ListCommand) -> Result<()> {
    let instance = Instance::open(config).await?;
    match command {
        ListCommand::Create(args) => {
            let clock = clock::from_env()?;
            let request = CreateList {
                name: args.list_name.clone(),
                address: args.address,
                request_address: args.request_address,
                admin: InitRequest {
                    admin_email: args.admin,
                    admin_name: args.name,
                    admin_org: args.org,
                    admin_kind: kind(args.kind),
                    admin_key: read_file(&args.key, "admin key file")?,
                    extra_roles: args.roles.into_iter().map(role).collect(),
                    import_key: args
                        .import_key
                        .as_ref()
                        .map(|path| read_file(path, "list key file"))
                        .transpose()?,
                    list_name: Some(args.list_name.clone()),
                },
            };
            let outcome = instance.create_list(clock.as_ref(), request).await?;
            print_warnings(&outcome.warnings);
            println!("Created the list {}.", args.list_name);
            println!("  list key:     {}", outcome.key_file.display());
            println!("  fingerprint:  {}", outcome.list_fingerprint);
            println!(
                "  first admin:  {} ({})",
                outcome.admin.email, outcome.admin.roles
            );
            println!(
                "Work on it with --list {}; route its addresses to `embargo ingest --recipient ${{recipient}}`.",
                args.list_name
            );
        }
        ListCommand::Show { name, json } => {
            let row = instance.select(Some(&name)).await?;
            let summary = instance.summary(&row).await?;
            if json {
                print_json(&summary)?;
            } else {
                print_one(&summary);
            }
        }
        ListCommand::Ls { json } => {
            let summaries = instance.summaries().await?;
            if json {
                print_json(&summaries)?;
            } else {
                println!(
                    "{:<20} {:<40} {:>8} {:>6}",
                    "NAME", "ADDRESS", "MEMBERS", "OPEN"
                );
                for list in &summaries {
                    println!(
                        "{:<20} {:<40} {:>8} {:>6}",
                        list.name, list.address, list.active_members, list.open_advisories
                    );
                }
            }
        }
    }
    instance.close().await;
    Ok(())
}

fn print_one(list: &ListSummary) {
    println!("name:             {}", list.name);
    println!("display name:     {}", list.display_name);
    println!("address:          {}", list.address);
    println!("request address:  {}", list.request_address);
    println!("fingerprint:      {}", list.fingerprint);
    println!("created:          {}", list.created_at);
    println!("active members:   {}", list.active_members);
    println!("open advisories:  {}", list.open_advisories);
}
