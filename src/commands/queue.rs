//! `embargo queue …` and `embargo serve`.

use std::sync::Arc;

use anyhow::Result;

use super::{flags, print_json};
use crate::app::App;
use crate::cli::{QueueCommand, ServeArgs};

pub async fn dispatch(app: App, command: QueueCommand) -> Result<()> {
    let app = Arc::new(app);
    let result = run(&app, command).await;
    if let Ok(app) = Arc::try_unwrap(app) {
        app.finish();
    }
    result
}

async fn run(app: &Arc<App>, command: QueueCommand) -> Result<()> {
    match command {
        QueueCommand::List { all, json } => {
            let rows = app.queue_rows(all).await?;
            if json {
                return print_json(&rows);
            }
            if rows.is_empty() {
                println!("The outbox holds nothing that needs attention.");
                return Ok(());
            }
            println!(
                "{:>6}  {:<10} {:<16} {:<32} {:<9} {:>3}  {:<24} REPLY",
                "ID", "KIND", "ADVISORY", "RECIPIENT", "STATE", "TRY", "NEXT"
            );
            for row in rows {
                println!(
                    "{:>6}  {:<10} {:<16} {:<32} {:<9} {:>3}  {:<24} {}",
                    row.id,
                    row.kind.name(),
                    row.advisory.as_deref().unwrap_or("-"),
                    row.recipient,
                    row.state.as_str(),
                    row.attempts,
                    row.next_attempt_at.as_deref().unwrap_or("-"),
                    row.last_reply.as_deref().unwrap_or("")
                );
            }
            Ok(())
        }
        QueueCommand::Run { json } => {
            let (prepared, tally) = app.queue_run().await?;
            if json {
                print_json(&serde_json::json!({ "prepared": prepared, "delivered": tally }))?;
            } else {
                // Copies are sealed when their mail is scheduled (at
                // announce, or by an earlier pass) and wait in the outbox
                // as ciphertext, so "sealed" counts this run's own sealing.
                println!(
                    "scheduler: sealed {} new copies in this run (the rest were sealed when scheduled), missed {}, disclosed {}",
                    prepared.sealed,
                    prepared.missed + tally.missed,
                    prepared.disclosed.len(),
                );
                println!(
                    "outbox: sent {}, to retry {}, failed {}, uncertain {}, dropped {}",
                    tally.sent, tally.retry, tally.failed, tally.uncertain, tally.dropped
                );
            }
            // The steps that worked were done and what was due was sent;
            // a failed step still makes the run fail (cron mail shows it).
            let mut failed = prepared.failed;
            failed.sort();
            failed.dedup();
            if !failed.is_empty() {
                anyhow::bail!(
                    "{} scheduler step(s) failed; the rest was done and sent:\n  {}",
                    failed.len(),
                    failed.join("\n  ")
                );
            }
            Ok(())
        }
        QueueCommand::Retry { id } => {
            let state = app.retry_delivery(id).await?;
            println!("copy {id} ({state}) goes out on the next run, with the same Message-ID");
            Ok(())
        }
        QueueCommand::Hold(args) => {
            let reason = flags::reason(&args.reason)?;
            println!(
                "{}",
                app.hold(&args.target, args.until.as_deref(), &reason, args.force)
                    .await?
            );
            Ok(())
        }
        QueueCommand::Release { target } => {
            println!("{}", app.release(&target).await?);
            Ok(())
        }
    }
}

/// `embargo serve`: runs the daemon until SIGTERM or SIGINT.
pub async fn serve(
    config: crate::config::Config,
    clock: Box<dyn crate::clock::Clock>,
    args: ServeArgs,
) -> Result<()> {
    crate::app::serve::serve(config, clock, &args.lists).await
}
