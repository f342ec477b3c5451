//! The use cases the CLI (and later the daemon and inbound mail) share.
//!
//! Each public function here is one thing a person does: add a member,
//! confirm one, grant a role. It reads the clock once, asks the domain
//! rules in [`crate::roster::gate`], and makes the change and its audit
//! entry in one store transaction. Permission checks happen here, against
//! an explicit [`Actor`](crate::audit::Actor), never in the CLI.

pub mod advisory;
pub mod daemon;
pub mod deliver;
pub mod init;
pub mod outbox;
pub mod queue;
pub mod roster;
pub mod seal;

use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::config::Config;
use crate::pgp::CertPolicy;
use crate::store::Store;

/// An open list: its config, its database and its clock.
pub struct App {
    pub config: Config,
    pub store: Store,
    clock: Box<dyn Clock>,
}

impl App {
    /// Opens the list described by `config`.
    pub async fn open(config: Config, clock: Box<dyn Clock>) -> Result<Self> {
        let store = Store::open(&config.storage.database, busy_timeout(&config))
            .await
            .context("open the list database")?;
        Ok(Self {
            config,
            store,
            clock,
        })
    }

    /// The current instant, from the injected clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The certificate policy from the config.
    pub fn cert_policy(&self) -> CertPolicy {
        cert_policy(&self.config)
    }

    /// Closes the database and checkpoints the WAL into the main file.
    ///
    /// Short-lived CLI commands do not call this: every commit is already
    /// durable in the WAL (`synchronous=FULL`), and a checkpoint on close
    /// costs three more fsyncs per command. SQLite checkpoints on its own
    /// once the WAL reaches 1,000 pages.
    pub async fn close(self) {
        self.store.close().await;
    }

    /// Ends a short-lived command without a checkpoint (see [`App::close`]).
    pub fn finish(self) {
        drop(self);
    }
}

fn busy_timeout(config: &Config) -> Duration {
    Duration::from_millis(config.storage.busy_timeout_ms)
}

fn cert_policy(config: &Config) -> CertPolicy {
    CertPolicy {
        min_rsa_bits: config.members.min_rsa_bits,
    }
}
