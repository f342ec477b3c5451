//! Sending what is due: claim, check, send, record.
//!
//! One claimer takes due copies from the outbox in batches (one atomic
//! update each, with a lease) and hands each batch to the process's
//! sending workers ([`super::senders`], shared by every list a daemon
//! serves), and one recorder writes the outcomes in batches (one
//! transaction per batch, each completion naming its lease generation).
//! A copy whose member left since sealing is dropped; one whose key
//! changed since is checked again and missed if it can no longer be used.
//! Nothing is claimed before its instant: the claim itself compares with
//! the clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

use super::App;
use super::crash::{CRASH_AFTER_CLAIM, CRASH_AFTER_RECORD, CrashPoints};
use super::outcome::Tally;
use super::senders::{Job, Run, Senders};
use crate::compose::Kind;
use crate::mail::{SmtpTarget, Transport};
use crate::roster::Status;
use crate::store::{Claimed, Completion, DeliveryState};

/// Where one run's claimed copies go.
struct Dispatch<'a> {
    senders: &'a Senders,
    run: &'a Arc<Run>,
    transport: Arc<Transport>,
    secret: &'a [u8],
}

/// How many copies one claim takes.
const CLAIM_BATCH: u32 = 256;
/// The recorder writes at least this often while copies complete.
const RECORD_EVERY: Duration = Duration::from_millis(100);
const RECORD_BATCH: usize = 500;

impl App {
    /// Where mail goes: the `[smtp]` server, else the maildir.
    pub fn transport(&self) -> Result<Transport> {
        let delivery = &self.config.delivery;
        Ok(match &self.config.smtp {
            Some(smtp) => {
                let credentials = match &smtp.username {
                    Some(user) => {
                        let password = smtp
                            .password
                            .load()
                            .context("read the SMTP password")?
                            .context("[smtp] username is set but no password is configured")?;
                        Some((user.clone(), password))
                    }
                    None => None,
                };
                Transport::Smtp(SmtpTarget {
                    host: smtp.host.clone(),
                    port: smtp.port,
                    tls: smtp.tls,
                    credentials,
                    timeout: delivery.timeout,
                    hello: self.config.list.address.domain().to_owned(),
                })
            }
            None => Transport::Maildir(delivery.maildir.clone()),
        })
    }

    /// The envelope sender for one copy: the list's bounce address with
    /// the delivery id and its token, so a bounce names the copy it is
    /// about and cannot be forged.
    fn envelope_from(&self, secret: &[u8], delivery: i64) -> String {
        let address = &self.config.list.address;
        crate::inbound::verp::address(address.local_part(), address.domain(), secret, delivery)
    }

    /// Sends every copy that is due now, until none is left or `stop`
    /// turns true. With `only_kind`, only copies of that kind (maintainer
    /// reports while the clock is suspect).
    pub async fn deliver_due(
        self: &Arc<Self>,
        transport: &Transport,
        stop: watch::Receiver<bool>,
        only_kind: Option<Kind>,
    ) -> Result<Tally> {
        self.settle_earlier().await?;
        // Most passes of a daemon's lists find nothing due: one read
        // answers that, without a write transaction or a worker. (A copy
        // whose turn comes is at or after the earliest `next_attempt_at`.)
        let now = self.now();
        if self.store.next_due().await?.is_none_or(|next| next > now) {
            return Ok(Tally::default());
        }
        let result = self.deliver_run(transport, stop, only_kind).await;
        if result.is_err() {
            // Copies claimed but never handed to a worker may still be
            // `sending`; the next run returns them to the queue.
            self.unsettled().orphans = true;
        }
        result
    }

    async fn deliver_run(
        self: &Arc<Self>,
        transport: &Transport,
        mut stop: watch::Receiver<bool>,
        only_kind: Option<Kind>,
    ) -> Result<Tally> {
        transport.prepare().context("prepare the maildir")?;
        let crash = Arc::new(CrashPoints::from_env());
        let record_failed = Arc::new(AtomicBool::new(false));
        let secret = self.bounce_secret().await?;
        let senders = self.senders();
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Completion>();
        // The run's outcomes reach the recorder until the last of its
        // copies is sent (each job holds the run).
        let run = senders.run(crash.clone(), done_tx);

        let recorder = {
            let app = self.clone();
            let crash = crash.clone();
            let record_failed = record_failed.clone();
            tokio::spawn(async move {
                let mut tally = Tally::default();
                let mut pending: Vec<Completion> = Vec::new();
                let mut failure: Option<anyhow::Error> = None;
                loop {
                    let closed = tokio::select! {
                        received = done_rx.recv() => match received {
                            Some(completion) => { pending.push(completion); false }
                            None => true,
                        },
                        () = tokio::time::sleep(RECORD_EVERY), if !pending.is_empty() => false,
                    };
                    while pending.len() < RECORD_BATCH {
                        match done_rx.try_recv() {
                            Ok(completion) => pending.push(completion),
                            Err(_) => break,
                        }
                    }
                    if !pending.is_empty() {
                        let batch = std::mem::take(&mut pending);
                        // Once a batch could not be stored, the rest of
                        // this run's outcomes wait in memory with it: the
                        // copies were sent and must not be sent again.
                        let stored = match failure {
                            Some(_) => false,
                            None => match app.record(&batch).await {
                                Ok(()) => true,
                                Err(err) => {
                                    record_failed.store(true, Ordering::Relaxed);
                                    failure = Some(err);
                                    false
                                }
                            },
                        };
                        if stored {
                            for completion in &batch {
                                tally.count(completion);
                            }
                            crash.reach(CRASH_AFTER_RECORD, batch.len() as u64);
                        } else {
                            app.unsettled().completions.extend(batch);
                        }
                    }
                    if closed {
                        return match failure {
                            None => anyhow::Ok(tally),
                            Some(err) => Err(err.context(
                                "record how copies ended (kept in memory and stored before anything else is sent)",
                            )),
                        };
                    }
                }
            })
        };

        let claimed_result = self
            .claim_and_dispatch(
                &Dispatch {
                    senders: &senders,
                    run: &run,
                    transport: Arc::new(transport.clone()),
                    secret: &secret,
                },
                &mut stop,
                only_kind,
                &record_failed,
            )
            .await;
        drop(run);
        // Every outcome is stored or kept in memory before anything can
        // fail here: the next run's sweep must not see them as orphans.
        let recorded = recorder.await.context("the recorder stopped")?;
        let mut tally = recorded?;
        tally.add(claimed_result?);
        Ok(tally)
    }

