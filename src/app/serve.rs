//! `embargo serve` from start to stop: listen for SIGTERM and SIGINT,
//! open the list (waiting out a storage fault), take the daemon lock, run
//! the daemon loop (`daemon.rs`) until a signal, and close the database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::watch;

use super::App;
use super::health::Health;
use crate::clock::Clock;
use crate::config::Config;

/// Runs the daemon until SIGTERM or SIGINT: copies in flight finish or go
/// back to the queue, then it exits.
pub async fn serve(config: Config, clock: Box<dyn Clock>) -> Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listen for SIGTERM")?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("listen for SIGINT")?;
    let signals = tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("stopping: finishing the copies in flight");
        let _ = stop_tx.send(true);
    });
    let Some(app) = App::open_for_serve(config, clock, stop_rx.clone()).await? else {
        signals.abort();
        return Ok(());
    };
    let _lock = crate::store::lock_sender(&app.config.storage.location())?;
    let transport = app.transport()?;
    let app = Arc::new(app);
    let result = app.clone().daemon(transport, stop_rx).await;
    signals.abort();
    if let Ok(app) = Arc::try_unwrap(app) {
        app.close().await;
    }
    result
}

impl App {
    /// Opens the list for `embargo serve`. When storage is failing (a full
    /// disk, an I/O error, a lock held too long) it tries again with
    /// backoff, logging once per change, until it can or `stop` turns true
    /// (then `None`); a missing or unusable database fails at once.
    pub async fn open_for_serve(
        config: crate::config::Config,
        clock: Box<dyn crate::clock::Clock>,
        mut stop: watch::Receiver<bool>,
    ) -> Result<Option<Self>> {
        let mut health = Health::new(config.delivery.alert_after);
        let timeout = Duration::from_millis(config.storage.busy_timeout_ms);
        loop {
            match crate::store::Store::open(&config.storage.location(), timeout).await {
                Ok(store) => {
                    if health.succeeded(Instant::now()).is_some() {
                        tracing::warn!("the list database opens again; starting");
                    }
                    return Ok(Some(Self::with_store(config, store, clock)));
                }
                Err(err) if err.is_storage_fault() => {
                    let text = format!("{:#}", anyhow::Error::new(err));
                    let after = health.failed(&text, Instant::now());
                    if after.log {
                        tracing::error!(
                            error = %text,
                            retry_in_seconds = after.delay.as_secs(),
                            "cannot open the list database; retrying with backoff"
                        );
                    }
                    tokio::select! {
                        () = tokio::time::sleep(after.delay) => {}
                        _ = stop.changed() => return Ok(None),
                    }
                }
                Err(err) => return Err(anyhow::Error::new(err).context("open the list database")),
            }
        }
    }
}
