//! `embargo init` and `embargo key`.

use anyhow::{Context, Result};

use super::{kind, print_warnings, read_file, role};
use crate::app::App;
use crate::app::init::{InitRequest, init as init_list};
use crate::cli::{InitArgs, KeyCommand};
use crate::clock;
use crate::config::Config;

pub async fn init(config: Config, list: Option<&str>, args: InitArgs) -> Result<()> {
    let clock = clock::from_env()?;
    let request = InitRequest {
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
        list_name: list.map(str::to_owned),
    };
    let outcome = init_list(&config, clock.as_ref(), request).await?;
    print_warnings(&outcome.warnings);
    println!("Created the list {}.", config.list.address);
    // The SQLite file, or the server's URL without its password.
    println!("  database:     {}", config.storage.location().describe());
    println!("  list key:     {}", outcome.key_file.display());
    println!("  fingerprint:  {}", outcome.list_fingerprint);
    println!(
        "  first admin:  {} ({})",
        outcome.admin.email, outcome.admin.roles
    );
    println!("Publish the list's certificate with `embargo key export`.");
    Ok(())
}

pub async fn key(app: App, command: KeyCommand) -> Result<()> {
    match command {
        KeyCommand::Export => {
            let public = app.list_certificate()?;
            use std::io::Write;
            std::io::stdout()
                .write_all(&public)
                .context("write the certificate")?;
        }
    }
    app.finish();
    Ok(())
}
