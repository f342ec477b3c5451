//! `embargo audit`.

use anyhow::Result;

use super::print_json;
use crate::app::App;
use crate::audit;
use crate::cli::AuditCommand;

pub async fn dispatch(app: App, command: AuditCommand) -> Result<()> {
    let entries = app.audit_entries().await?;
    app.finish();
    match command {
        AuditCommand::List { json: true } => print_json(&entries)?,
        AuditCommand::List { json: false } => {
            for entry in &entries {
                let reason = entry
                    .reason
                    .as_deref()
                    .map(|r| format!(" reason={r:?}"))
                    .unwrap_or_default();
                println!(
                    "{:>6}  {}  {:<32}  {:<22}  {}{}  {}",
                    entry.seq,
                    entry.at,
                    entry.actor,
                    entry.action,
                    entry.subject,
                    reason,
                    entry.detail
                );
            }
        }
        AuditCommand::Verify => {
            let count = audit::verify(entries)?;
            println!("audit log intact: {count} entries");
        }
    }
    Ok(())
}
