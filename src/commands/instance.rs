//! `embargo instance`: observers and the instance report.

use anyhow::Result;

use super::{print_json, print_warnings, read_file};
use crate::app::lists::Instance;
use crate::cli::{InstanceCommand, ObserverCommand};
use crate::clock;
use crate::config::Config;

pub async fn dispatch(config: Config, command: InstanceCommand) -> Result<()> {
    let instance = Instance::open(config).await?;
    let outcome = run(&instance, command).await;
    instance.close().await;
    outcome
}

async fn run(instance: &Instance, command: InstanceCommand) -> Result<()> {
    match command {
        InstanceCommand::Observer(ObserverCommand::Add { email, key, reason }) => {
            let cert = read_file(&key, "observer key file")?;
            let added = instance
                .add_observer(clock::from_env()?, &email, &cert, &reason)
                .await?;
            print_warnings(&added.warnings);
            println!(
                "Added the observer {} (key {}).",
                added.observer.email, added.observer.fingerprint
            );
        }
        InstanceCommand::Observer(ObserverCommand::Remove { email, reason }) => {
            instance
                .remove_observer(clock::from_env()?, &email, &reason)
                .await?;
            println!("Removed the observer {email}.");
        }
        InstanceCommand::Observer(ObserverCommand::Ls { json }) => {
            let observers = instance.observers().await?;
            if json {
                print_json(&observers)?;
            } else {
                println!("{:<40} {:<40} ADDED", "EMAIL", "FINGERPRINT");
                for observer in &observers {
                    println!(
                        "{:<40} {:<40} {}",
                        observer.email, observer.fingerprint, observer.created_at
                    );
                }
            }
        }
        InstanceCommand::Report { json } => {
            let report = instance.report(clock::from_env()?.as_ref()).await?;
            if json {
                print_json(&report)?;
            } else {
                for line in report.lines() {
                    println!("{line}");
                }
            }
        }
    }
    Ok(())
}
