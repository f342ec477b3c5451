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
pub mod inbound;
pub mod init;
pub mod outbox;
pub mod queue;
pub mod roster;
pub mod seal;
pub mod sealing;

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
    /// A signed command's replay key, recorded by the first write
    /// transaction of the command it authorises (see [`App::write`]).
    replay: std::sync::Mutex<Option<Replay>>,
}

/// What makes a signed command unique: who signed, when, over what.
#[derive(Debug, Clone)]
pub(crate) struct Replay {
    pub signer: String,
    pub signed_at: DateTime<Utc>,
    pub digest: String,
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
            replay: std::sync::Mutex::new(None),
        })
    }

    /// The current instant, from the injected clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Starts a write transaction. When a signed command is being carried
    /// out, its replay key is written first, so the command's effect and
    /// the record that its signature was used commit together.
    pub(crate) async fn write(&self, now: DateTime<Utc>) -> Result<crate::store::WriteTx> {
        let mut tx = self.store.write(now).await?;
        let pending = self.replay.lock().ok().and_then(|mut slot| slot.take());
        if let Some(replay) = pending {
            tx.record_signature(&replay.signer, replay.signed_at, &replay.digest)
                .await?;
        }
        Ok(tx)
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
