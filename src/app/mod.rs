//! The use cases the CLI, the daemon and inbound mail share.
//!
//! Each public function here is one thing a person does: add a member,
//! confirm one, grant a role. It reads the clock once, asks the domain
//! rules in [`crate::roster::gate`], and makes the change and its audit
//! entry in one store transaction. Permission checks happen here, against
//! an explicit [`Actor`](crate::audit::Actor), never in the CLI.

pub mod advisory;
pub mod advisory_view;
mod binding;
pub mod case_advisory;
pub mod case_desk;
mod case_mail;
mod case_thread;
mod cases;
pub mod clock_guard;
mod commands;
mod crash;
pub mod daemon;
pub mod deliver;
mod digest;
pub mod export;
pub mod health;
pub mod inbound;
pub mod init;
pub mod input;
pub mod instance_report;
pub mod jobs;
pub mod list;
pub mod lists;
pub mod member_mail;
pub mod membership;
pub mod observers;
pub mod outcome;
pub mod progress;
pub mod publish;
pub mod queue;
mod relay;
mod replies;
pub mod reports;
pub mod roster;
pub mod scheduler;
pub mod seal;
pub mod sealing;
mod senders;
pub mod serve;
mod settle;
mod team;

use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::config::Config;
use crate::pgp::CertPolicy;
use crate::store::{SignedKey, Store};

/// An open list: its config, its database and its clock.
pub struct App {
    pub config: Config,
    pub store: Store,
    clock: Box<dyn Clock>,
    /// The signed command being carried out, recorded as done by the
    /// first write transaction of its use case (see [`App::write`]).
    replay: std::sync::Mutex<Option<Replay>>,
    /// What a delivery run could not store (see [`settle::Unsettled`]).
    unsettled: std::sync::Mutex<settle::Unsettled>,
    /// Where long work reports how far it got (nowhere by default).
    progress: std::sync::Arc<dyn progress::Progress>,
    /// The sending workers, shared by every list of a `serve` process
    /// (see [`App::share_senders`]); else started with this app's
    /// `[delivery] concurrency` on its first delivery run.
    senders: std::sync::OnceLock<std::sync::Arc<senders::Senders>>,
    /// What this process knows of the list's scheduler lease (see
    /// `daemon.rs`).
    lease_known: std::sync::Mutex<Option<daemon::Lease>>,
    /// The database's newest recorded instant, read once by `serve` for
    /// all its lists (see [`App::know_newest_instant`]).
    newest_known: std::sync::Mutex<Option<Option<DateTime<Utc>>>>,
}

/// One command of a signed message: the message (who signed, when, over
/// what), the command's position in it, and what the reply will say once
/// it is done.
#[derive(Debug, Clone)]
pub(crate) struct Replay {
    pub signer: String,
    pub signed_at: DateTime<Utc>,
    pub digest: String,
    pub index: usize,
    pub line: String,
    /// Whether a transaction of the use case recorded it already.
    pub recorded: bool,
}

impl Replay {
    /// The message's key in the replay guard.
    pub fn key(&self) -> SignedKey<'_> {
        SignedKey {
            signer: &self.signer,
            signed_at: self.signed_at,
            digest: &self.digest,
        }
    }
}

impl App {
    /// Opens the only list of the instance `config` describes (see
    /// [`App::open_list`] to name one).
    pub async fn open(config: Config, clock: Box<dyn Clock>) -> Result<Self> {
        Self::open_list(config, None, clock).await
    }

    pub(crate) fn with_store(config: Config, store: Store, clock: Box<dyn Clock>) -> Self {
        Self {
            config,
            store,
            clock,
            replay: std::sync::Mutex::new(None),
            unsettled: std::sync::Mutex::default(),
            progress: std::sync::Arc::new(progress::Quiet),
            senders: std::sync::OnceLock::new(),
            lease_known: std::sync::Mutex::new(None),
            newest_known: std::sync::Mutex::new(None),
        }
    }

    /// Gives the daemon's start-up clock check the database's newest
    /// recorded instant, read once for every list of a `serve` process
    /// (it spans the whole database; reading it per list costs a scan of
    /// every table per list).
    pub fn know_newest_instant(&self, newest: Option<DateTime<Utc>>) {
        if let Ok(mut slot) = self.newest_known.lock() {
            *slot = Some(newest);
        }
    }

    /// Makes this app send through `senders`, shared with the other
    /// lists of the process, so a daemon serving many lists keeps to one
    /// `[delivery] concurrency` (and as many connections) in all.
    pub fn share_senders(&self, senders: std::sync::Arc<senders::Senders>) {
        // Set once, before the app's first delivery run.
        let _ = self.senders.set(senders);
    }

    /// The sending workers (started on first use).
    fn senders(&self) -> std::sync::Arc<senders::Senders> {
        self.senders
            .get_or_init(|| senders::Senders::start(self.config.delivery.concurrency))
            .clone()
    }

    /// The current instant, from the injected clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Starts a write transaction. When a signed command is being carried
    /// out, the first transaction of its use case records it as done, so
    /// the command's effect and that record commit (or roll back) together
    /// and a retried message never does it twice.
    pub(crate) async fn write(&self, now: DateTime<Utc>) -> Result<crate::store::WriteTx> {
        let mut tx = self.store.write(now).await?;
        // Only the first transaction records it: the slot stays, marked,
        // so the caller can tell whether the use case wrote at all.
        let pending = self.replay.lock().ok().and_then(|mut slot| {
            slot.as_mut()
                .filter(|replay| !replay.recorded)
                .map(|replay| {
                    replay.recorded = true;
                    replay.clone()
                })
        });
        if let Some(replay) = pending {
            commands::record_or_conflict(&mut tx, &replay.key(), replay.index, false, &replay.line)
                .await?;
        }
        Ok(tx)
    }

    /// Reports long work (sealing) to `hook` from now on.
    pub fn set_progress(&mut self, hook: std::sync::Arc<dyn progress::Progress>) {
        self.progress = hook;
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
