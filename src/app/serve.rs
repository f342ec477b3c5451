//! `embargo serve` from start to stop: listen for SIGTERM and SIGINT,
//! open the database (waiting out a storage fault), take the daemon lock
//! (SQLite only: on PostgreSQL several daemons share the work through row
//! locks), and run the daemon loop (`daemon.rs`) for each list it serves,
//! each as its own task, until a signal; then close the database.
//!
//! Lists made while it runs are picked up within [`RESCAN`]. The wake
//! socket is bound once and wakes every list's loop.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::sync::{Notify, watch};
use tracing::Instrument as _;

use super::health::Health;
use super::lists::Instance;
use crate::clock::{Clock, SharedClock};
use crate::config::Config;
use crate::store::{ListId, Store, WakeSocket};

/// How often the daemon looks for lists made since it started.
const RESCAN: Duration = Duration::from_secs(5);

/// Runs the daemon until SIGTERM or SIGINT: copies in flight finish or go
/// back to the queue, then it exits. With `only`, serves just those
/// lists (each must exist).
pub async fn serve(config: Config, clock: Box<dyn Clock>, only: &[String]) -> Result<()> {
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
    let location = config.storage.location();
    let Some(store) = open_for_serve(&config, stop_rx.clone()).await? else {
        signals.abort();
        return Ok(());
    };
    let _lock = crate::store::lock_sender(&location)?;
    let instance = Arc::new(Instance { config, store });
    let result = run(instance.clone(), Arc::from(clock), only, stop_rx).await;
    signals.abort();
    if let Ok(instance) = Arc::try_unwrap(instance) {
        instance.close().await;
    }
    result
}

/// Starts a loop for every list to serve, and for lists made later, until
/// `stop`; then waits for every loop to finish.
async fn run(
    instance: Arc<Instance>,
    clock: Arc<dyn Clock>,
    only: &[String],
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    if !only.is_empty() {
        let lists = instance.lists().await?;
        let unknown: Vec<&str> = only
            .iter()
            .filter(|name| !lists.iter().any(|list| &list.name == *name))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            let names: Vec<&str> = lists.iter().map(|list| list.name.as_str()).collect();
            bail!(
                "--lists names no list here: {}; the lists are: {}",
                unknown.join(", "),
                names.join(", ")
            );
        }
    }
    instance.store.mute_wake();
    let wake = Arc::new(Notify::new());
    let senders = super::senders::Senders::start(instance.config.delivery.concurrency);
    let socket = bind_wake(instance.config.storage.location().local_path());
    // The newest instant the database recorded, read once for every list
    // of this process (each list's loop checks its clock against it).
    let newest = instance.store.newest_instant().await.ok();
    let mut running: BTreeMap<ListId, tokio::task::JoinHandle<()>> = BTreeMap::new();
    loop {
        if *stop.borrow() {
            break;
        }
        match instance.lists().await {
            Ok(lists) => {
                let mut started = Vec::new();
                for row in lists {
                    if running.contains_key(&row.id)
                        || (!only.is_empty() && !only.contains(&row.name))
                    {
                        continue;
                    }
                    let app = instance
                        .app(&row, Box::new(SharedClock(clock.clone())))
                        .await?;
                    app.share_senders(senders.clone());
                    if let Some(newest) = newest {
                        app.know_newest_instant(newest);
                    }
                    let transport = app.transport()?;
                    let app = Arc::new(app);
                    let span = tracing::info_span!("list", name = %row.name);
                    let (stop, wake) = (stop.clone(), wake.clone());
                    let name = row.name.clone();
                    running.insert(
                        row.id,
                        tokio::spawn(
                            async move {
                                if let Err(err) = app.daemon(transport, stop, wake).await {
                                    tracing::error!(list = %name, error = %format!("{err:#}"), "the list's loop stopped");
                                }
                            }
                            .instrument(span),
                        ),
                    );
                    started.push(row.name);
                }
                if !started.is_empty() {
                    tracing::info!(lists = %started.join(", "), "serving");
                }
            }
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "could not look for new lists; trying again");
            }
        }
        let tick = tokio::time::sleep(RESCAN);
        tokio::select! {
            () = tick => {}
            _ = stop.changed() => {}
            () = woken(socket.as_ref()) => wake.notify_waiters(),
        }
    }
    for (_, task) in running {
        let _ = task.await;
    }
    tracing::info!("embargo serve stopped");
    Ok(())
}

/// Binds the wake socket the CLI pokes after adding work. Without it the
/// loops still notice work within a second.
fn bind_wake(database: &std::path::Path) -> Option<WakeSocket> {
    match WakeSocket::bind(database) {
        Ok(socket) => Some(socket),
        Err(err) => {
            tracing::warn!(
                error = %format!("{err:#}"),
                "no wake socket: new work from the CLI is noticed within a second instead of at once"
            );
            None
        }
    }
}

/// Returns when the CLI pokes the wake socket; never without one.
async fn woken(wake: Option<&WakeSocket>) {
    match wake {
        Some(socket) => socket.woken().await,
        None => std::future::pending().await,
    }
}

/// Opens the database for `embargo serve`. When storage is failing (a
/// full disk, an I/O error, a lock held too long, a database server that
/// cannot be reached) it tries again with backoff, logging once per
/// change, until it can or `stop` turns true (then `None`); a database
/// that is missing or unusable fails at once.
pub async fn open_for_serve(
    config: &Config,
    mut stop: watch::Receiver<bool>,
) -> Result<Option<Store>> {
    let mut health = Health::new(config.delivery.alert_after);
    let timeout = Duration::from_millis(config.storage.busy_timeout_ms);
    let location = config.storage.location();
    loop {
        match Store::open(&location, timeout).await {
            Ok(store) => {
                if health.succeeded(Instant::now()).is_some() {
                    tracing::warn!("the list database opens again; starting");
                }
                return Ok(Some(store));
            }
            Err(err) if err.is_storage_fault() => {
                let text = format!("{:#}", anyhow::Error::new(err));
                let after = health.failed(&text, Instant::now());
                if after.log {
                    tracing::error!(
                        database = %location.describe(),
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
            Err(err) => {
                return Err(anyhow::Error::new(err)
                    .context(format!("open the list database {}", location.describe())));
            }
        }
    }
}