    /// Claims due copies in batches and hands them to the workers; copies
    /// that must not go (member gone, key now unusable) are settled here.
    async fn claim_and_dispatch(
        self: &Arc<Self>,
        to: &Dispatch<'_>,
        stop: &mut watch::Receiver<bool>,
        only_kind: Option<Kind>,
        record_failed: &AtomicBool,
    ) -> Result<Tally> {
        let mut tally = Tally::default();
        loop {
            // Nothing more is claimed once outcomes cannot be stored.
            if *stop.borrow() || record_failed.load(Ordering::Relaxed) {
                break;
            }
            let now = self.now();
            let lease_until = now + self.config.delivery.lease;
            let claimed = {
                let mut tx = self.store.write(now).await?;
                let claimed = tx.claim(now, lease_until, CLAIM_BATCH, only_kind).await?;
                tx.commit().await?;
                claimed
            };
            if claimed.is_empty() {
                break;
            }
            to.run.crash.reach(CRASH_AFTER_CLAIM, 1);
            let (go, settled) = self.recheck(claimed, now).await?;
            if !settled.is_empty() {
                if let Err(err) = self.record(&settled).await {
                    self.unsettled().completions.extend(settled);
                    return Err(err);
                }
                for completion in &settled {
                    tally.count(completion);
                }
            }
            let jobs = go
                .into_iter()
                .map(|claimed| Job {
                    app: self.clone(),
                    transport: to.transport.clone(),
                    envelope_from: self.envelope_from(to.secret, claimed.id),
                    claimed,
                    run: to.run.clone(),
                })
                .collect();
            to.senders.submit(jobs);
            // The next batch is claimed once this one is nearly in the
            // workers' hands; on a stop, the copies not yet started go back.
            let stopped = tokio::select! {
                () = to.run.drained() => false,
                _ = stop.changed() => true,
            };
            if stopped || *stop.borrow() {
                let rest: Vec<(i64, i64)> = to
                    .senders
                    .withdraw(to.run)
                    .iter()
                    .map(|c| (c.id, c.lease_gen))
                    .collect();
                if !rest.is_empty() {
                    let mut tx = self.store.write(self.now()).await?;
                    tx.release(&rest).await?;
                    tx.commit().await?;
                }
                break;
            }
        }
        Ok(tally)
    }

    /// The check at the instant: is the member still active, and can
    /// their key (if it changed since sealing) still be used?
    async fn recheck(
        &self,
        claimed: Vec<Claimed>,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Claimed>, Vec<Completion>)> {
        let mut go = Vec::with_capacity(claimed.len());
        let mut settled = Vec::new();
        let policy = self.cert_policy();
        for copy in claimed {
            let settle = |state, reply: String| Completion {
                id: copy.id,
                lease_gen: copy.lease_gen,
                state,
                next_attempt_at: None,
                reply,
                attempted: false,
            };
            match (&copy.member_status, copy.member_id) {
                // A pending member only ever has their confirmation mail
                // queued; a suspended or removed one gets nothing more.
                (Some(status @ (Status::Suspended | Status::Removed)), _) => {
                    settled.push(settle(
                        DeliveryState::Dropped,
                        format!("not sent: the member is {status}"),
                    ));
                    continue;
                }
                (_, Some(member))
                    if copy.cert_version_sealed.is_some()
                        && copy.cert_version_now != copy.cert_version_sealed =>
                {
                    let cert = self.store.member_cert(member).await?;
                    if let Err(reason) = crate::pgp::check_encryptable(&cert, &policy, now, now) {
                        settled.push(settle(
                            DeliveryState::Missed,
                            format!("key unusable since sealing: {reason}"),
                        ));
                        continue;
                    }
                }
                _ => {}
            }
            go.push(copy);
        }
        Ok((go, settled))
    }

    async fn record(&self, batch: &[Completion]) -> Result<()> {
        let mut tx = self.store.write(self.now()).await?;
        tx.complete(batch).await?;
        tx.commit().await?;
        Ok(())
    }
}
